#!/usr/bin/env python3
"""schemathesis against the API, fed by the OpenAPI document it serves (scripts/fuzz.sh).

1. Starts a local gateway of its own (tests/pyharness/localgw.py; DYNAMODB_ENDPOINT is used when
   set), or uses BASE_URL when that is set (e.g. a deployed stage).
2. Reads GET /openapi.json (kept in .local/fuzz/openapi.json), signs up a user through
   POST /users and checks that it can log in.
3. Runs `schemathesis run` on every operation with every check but one (see CHECKS),
   authenticated as that user (tests/fuzz/schemathesis.toml), a fixed seed and
   FUZZ_MAX_EXAMPLES test cases per operation and phase. Reports: .local/fuzz/junit.xml and
   the full log .local/fuzz/schemathesis.log.
4. Prints schemathesis's own summary (operations, test cases, failures with curl reproductions)
   and exits with its exit code: any finding fails `make test`.

Environment: FUZZ_MAX_EXAMPLES (default 300: about 2 minutes on 2 cores, one worker), FUZZ_SEED (default
20261121), FUZZ_WORKERS (default 1), BASE_URL. Extra arguments go to `schemathesis run` as they are.
"""
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pyharness"))
import localgw  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = localgw.ROOT / ".local" / "fuzz"

# Every check schemathesis has, but one: a finding is a bug to report (in the code or in the
# OpenAPI document), not a check to switch off.
CHECKS = "all"
# Excluded: `unsupported_method` wants 405 for a method the document does not list on a path
# (it sends e.g. TRACE /posts). API Gateway's REST API cannot tell an undeclared method from an
# unknown path (both are its MISSING_AUTHENTICATION_TOKEN), so the API answers that case with
# 404 {"detail": "Not Found"} on purpose, as the contract allows (docs/api.md, "wrong method"). The 405s that do come back are still checked (`allow_header_conformance`).
EXCLUDED_CHECKS = "unsupported_method"


def main() -> int:
    max_examples = os.environ.get("FUZZ_MAX_EXAMPLES", "300")
    seed = os.environ.get("FUZZ_SEED", "20261121")
    # One worker: with two threads, hypothesis parses lambda sources concurrently and this
    # machine's CPython 3.11.7 then fails at random with "SystemError: AST constructor recursion
    # depth mismatch" (a CPython bug fixed in later releases), an error of the tool, not a
    # finding. Seen in 2 of 2 runs with two workers at seeds 1 and 2; 600 examples take ~2.5 min.
    workers = os.environ.get("FUZZ_WORKERS", "1")
    OUT.mkdir(parents=True, exist_ok=True)
    gateway = None
    base_url = os.environ.get("BASE_URL", "").rstrip("/")
    started = time.monotonic()
    try:
        if not base_url:
            # schemathesis sends hundreds of failed logins from one address (127.0.0.1), and
            # the per-address limit (100 per 15 minutes) would soon answer every login from it
            # with 429, its own OAuth2 login included (it logs in again after any 401). So that
            # one limit is lifted here; the per-account limits keep their production values,
            # and the 429s they give (generated usernames repeat) are checked like any answer.
            gateway = localgw.LocalGateway(
                "fuzz", env={"LOGIN_MAX_FAILURES_PER_SOURCE": "1000000"}).start()
            base_url = gateway.base_url
        spec = localgw.require_docs(base_url)
        (OUT / "openapi.json").write_text(json.dumps(spec, indent=2))
        ops = sum(1 for item in spec.get("paths", {}).values() for method in item
                  if method in ("get", "put", "post", "delete", "patch", "head", "options"))
        email, password, _ = localgw.new_user(base_url, "fuzz")
        localgw.login(base_url, email, password)  # fail here, clearly, if login is broken
        print(f"fuzz: {base_url}, {ops} operations in /openapi.json, user {email}, "
              f"max {max_examples} examples per operation, seed {seed}", flush=True)

        schemathesis = Path(sys.executable).parent / "schemathesis"
        cmd = [
            str(schemathesis), "--config-file", str(HERE / "schemathesis.toml"), "--no-color",
            "run", f"{base_url}/openapi.json", "--url", base_url,
            "--checks", CHECKS, "--exclude-checks", EXCLUDED_CHECKS,
            "--max-examples", max_examples, "--seed", seed, "--workers", workers,
            "--generation-database", "none",
            # API Gateway's integration timeout: a slower answer is a failure too.
            "--request-timeout", "29",
            "--report", "junit", "--report-junit-path", str(OUT / "junit.xml"),
            # A local run's user and tokens are throwaway: show them, so that every printed curl
            # reproduces its failure as it is. Against BASE_URL, keep them out of the logs.
            "--output-sanitize", "true" if os.environ.get("BASE_URL") else "false",
            *sys.argv[1:],
        ]
        # hooks.py teaches schemathesis the passwords' byte limit (see there).
        env = dict(os.environ, FUZZ_USERNAME=email, FUZZ_PASSWORD=password,
                   SCHEMATHESIS_TELEMETRY="false", SCHEMATHESIS_HOOKS="hooks",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
        log_path = OUT / "schemathesis.log"
        with open(log_path, "w") as log:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=subprocess.STDOUT, env=env, cwd=OUT)
        text = log_path.read_text(errors="replace")
        print(summary(text, proc.returncode), end="")
        counts = junit_counts(OUT / "junit.xml")
        if counts:
            # One line per test suite in the `N passed, N failed` form CI's summary reads: one
            # test per operation, plus one for the stateful phase.
            print(f"schemathesis: {counts[0]} passed, {counts[1]} failed")
        print(f"fuzz: schemathesis exited {proc.returncode} after "
              f"{time.monotonic() - started:.0f} s; full log {log_path}, "
              f"JUnit {OUT / 'junit.xml'}", flush=True)
        if proc.returncode != 0 and gateway is not None:
            print(f"fuzz: gateway log {gateway.log_path}")
        return proc.returncode
    finally:
        if gateway is not None:
            gateway.stop()


def junit_counts(path: Path):
    """(passed, failed) test cases of schemathesis's JUnit report, or None without one."""
    try:
        suites = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    cases = suites.findall(".//testcase")
    failed = sum(1 for c in cases if c.find("failure") is not None or c.find("error") is not None)
    skipped = sum(1 for c in cases if c.find("skipped") is not None)
    return len(cases) - failed - skipped, failed


def summary(text: str, code: int) -> str:
    """schemathesis's output from its first phase on (per-phase counts, failures with curl
    reproductions, summary); the header (schema loaded, API capabilities) stays in the log."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if re.search(r"(Examples|Coverage|Fuzzing|Stateful) \(in ", line):
            return "".join(lines[i:])
    return text


if __name__ == "__main__":
    sys.exit(main())
