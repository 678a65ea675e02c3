"""Estimated cost per million API requests of a typical mix (docs/performance.md, "Cost model").

Billed Lambda duration of one invocation of function f (memory M MB):
    billed_ms(f) = max(1, ceil(cpu_ms(f) * 1769 / M + ddb_calls(f) * DDB_LATENCY_MS))
A function gets one full vCPU at 1,769 MB and a proportional share below, so CPU work measured
on a full core takes 1769/M times longer; waiting for DynamoDB is billed at wall time whatever
the memory. Lambda bills in 1 ms steps, rounded up.
    lambda(f)  = LAMBDA_REQUEST + billed_ms(f) / 1000 * M / 1024 * GB_SECOND[arch]
    request(r) = APIGW_REST + lambda(f_r) + (1 - cache_hit) * [protected r] * lambda(authorizer)
                 + RRU(r) * DDB_RRU + WRU(r) * DDB_WRU   (authorizer's units included likewise)
    cost per 1M = 1e6 * sum over routes r of share(r) * request(r)
"""
import math

PRICES = {
    # us-east-1 list prices (USD); sources and date in docs/performance.md.
    "lambda_request": 0.20 / 1e6,
    "gb_second": {"arm64": 0.0000133334, "x86_64": 0.0000166667},
    "apigw_rest_request": 3.50 / 1e6,
    "ddb_wru": 0.625 / 1e6,
    "ddb_rru": 0.125 / 1e6,
}

# 80% reads, 15% writes, 5% logins.
MIX = {
    "list_posts": 0.40, "get_post": 0.30, "get_user": 0.10,
    "create_post": 0.04, "update_post": 0.02, "patch_post": 0.02, "delete_post": 0.02,
    "vote": 0.05,
    "login": 0.05,
}
PROTECTED = {"list_posts", "get_post", "create_post", "update_post", "patch_post", "delete_post",
             "vote"}


def billed_ms(cpu_ms, calls, memory_mb, ddb_latency_ms):
    return max(1, math.ceil(cpu_ms * 1769 / memory_mb + calls * ddb_latency_ms - 1e-9))


def estimate(results, memory, arch, ddb_latency_ms=4.0, cache_hit=0.0):
    """Per-component cost (USD per million API requests) of MIX. `results[f]` has cpu_ms,
    ddb_calls, rru, wru; `memory[f]` is the configured MemorySize."""
    p = PRICES
    comp = {"API Gateway": 0.0, "Lambda requests": 0.0, "Lambda duration (handlers)": 0.0,
            "Lambda duration (authorizer)": 0.0, "DynamoDB reads": 0.0, "DynamoDB writes": 0.0}
    per_route = {}

    def fn_cost(f):
        r = results[f]
        ms = billed_ms(r["cpu_ms"], r["ddb_calls"], memory[f], ddb_latency_ms)
        return ms, ms / 1000 * memory[f] / 1024 * p["gb_second"][arch]

    for route, share in MIX.items():
        ms, dur = fn_cost(route)
        r = results[route]
        c = {"API Gateway": p["apigw_rest_request"], "Lambda requests": p["lambda_request"],
             "Lambda duration (handlers)": dur, "Lambda duration (authorizer)": 0.0,
             "DynamoDB reads": r["rru"] * p["ddb_rru"], "DynamoDB writes": r["wru"] * p["ddb_wru"]}
        if route in PROTECTED:
            a = results["authorizer"]
            w = 1.0 - cache_hit
            ams, adur = fn_cost("authorizer")
            c["Lambda requests"] += w * p["lambda_request"]
            c["Lambda duration (authorizer)"] += w * adur
            c["DynamoDB reads"] += w * a["rru"] * p["ddb_rru"]
            c["DynamoDB writes"] += w * a["wru"] * p["ddb_wru"]
        per_route[route] = {"billed_ms": ms, "usd_per_million": sum(c.values()) * 1e6}
        for k, v in c.items():
            comp[k] += share * v * 1e6
    comp["total"] = sum(comp.values())
    return comp, per_route
