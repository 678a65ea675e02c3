#!/usr/bin/env python3
"""Latency of every route through the local gateway (make bench).

Starts `target/debug/local_gateway` with an in-memory DynamoDB Local (or uses BASE_URL), warms
every function, then sends N sequential requests per route and prints p50/p95/max in ms. These
are local figures (gateway emulation + DynamoDB Local on loopback + debug binaries): use them to
compare changes, not to predict AWS latency. Stdlib only.
"""
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

N = int(os.environ.get("N", "50"))


def start_gateway():
    env = dict(os.environ, JWT_SECRET=secrets.token_hex(32))
    env_vars = "/tmp/bench-env.json"
    with open(env_vars, "w") as f:
        json.dump({"Parameters": {"BCRYPT_COST": os.environ.get("BCRYPT_COST", "12")}}, f)
    proc = subprocess.Popen(
        ["target/debug/local_gateway", "--port", "0", "--in-memory", "--env-vars", env_vars,
         "--table-name", f"bench-{secrets.token_hex(4)}",
         "--parameter-overrides", "ThrottlingRateLimit=100000", "ThrottlingBurstLimit=100000"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    for line in proc.stdout:
        if line.startswith("API listening on "):
            return proc, line.split()[-1]
    sys.exit("the gateway did not start")


def call(base, method, path, body=None, token=None, form=False):
    data, headers = None, {}
    if body is not None:
        if form:
            data = body.encode()
            headers["content-type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(req) as r:
            status, payload = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, payload = e.code, e.read()
    return (time.perf_counter() - t) * 1000, status, payload


def main():
    proc, base = (None, os.environ["BASE_URL"].rstrip("/")) if "BASE_URL" in os.environ else start_gateway()
    try:
        email = f"bench-{secrets.token_hex(4)}@example.com"
        call(base, "POST", "/users", {"email": email, "password": "benchmark-password"})
        _, _, tok = call(base, "POST", "/login", f"username={email}&password=benchmark-password", form=True)
        token = json.loads(tok)["access_token"]
        _, _, p = call(base, "POST", "/posts", {"title": "bench", "content": "x" * 500}, token)
        post_id = json.loads(p)["id"]
        counter = iter(range(10**9))
        routes = [
            ("GET /", lambda: call(base, "GET", "/")),
            ("GET /users/{id}", lambda: call(base, "GET", "/users/1")),
            ("POST /users", lambda: call(base, "POST", "/users", {"email": f"b{next(counter)}-{email}", "password": "benchmark-password"})),
            ("POST /login", lambda: call(base, "POST", "/login", f"username={email}&password=benchmark-password", form=True)),
            ("GET /posts", lambda: call(base, "GET", "/posts?limit=10", token=token)),
            ("POST /posts", lambda: call(base, "POST", "/posts", {"title": "t", "content": "c"}, token)),
            ("GET /posts/{id}", lambda: call(base, "GET", f"/posts/{post_id}", token=token)),
            ("PATCH /posts/{id}", lambda: call(base, "PATCH", f"/posts/{post_id}", {"published": True}, token)),
            ("POST /vote (1 then 0)", lambda: call(base, "POST", "/vote", {"post_id": post_id, "dir": next(counter) % 2 ^ 1}, token)),
            ("401 (no token)", lambda: call(base, "GET", "/posts")),
        ]
        print(f"{'route':24} {'p50':>7} {'p95':>7} {'max':>7}  (ms, N={N}, bcrypt cost {os.environ.get('BCRYPT_COST', '12')})")
        for name, fn in routes:
            for _ in range(3):
                fn()  # warm the function's instance
            times = sorted(fn()[0] for _ in range(N))
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            print(f"{name:24} {statistics.median(times):7.1f} {p95:7.1f} {times[-1]:7.1f}")
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=20)


if __name__ == "__main__":
    main()
