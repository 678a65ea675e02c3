"""Python twin of tests/harness/lib.rs: one local gateway for a Python test run.

Used by the browser test (tests/browser) and the schemathesis run (tests/fuzz). Stdlib only.

- Starts `target/debug/local_gateway` (built by `cargo build --workspace --bins`; override the
  folder with API_TESTS_BIN_DIR) on a free port, with a table of its own, bcrypt cost 4, a random
  JWT secret and the stage throttling lifted. DYNAMODB_ENDPOINT (exported by scripts/test.sh) is
  passed on; without it the gateway starts its own DynamoDB Local, in memory.
- Stopping: the gateway runs under the same `sh` watchdog as the Rust harness. The watchdog's
  stdin is a pipe only this process holds; when this process ends, however it ends (exit,
  exception, Ctrl-C, SIGKILL), the pipe closes and the watchdog kills the gateway's whole process
  group (functions and DynamoDB Local included). `stop()` does the same at once and waits.
- The gateway's output goes to `.local/test-runs/<name>-<pid>/gateway.log`.
"""
import json
import os
import secrets
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Same script as tests/harness/lib.rs WATCHDOG (see the comments there).
WATCHDOG = r"""
if command -v setsid >/dev/null 2>&1; then
  setsid "$@" </dev/null &
else
  "$@" </dev/null &
fi
gw=$!
exec >/dev/null
trap '' INT TERM HUP
while read -r _; do :; done
kill -TERM -"$gw" 2>/dev/null || kill -TERM "$gw" 2>/dev/null
i=0
while [ "$i" -lt 50 ] && kill -0 "$gw" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
kill -KILL -"$gw" 2>/dev/null || kill -KILL "$gw" 2>/dev/null
"""


def bin_dir() -> Path:
    if os.environ.get("API_TESTS_BIN_DIR"):
        return Path(os.environ["API_TESTS_BIN_DIR"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not target.is_absolute():
        target = ROOT / target
    return target / "debug"


class LocalGateway:
    def __init__(self, name: str, bcrypt_cost: int = 4, startup_timeout: float = 180,
                 env: dict = None):
        """`env`: more environment for every function (the --env-vars file's "Parameters")."""
        self.name = name
        self.env = dict(env or {})
        self.work_dir = ROOT / ".local" / "test-runs" / f"{name}-{os.getpid()}"
        self.log_path = self.work_dir / "gateway.log"
        self.bcrypt_cost = bcrypt_cost
        self.startup_timeout = startup_timeout
        self.jwt_secret = secrets.token_urlsafe(36)
        self.base_url = None
        self._proc = None

    def start(self) -> "LocalGateway":
        gateway = bin_dir() / "local_gateway"
        if not gateway.is_file():
            raise RuntimeError(f"{gateway} is missing: run `cargo build --workspace --bins` first")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        env_vars = self.work_dir / "env.json"
        parameters = {"BCRYPT_COST": str(self.bcrypt_cost), **self.env}
        env_vars.write_text(json.dumps({"Parameters": parameters}))
        table = f"{self.name}-{os.getpid()}-{secrets.token_hex(4)}"
        cmd = [
            "sh", "-c", WATCHDOG, "local-gateway-watchdog", str(gateway),
            "--template", str(ROOT / "template.yaml"),
            "--port", "0", "--bin-dir", str(bin_dir()), "--table-name", table,
            "--env-vars", str(env_vars), "--in-memory",
            "--parameter-overrides", "ThrottlingRateLimit=100000", "ThrottlingBurstLimit=100000",
        ]
        self.log_path.write_text("")
        log = open(self.log_path, "a")  # append: the gateway writes stderr to it too
        self._proc = subprocess.Popen(
            cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
            env=dict(os.environ, JWT_SECRET=self.jwt_secret), text=True)
        found = {}

        def drain():
            # Read the ready line, then keep the pipe empty so the gateway never blocks on it.
            for line in self._proc.stdout:
                log.write(line)
                log.flush()
                if "API listening on " in line and "url" not in found:
                    found["url"] = line.split("API listening on ", 1)[1].strip().rstrip("/")

        threading.Thread(target=drain, daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout
        while "url" not in found:
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"local gateway did not start; see {self.log_path}:\n"
                                   + self.log_tail())
            time.sleep(0.05)
        self.base_url = found["url"]
        return self

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self._proc is None:
            return
        try:
            self._proc.stdin.close()  # EOF: the watchdog kills the gateway's process group
        except OSError:
            pass
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        self._proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def request(base_url, method, path, body=None, token=None, form=False, timeout=30):
    """One HTTP call: (status, headers, parsed JSON or raw text)."""
    headers, data = {}, None
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["content-type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base_url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, hdrs, raw = r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, raw = e.code, dict(e.headers), e.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, hdrs, json.loads(text)
    except ValueError:
        return status, hdrs, text


def new_user(base_url, prefix="pytest"):
    """Signs up a fresh user through the API: (email, password, user JSON)."""
    email = f"{prefix}-{secrets.token_hex(5)}@example.com"
    password = "pw-" + secrets.token_urlsafe(12)
    status, _, user = request(base_url, "POST", "/users", {"email": email, "password": password})
    if status != 201:
        raise RuntimeError(f"POST /users answered {status}: {user}")
    return email, password, user


def login(base_url, email, password):
    status, _, body = request(base_url, "POST", "/login",
                              {"username": email, "password": password}, form=True)
    if status != 200:
        raise RuntimeError(f"POST /login answered {status}: {body}")
    return body["access_token"]


def require_docs(base_url):
    """Fails with a clear message when the gateway serves no /openapi.json (no docs function)."""
    status, _, body = request(base_url, "GET", "/openapi.json")
    if status != 200 or not isinstance(body, dict) or "openapi" not in body:
        raise RuntimeError(f"GET /openapi.json answered {status} ({str(body)[:200]}): "
                           "the docs function is missing from template.yaml or the build")
    return body
