#!/usr/bin/env python3
"""What AWS bills, per function, measured locally (make bench). Stdlib only; Linux (/proc).

Every figure is printed next to the same figure for `root` (a Rust Lambda that does nothing)
as a ratio, so results compare across machines. See docs/performance.md for what each figure
is measured from, and the cost model.

Environment:
  N=500            warm invocations per cheap function (CPU per invocation: total / N)
  BCRYPT_N=5       warm invocations of create_user and login (bcrypt cost 12: ~0.25 s each)
  COLD_RUNS=15     cold starts per function (median)
  BIN_DIR=target/release   the function binaries (and local_gateway) to run
  ZIPS=1           build the deployable zips first (cargo lambda, arm64 and x86_64: slow)
  DDB_LATENCY_MS=4 assumed in-region DynamoDB round trip, for the cost model
  CACHE_HIT=0      authorizer cache-hit ratio, for the cost model
  ONLY=a,b         measure only these functions (root is always measured)
  BASELINE_URL=http://host:port [BASELINE_PID=pid] [HTTP_N=200]
                   also run the same per-route HTTP load against another server, side by side
  OUT=target/bench/results.json
  COMMIT=<sha>     the commit the binaries were built from, when not HEAD (for the label)

scripts/bench/run.py --report target/bench/results.json   prints the tables of a saved run.
"""
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cost  # noqa: E402
import ddbproxy  # noqa: E402
import fakeruntime  # noqa: E402
import httpload  # noqa: E402
import procstat  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
os.chdir(ROOT)
N = int(os.environ.get("N", "500"))
BCRYPT_N = int(os.environ.get("BCRYPT_N", "5"))
COLD_RUNS = int(os.environ.get("COLD_RUNS", "15"))
WARMUP = 20
BIN_DIR = os.path.abspath(os.environ.get("BIN_DIR", "target/release"))
OUT = os.environ.get("OUT", "target/bench/results.json")
DDB_LATENCY_MS = float(os.environ.get("DDB_LATENCY_MS", "4"))
CACHE_HIT = float(os.environ.get("CACHE_HIT", "0"))

FUNCTIONS = ["root", "docs", "get_user", "get_post", "list_posts", "authorizer", "update_post",
             "patch_post", "vote", "create_post", "delete_post", "refresh_token", "logout",
             "create_user", "login"]
BCRYPT = {"create_user", "login"}
# Targets of the issue (printed with a mark, never asserted): CPU ratio to root.
CPU_TARGET = {"get_user": 2.0, "get_post": 2.0, "list_posts": 3.0, "authorizer": 2.0}
ROOT_CPU_TARGET_MS = 0.15
COLD_TARGET = 1.5       # cold start of a DynamoDB function / root's
FIRST_TARGET = 3.0      # first request after a cold start / a warm one
ZIP_TARGET_MB = {"root": 1.5}
ZIP_TARGET_DDB_MB = 3.5
NO_DYNAMODB = {"root", "docs"}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def load_event(name):
    with open(f"events/{name}.json") as f:
        return json.load(f)


# ---------------------------------------------------------------------------------------------
# Processes: DynamoDB Local, the counting proxy, seed, the gateway.

class Stack:
    def __init__(self):
        self.procs = []
        os.makedirs("target/bench", exist_ok=True)
        self.gw_log = open("target/bench/gateway.log", "w")
        lg = os.path.join(BIN_DIR, "local_gateway")
        self.lg = lg if os.path.exists(lg) else "target/debug/local_gateway"
        ddb = self._spawn([self.lg, "dynamodb", "--in-memory", "--port", "0"])
        self.ddb_url = self._wait_line(ddb, "DynamoDB Local listening on ").split()[-1]
        self.proxy = ddbproxy.CountingProxy(self.ddb_url)
        subprocess.run([self.lg, "seed", "--dynamodb-endpoint", self.proxy.url], check=True,
                       stdout=subprocess.DEVNULL, stderr=self.gw_log)
        self.gw = self._spawn([
            self.lg, "--port", "0", "--lambda-port", "0", "--bin-dir", BIN_DIR,
            "--dynamodb-endpoint", self.proxy.url, "--env-vars", "sam-local-env.json",
            "--max-instances", "1", "--parameter-overrides",
            "ThrottlingRateLimit=100000", "ThrottlingBurstLimit=100000",
            "LoginMaxFailuresPerAccountSource=0", "LoginMaxFailuresPerAccount=0",
            "LoginMaxFailuresPerSource=0"])
        self.api = self.invoke_url = None
        while not (self.api and self.invoke_url):
            line = self._wait_line(self.gw, "")
            if line.startswith("API listening on "):
                self.api = line.split()[-1]
            elif line.startswith("Lambda invoke API listening on "):
                self.invoke_url = line.split()[-1]
        threading.Thread(target=lambda: [None for _ in self.gw.stdout], daemon=True).start()

    def _spawn(self, argv):
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.gw_log, text=True,
                             stdin=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    @staticmethod
    def _wait_line(p, prefix):
        for line in p.stdout:
            if line.startswith(prefix):
                return line.strip()
        sys.exit(f"{p.args[0]} {p.args[1]} stopped before printing {prefix!r}; "
                 "see target/bench/gateway.log")

    def invoke(self, fn, event):
        """One invocation through the Invoke API: (wall ms, parsed answer)."""
        req = urllib.request.Request(
            f"{self.invoke_url}/2015-03-31/functions/{fn}/invocations",
            data=json.dumps(event).encode(), method="POST")
        t = time.perf_counter()
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
            failed = r.headers.get("x-amz-function-error")
        ms = (time.perf_counter() - t) * 1000
        answer = json.loads(body)
        if failed:
            raise RuntimeError(f"{fn}: function error {answer}")
        return ms, answer

    def pid_of(self, fn):
        exe = os.path.realpath(os.path.join(BIN_DIR, fn))
        pids = [p for p, e in procstat.children(self.gw.pid).items()
                if os.path.realpath(e.replace(" (deleted)", "")) == exe]
        if len(pids) != 1:
            raise RuntimeError(f"{fn}: {len(pids)} instances running, expected 1")
        return pids[0]

    def close(self):
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        self.proxy.close()


# ---------------------------------------------------------------------------------------------
# The events: each function's sample event, changed per call so every call takes the same,
# successful path (docs/performance.md lists the path measured for each).

class Events:
    def __init__(self, stack):
        self.s = stack
        self.i = 0
        self.votes = 0
        self.sessions = []       # refresh tokens of fresh sessions (for logout)
        self.refresh = None      # the current refresh token of the chain (for refresh_token)
        # The fixture user's hash has a low bcrypt cost (seed.rs): login is measured with a user
        # that signed up through create_user, at the template's cost (BcryptCost, 12).
        self.email = f"bench-login-{uuid.uuid4().hex[:8]}@example.com"
        e = load_event("create_user")
        e["body"] = json.dumps({"email": self.email, "password": "correct-horse-battery"})
        _, a = stack.invoke("create_user", e)
        assert a["statusCode"] == 201, a

    def _login(self):
        _, a = self.s.invoke("login", load_event("login"))
        assert a["statusCode"] == 200, a
        return json.loads(a["body"])["refresh_token"]

    def next(self, fn):
        """The event for one call of `fn` and the status it must answer."""
        self.i += 1
        e = load_event(fn)
        if fn == "create_user":
            e["body"] = json.dumps({"email": f"bench-{uuid.uuid4().hex[:12]}@example.com",
                                    "password": "correct-horse-battery"})
            return e, 201
        if fn == "vote":  # 1 then 0: add the vote, take it back (its own count: other
            # functions' calls come in between)
            self.votes += 1
            e["body"] = json.dumps({"post_id": 1, "dir": self.votes % 2})
            return e, 201
        if fn == "delete_post":  # a post made just before by create_post, deleted
            _, a = self.s.invoke("create_post", load_event("create_post"))
            post_id = str(json.loads(a["body"])["id"])
            e["path"] = f"/posts/{post_id}"
            e["pathParameters"] = {"id": post_id}
            e["requestContext"]["path"] = e["requestContext"].get("path", "").replace("/1", "/" + post_id)
            return e, 204
        if fn == "create_post":  # deleted right after (untimed) so list_posts sees one table
            return e, 201
        if fn == "refresh_token":  # a chain: each call uses the token the previous one issued
            if self.refresh is None:
                self.refresh = self._login()
            e["body"] = json.dumps({"refresh_token": self.refresh})
            return e, 200
        if fn == "logout":  # a fresh session per call (its login is untimed)
            e["body"] = json.dumps({"refresh_token": self._login()})
            return e, 204
        if fn == "list_posts":  # the plain page the targets name (`GET /posts?limit=10`); the
            # sample event's search is measured by `make bench-scale`, with the reads it makes
            e["queryStringParameters"] = {"limit": "10"}
            e["multiValueQueryStringParameters"] = {"limit": ["10"]}
            return e, 200
        if fn == "authorizer":
            return e, None
        if fn == "login":
            e["body"] = urllib.parse.urlencode({"grant_type": "password", "username": self.email,
                                                "password": "correct-horse-battery"})
            return e, 200
        return e, {"root": 200, "docs": 200, "get_user": 200, "get_post": 200,
                   "list_posts": 200, "update_post": 200, "patch_post": 200}[fn]

    def after(self, fn, answer):
        """Bookkeeping after a call: keeps chains going and the table the same size."""
        if fn == "refresh_token":
            self.refresh = json.loads(answer["body"])["refresh_token"]
        elif fn == "create_post":
            post_id = str(json.loads(answer["body"])["id"])
            e = load_event("delete_post")
            e["path"] = f"/posts/{post_id}"
            e["pathParameters"] = {"id": post_id}
            self.s.invoke("delete_post", e)

    @staticmethod
    def check(fn, answer, status):
        if fn == "authorizer":
            effect = answer["policyDocument"]["Statement"][0]["Effect"]
            if effect != "Allow":
                raise RuntimeError(f"authorizer: {answer}")
        elif answer.get("statusCode") != status:
            raise RuntimeError(f"{fn}: expected {status}, got {answer}")


# ---------------------------------------------------------------------------------------------
# Measurements.

def warm(stack, events, fn):
    """Warm CPU per invocation, DynamoDB calls per invocation, peak RSS, wall times."""
    n = BCRYPT_N if fn in BCRYPT else N
    for _ in range(2 if fn in BCRYPT else WARMUP):
        e, st = events.next(fn)
        _, a = stack.invoke(fn, e)
        events.check(fn, a, st)
        events.after(fn, a)
    pid = stack.pid_of(fn)
    calls, rru, wru, errs = {}, 0.0, 0.0, 0
    cpu = 0
    ticks0 = procstat.cpu_ticks_ns(pid)
    sched0 = procstat.cpu_ns(pid)
    walls = []
    for _ in range(n):
        e, st = events.next(fn)
        c0, r0, w0, e0 = stack.proxy.snapshot()
        s0 = procstat.cpu_ns(pid)
        ms, a = stack.invoke(fn, e)
        s1 = procstat.cpu_ns(pid)
        c1, r1, w1, e1 = stack.proxy.snapshot()
        cpu += s1 - s0
        walls.append(ms)
        for op, k in c1.items():
            if op in ddbproxy.CONTROL_PLANE:
                continue
            d = k - c0.get(op, 0)
            if d:
                calls[op] = calls.get(op, 0) + d
        rru += r1 - r0
        wru += w1 - w0
        errs += e1 - e0
        events.check(fn, a, st)
        events.after(fn, a)
    sched_total = procstat.cpu_ns(pid) - sched0
    ticks_total = procstat.cpu_ticks_ns(pid) - ticks0
    if pid != stack.pid_of(fn):
        raise RuntimeError(f"{fn}: its instance was replaced during the run")
    note = ""
    # Threads that exited during the run are missing from the schedstat sum; /proc/<pid>/stat
    # (10 ms ticks) counts them. Say so when the two disagree by more than a tick's error.
    if ticks_total - sched_total > 20_000_000 + 0.1 * sched_total:
        note = f"schedstat {sched_total/1e6:.0f} ms < stat {ticks_total/1e6:.0f} ms (threads exited?)"
    return {
        "n": n,
        "cpu_ms": cpu / n / 1e6,
        "cpu_ms_whole_run": sched_total / n / 1e6,
        "wall_ms_p50_gateway": statistics.median(walls),
        "ddb_calls": sum(calls.values()) / n,
        "ddb_ops": {op: k / n for op, k in sorted(calls.items())},
        "ddb_errors": errs,
        "rru": rru / n,
        "wru": wru / n,
        "peak_rss_kb": procstat.status_kb(pid, "VmHWM"),
        "threads": len(os.listdir(f"/proc/{pid}/task")),
        "note": note,
    }, pid


def cold(stack, events, fn, env):
    """COLD_RUNS fresh processes behind the fake Runtime API: exec -> first /next, then the
    first invocation, then a few warm ones (wall and CPU), medians."""
    runs = []
    warm_n = 2 if fn in BCRYPT else 10
    for _ in range(COLD_RUNS):
        rt = fakeruntime.FakeRuntime(os.path.join(BIN_DIR, fn), env,
                                     f"arn:aws:lambda:us-east-1:123456789012:function:{fn}")
        try:
            init_ms = rt.start()
            if init_ms is None:
                raise RuntimeError(f"{fn}: no /next within 10 s of exec")
            init_cpu = procstat.cpu_ns(rt.proc.pid) / 1e6
            e, st = events.next(fn)
            first_wall, first_cpu, ok, a = rt.invoke(e)
            if not ok:
                raise RuntimeError(f"{fn}: first invocation failed: {a}")
            events.check(fn, a, st)
            events.after(fn, a)
            ws, wc = [], []
            for _ in range(warm_n):
                e, st = events.next(fn)
                w, c, ok, a = rt.invoke(e)
                events.check(fn, a, st)
                events.after(fn, a)
                ws.append(w)
                wc.append(c)
            runs.append({"init_ms": init_ms, "init_cpu_ms": init_cpu, "first_wall_ms": first_wall,
                         "first_cpu_ms": first_cpu, "warm_wall_ms": statistics.median(ws),
                         "warm_cpu_ms": statistics.median(wc)})
        finally:
            rt.stop()
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def memory_sizes():
    """Each function's MemorySize (Globals, else its own), from template.yaml."""
    text = open("template.yaml").read()
    glob = re.search(r"^Globals:\n(?:.*\n)*?    MemorySize: (\d+)", text, re.M)
    default = int(glob.group(1)) if glob else 128
    sizes = {}
    for m in re.finditer(r"^  ([A-Za-z0-9]+)Function:\n((?:    .*\n|\s*\n)*)", text, re.M):
        own = re.search(r"^      MemorySize: (\d+)", m.group(2), re.M)
        binary = re.search(r"Binary: (\w+)", m.group(2))
        name = binary.group(1) if binary else re.sub(r"(?<!^)([A-Z])", r"_\1", m.group(1)).lower()
        sizes[name] = int(own.group(1)) if own else default
    return sizes


def architecture():
    m = re.search(r"^  Architecture:\n(?:    .*\n)*?    Default: (\w+)", open("template.yaml").read(), re.M)
    return m.group(1) if m else "arm64"


def elf_arch(zip_path):
    try:
        with zipfile.ZipFile(zip_path) as z:
            head = z.open("bootstrap").read(20)
        return {0xB7: "arm64", 0x3E: "x86_64"}.get(int.from_bytes(head[18:20], "little"))
    except (OSError, KeyError, zipfile.BadZipFile):
        return None


def build_zips():
    venv = subprocess.run(["scripts/venv.sh"], check=True, capture_output=True, text=True).stdout.strip()
    env = dict(os.environ, PATH=f"{venv}/bin:" + os.environ["PATH"])
    for arch, flag in (("arm64", "--arm64"), ("x86_64", "--x86-64")):
        log(f"cargo lambda build --release {flag} (ZIPS=1; several minutes)")
        r = subprocess.run(["cargo", "lambda", "build", "--release", flag, "--output-format",
                            "zip", "--lambda-dir", f"target/bench/lambda-{arch}"], env=env)
        if r.returncode:  # e.g. no aarch64 target: `rustup target add aarch64-unknown-linux-gnu`
            log(f"cargo lambda build {flag} failed (exit {r.returncode}); its zips stay 'not built'")


def host_zip_size(path):
    """Size of a deflated zip of one binary (what `cargo lambda build --output-format zip`
    makes of it): an estimate of the x86_64 zip from the host build when none was built."""
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(path, "bootstrap")
    return buf.tell()


def zip_sizes():
    """Newest bootstrap.zip per function and architecture under target/lambda*,
    target/bench/lambda-* (the ELF header inside says which architecture it is)."""
    found = {}
    dirs = ["target/lambda", "target/bench/lambda-arm64", "target/bench/lambda-x86_64"]
    for d in dirs:
        if not os.path.isdir(d):
            continue
        for fn in os.listdir(d):
            z = os.path.join(d, fn, "bootstrap.zip")
            arch = os.path.exists(z) and elf_arch(z)
            if arch:
                key = (fn, arch)
                if key not in found or os.path.getmtime(z) > found[key][1]:
                    found[key] = (os.path.getsize(z), os.path.getmtime(z))
    return {f"{fn}/{arch}": v[0] for (fn, arch), v in found.items()}


# ---------------------------------------------------------------------------------------------
# Output.

def ratio(v, floor):
    return f"{v / floor:5.2f}x" if (v and floor) else ""


def mark(ok):
    return "" if ok is None else ("PASS" if ok else "FAIL")


def table(title, header, rows):
    print(f"\n## {title}\n")
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).rjust(w) if i else str(c).ljust(w)
                                        for i, (c, w) in enumerate(zip(r, widths))) + " |"
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


def report(res):
    fns = [f for f in FUNCTIONS if f in res["warm"]]
    W, C = res["warm"], res["cold"]
    root = W["root"]
    rows = []
    for f in fns:
        w = W[f]
        r = w["cpu_ms"] / root["cpu_ms"]
        if f == "root":
            ok = w["cpu_ms"] <= ROOT_CPU_TARGET_MS
            target = f"<= {ROOT_CPU_TARGET_MS} ms"
        elif f in CPU_TARGET:
            ok, target = r <= CPU_TARGET[f], f"<= {CPU_TARGET[f]:g}x"
        else:
            ok, target = None, ""
        rows.append([f + (" (bcrypt)" if f in BCRYPT else ""), w["n"], f"{w['cpu_ms']:.3f}",
                     ratio(w["cpu_ms"], root["cpu_ms"]), target, mark(ok),
                     f"{w['wall_ms_p50_gateway']:.1f}", w["note"]])
    floor = res.get("sdk_floor")
    if floor:
        # What one function call can never go below: the Lambda runtime's loop (root) plus
        # one read through aws-sdk-dynamodb (measured alone, in a loop, no runtime).
        f_ms = floor["store_read_cpu_ms"]
        rows.append(["(floor) root + 1 SDK read", floor["n"], f"{root['cpu_ms'] + f_ms:.3f}",
                     ratio(root["cpu_ms"] + f_ms, root["cpu_ms"]), "", "", "",
                     f"SDK read alone {f_ms:.3f} ms (examples/sdk_floor)"])
    table("CPU per warm invocation (function process, schedstat of all its threads)",
          ["function", "N", "CPU ms", "x root", "target", "", "wall p50 ms (via gateway)", "note"], rows)

    rows = []
    cr = C["root"]
    for f in fns:
        if f not in C:
            continue
        c = C[f]
        ddb = f not in NO_DYNAMODB
        ok_cold = c["init_ms"] / cr["init_ms"] <= COLD_TARGET if ddb else None
        first_ratio = c["first_wall_ms"] / c["warm_wall_ms"]
        ok_first = first_ratio <= FIRST_TARGET if ddb else None
        rows.append([f, f"{c['init_ms']:.2f}", ratio(c["init_ms"], cr["init_ms"]), mark(ok_cold),
                     f"{c['init_cpu_ms']:.2f}", ratio(c["init_cpu_ms"], cr["init_cpu_ms"]),
                     f"{c['first_wall_ms']:.2f}", f"{c['warm_wall_ms']:.2f}", f"{first_ratio:.2f}x",
                     mark(ok_first), f"{c['first_cpu_ms']:.2f}", f"{c['warm_cpu_ms']:.3f}",
                     f"{c['first_cpu_ms'] / c['warm_cpu_ms']:.2f}x"])
    table(f"Cold start (exec -> first /next, median of {res['cold_runs']}) and the first request after it",
          ["function", "init ms", "x root", f"<= {COLD_TARGET}x", "init CPU ms", "x root",
           "1st wall ms", "warm wall ms", "1st/warm", f"<= {FIRST_TARGET:g}x", "1st CPU ms",
           "warm CPU ms", "1st/warm CPU"], rows)

    rows = []
    S, Z, ZE = res["sizes"], res["zips"], res.get("zips_host_estimate", {})
    for f in fns:
        zt = ZIP_TARGET_MB.get(f, None if f in NO_DYNAMODB else ZIP_TARGET_DDB_MB)
        zcells = []
        for arch in ("arm64", "x86_64"):
            z = Z.get(f"{f}/{arch}")
            zr = Z.get(f"root/{arch}")
            zcells += [f"{z / 1e6:.2f}" if z else "not built", ratio(z, zr) if z and zr else ""]
        zs = [Z.get(f"{f}/{a}") for a in ("arm64", "x86_64")]
        zs = [z for z in zs if z]
        est = not zs and f in ZE
        if est:
            zs = [ZE[f]]
        ok = (max(zs) / 1e6 <= zt) if (zt and zs) else None
        rss = W[f]["peak_rss_kb"]
        rows.append([f, f"{rss / 1024:.1f}", ratio(rss, root["peak_rss_kb"]), W[f]["threads"],
                     f"{S[f] / 1e6:.2f}", ratio(S[f], S["root"]),
                     f"{ZE[f] / 1e6:.2f}" if f in ZE else "", ratio(ZE.get(f), ZE.get("root"))]
                    + zcells + [f"<= {zt} MB" if zt else "", mark(ok) + (" (est.)" if est and ok is not None else "")])
    table("Memory and size (peak RSS = VmHWM after the warm run; sizes in MB = 10^6 bytes; "
          "host zip = the host's release binary deflated, an estimate of the x86_64 zip)",
          ["function", "peak RSS MiB", "x root", "threads", "binary MB", "x root", "host zip MB",
           "x root", "zip arm64 MB", "x root", "zip x86_64 MB", "x root", "target", ""], rows)

    rows = []
    for f in fns:
        w = W[f]
        ops = ", ".join(f"{op} {k:g}" for op, k in w["ddb_ops"].items()) or "-"
        rows.append([f, f"{w['ddb_calls']:g}", ops, f"{w['rru']:g}", f"{w['wru']:g}"])
    table("DynamoDB calls per invocation (counted on the wire; units as DynamoDB Local reports)",
          ["function", "calls", "operations", "RRU", "WRU"], rows)

    k = res["cost"]
    table(f"Estimated cost per million API requests, mix {k['mix_label']} "
          f"(DynamoDB wait {DDB_LATENCY_MS:g} ms/call, authorizer cache hits {CACHE_HIT:.0%}), USD",
          ["component", "arm64", "x86_64"],
          [[c, f"{k['arm64']['components'][c]:.4f}", f"{k['x86_64']['components'][c]:.4f}"]
           for c in k["arm64"]["components"]])
    table("Billed ms and cost per million calls of each route (arm64, authorizer included)",
          ["route", "share", "memory MB", "billed ms", "USD / 1M"],
          [[r, f"{cost.MIX[r]:.0%}", res["memory"][r], v["billed_ms"], f"{v['usd_per_million']:.3f}"]
           for r, v in k["arm64"]["routes"].items()])

    if res.get("baseline"):
        b = res["baseline"]
        rows = []
        for route in b["ours"]:
            o, t = b["ours"][route], b["theirs"].get(route, {})
            rows.append([route, f"{o['p50_ms']:.2f}", f"{t.get('p50_ms', float('nan')):.2f}",
                         f"{o['fn_cpu_ms']:.3f}", f"{o['tree_cpu_ms']:.3f}",
                         f"{t['cpu_ms']:.3f}" if t.get("cpu_ms") is not None else "-",
                         o["errors"], t.get("errors", "-")])
        table(f"Side by side over HTTP: this API through the local gateway vs {b['url']} "
              f"(N={b['n']} per route; CPU per request)",
              ["route", "ours p50 ms", "theirs p50 ms", "ours fn+authz CPU ms",
               "ours gateway+fns CPU ms", "theirs CPU ms", "ours non-2xx", "theirs non-2xx"], rows)


def main():
    if not os.path.exists(os.path.join(BIN_DIR, "root")):
        sys.exit(f"no binaries in {BIN_DIR}: make bench-build")
    if os.environ.get("ZIPS") == "1":
        build_zips()
    only = set(filter(None, os.environ.get("ONLY", "").split(","))) | {"root"}
    fns = [f for f in FUNCTIONS if f in only] if os.environ.get("ONLY") else FUNCTIONS
    res = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "commit": os.environ.get("COMMIT") or subprocess.run(
               ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
           "dirty": not os.environ.get("COMMIT") and bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                        capture_output=True, text=True).stdout.strip()),
           "machine": machine(), "bin_dir": os.path.relpath(BIN_DIR), "n": N, "bcrypt_n": BCRYPT_N,
           "cold_runs": COLD_RUNS, "warm": {}, "cold": {}}
    stack = Stack()
    try:
        events = Events(stack)
        envs = {}
        for f in fns:
            log(f"warm: {f}")
            res["warm"][f], pid = warm(stack, events, f)
            envs[f] = procstat.environ(pid)
        floor = os.path.join(BIN_DIR, "examples", "sdk_floor")
        if "get_user" in envs and os.path.exists(floor):
            log("floor: the store's read in a loop, no Lambda runtime")
            out = subprocess.run([floor], env=dict(envs["get_user"], N=str(max(N, 1000))),
                                 capture_output=True, text=True, check=True, timeout=600)
            res["sdk_floor"] = json.loads(out.stdout)
        for f in fns:
            log(f"cold: {f}")
            res["cold"][f] = cold(stack, events, f, envs[f])
        if os.environ.get("BASELINE_URL"):
            log("baseline: HTTP load")
            res["baseline"] = httpload.side_by_side(stack, os.environ["BASELINE_URL"],
                                                    os.environ.get("BASELINE_PID"),
                                                    int(os.environ.get("HTTP_N", "200")))
    finally:
        stack.close()
    res["sizes"] = {f: os.path.getsize(os.path.join(BIN_DIR, f)) for f in fns}
    res["zips"] = zip_sizes()
    res["zips_host_estimate"] = {f: host_zip_size(os.path.join(BIN_DIR, f)) for f in fns}
    res["memory"] = memory_sizes()
    res["architecture"] = architecture()
    if all(f in res["warm"] for f in list(cost.MIX) + ["authorizer"]):
        res["cost"] = {"mix_label": "80% reads (list 40, get post 30, get user 10), 15% writes "
                                    "(create 4, put 2, patch 2, delete 2, vote 5), 5% logins",
                       "ddb_latency_ms": DDB_LATENCY_MS, "cache_hit": CACHE_HIT,
                       "prices": cost.PRICES}
        for arch in ("arm64", "x86_64"):
            comp, routes = cost.estimate(res["warm"], res["memory"], arch, DDB_LATENCY_MS, CACHE_HIT)
            res["cost"][arch] = {"components": comp, "routes": routes}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    print_header(res)
    if "cost" not in res:
        res["cost"] = None
    report_safe(res)
    print(f"\n(results: {OUT})")


def report_safe(res):
    if not res.get("cost"):
        # Partial run (ONLY=...): no cost table.
        res = dict(res)
        res["cost"] = {"mix_label": "", "arm64": {"components": {}, "routes": {}},
                       "x86_64": {"components": {}, "routes": {}}}
    report(res)


def machine():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": os.uname().release}


def print_header(res):
    print(f"# make bench: {res['date']}, commit {res['commit']}{' (dirty)' if res['dirty'] else ''}, "
          f"{res['machine']['cpu']} ({res['machine']['cores']} cores), binaries {res['bin_dir']}, "
          f"N={res['n']}, bcrypt N={res['bcrypt_n']}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--report"]:  # the tables again, from a results file
        with open(sys.argv[2]) as f:
            saved = json.load(f)
        print_header(saved)
        report_safe(saved)
    else:
        main()
