"""The same per-route HTTP load against this API (through the local gateway) and another server
(BASELINE_URL), for a side-by-side table. The routes and bodies are the FastAPI course's API,
which ours keeps: sign-up, the login form, posts CRUD, vote. Requests are sequential, one
connection per request (urllib), so both sides pay the same client costs.

CPU per request is read from /proc around each request: for ours, the function processes
(handler + authorizer: what Lambda bills) and also the gateway plus functions (what a single
server would burn, emulation included); for theirs, BASELINE_PID and its descendants (all their
threads), when given.
"""
import json
import os
import statistics
import time
import urllib.error
import urllib.request
import uuid

import procstat

BCRYPT_N = int(os.environ.get("BCRYPT_N", "5"))


def call(base, method, path, body=None, token=None, form=False):
    data, headers = None, {}
    if body is not None:
        if form:
            data, headers["content-type"] = body.encode(), "application/x-www-form-urlencoded"
        else:
            data, headers["content-type"] = json.dumps(body).encode(), "application/json"
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, payload = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, payload = e.code, e.read()
    return (time.perf_counter() - t) * 1000, status, payload


def cpu_of(pids):
    """A reading of `pids`' CPU, thread by thread (difference two with `procstat.cpu_delta`)."""
    return procstat.cpu_by_thread(pids)


def load(base, n, meters):
    """Runs every route; `meters` maps a name to a function returning CPU ns so far.
    Returns {route: {p50_ms, <meter>_ms per request, errors}}."""
    base = base.rstrip("/")
    email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
    password = "correct-horse-battery"
    stats = {}

    def timed(route, method, path, body=None, token=None, form=False):
        c0 = {k: m() for k, m in meters.items()}
        ms, status, payload = call(base, method, path, body, token, form)
        c1 = {k: m() for k, m in meters.items()}
        s = stats.setdefault(route, {"walls": [], "errors": 0, **{k: 0 for k in meters}})
        s["walls"].append(ms)
        s["errors"] += not (200 <= status < 300)
        for k in meters:
            s[k] += procstat.cpu_delta(c0[k], c1[k])
        return status, payload

    _, st, p = call(base, "POST", "/users", {"email": email, "password": password})
    user_id = json.loads(p)["id"]
    _, st, p = call(base, "POST", "/login", f"username={email}&password={password}", form=True)
    token = json.loads(p)["access_token"]
    _, st, p = call(base, "POST", "/posts", {"title": "bench", "content": "x" * 200}, token)
    post_id = json.loads(p)["id"]
    for _ in range(5):  # warm every route's instance
        call(base, "GET", f"/users/{user_id}")
        call(base, "GET", "/posts?limit=10", token=token)
        call(base, "GET", f"/posts/{post_id}", token=token)
    for i in range(BCRYPT_N):
        timed("POST /users", "POST", "/users",
              {"email": f"b{i}-{uuid.uuid4().hex[:6]}-{email}", "password": password})
        timed("POST /login", "POST", "/login", f"username={email}&password={password}", form=True)
    for i in range(n):
        timed("GET /users/{id}", "GET", f"/users/{user_id}")
        timed("GET /posts", "GET", "/posts?limit=10", token=token)
        timed("GET /posts/{id}", "GET", f"/posts/{post_id}", token=token)
        timed("PUT /posts/{id}", "PUT", f"/posts/{post_id}",
              {"title": "bench", "content": f"edit {i}", "published": True}, token)
        st, p = timed("POST /posts", "POST", "/posts", {"title": "t", "content": "c"}, token)
        new_id = json.loads(p)["id"] if 200 <= st < 300 else post_id
        timed("DELETE /posts/{id}", "DELETE", f"/posts/{new_id}", token=token)
        timed("POST /vote (1, 0)", "POST", "/vote", {"post_id": post_id, "dir": (i + 1) % 2}, token)
    out = {}
    for route, s in stats.items():
        k = len(s["walls"])
        out[route] = {"p50_ms": statistics.median(s["walls"]), "n": k, "errors": s["errors"],
                      **{f"{m}_ms": s[m] / k / 1e6 for m in meters}}
    return out


def side_by_side(stack, url, pid, n):
    gw = stack.gw.pid
    fn_pids = lambda: [p for p in procstat.children(gw)]
    ours = load(stack.api, n, {
        "fn_cpu": lambda: cpu_of(fn_pids()),
        "tree_cpu": lambda: cpu_of([gw] + fn_pids()),
    })
    meters = {}
    if pid:
        meters["cpu"] = lambda: cpu_of(procstat.descendants(int(pid)))
    theirs = load(url, n, meters)
    for r in theirs.values():
        r.setdefault("cpu_ms", None)
    return {"url": url, "pid": pid, "n": n, "ours": ours, "theirs": theirs}
