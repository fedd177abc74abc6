"""The 07:00 rush as residents make it: each opens the department's schedule list, the schedule's time windows, books.

Run from the repo root:  .venv/bin/python bench/journey.py [--residents 2000] [--capacity 30] [--workers N]
All journeys start at the same instant. A resident books a window the windows answer showed as open (chosen at
random, so every window is asked for); one that saw nothing open still tries the schedule's next ticket, as the
H5's 约满 screen would not let them but a stale screen might. Every booking carries a fresh Idempotency-Key, as the
H5 sends one with every POST. Exact means: never oversold, every ticket taken,
201s == active appointments in PostgreSQL. Baseline: /healthz with the same number of requests, same instant, three
rounds; the median one counts.
Everything runs against 127.0.0.1 in a throwaway database and Redis db 9, torn down afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from pathlib import Path

import _load as L
import aiohttp
import rush

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
TARGET_P99_MS, TARGET_RATIO_PCT = 3000, 15
MAX_RESIDENTS = 5000


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--residents", type=int, default=2000, help=f"residents making the journey (1..{MAX_RESIDENTS})")
    p.add_argument("--capacity", type=int, default=30, help="tickets in the schedule")
    p.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)) + 1,
                   help="gunicorn workers (cores + 1: measured faster than 2 × cores + 1, docs/performance.md)")
    p.add_argument("--threads", type=int, default=4, help="gthread threads per worker")
    p.add_argument("--port", type=int, default=8768)
    p.add_argument("--setup-concurrency", type=int, default=64)
    p.add_argument("--request-timeout", type=float, default=60.0, help="per request, seconds")
    p.add_argument("--timeout", type=float, default=400.0, help="global deadline, seconds")
    p.add_argument("--seed", type=int, default=7, help="the residents' window choices")
    p.add_argument("--redis-url", default=f"redis://{HOST}:6379/9")
    L.add_client_option(p)
    p.add_argument("--json", metavar="PATH", help="also write the result JSON here")
    p.add_argument("--server-log", metavar="PATH", help="keep gunicorn's output (the service's JSON log) here")
    args = p.parse_args()
    if not 1 <= args.residents <= MAX_RESIDENTS:
        p.error(f"--residents must be 1..{MAX_RESIDENTS}")
    if not args.redis_url.startswith(f"redis://{HOST}:"):
        p.error("--redis-url must point at 127.0.0.1 (the bench flushes that database)")
    return args


async def journey(session, base: str, token: str, patient_id, schedule: dict, rng: random.Random) -> dict:
    """One resident's three requests; returns their shots and the journey's total time."""
    auth = {"Authorization": f"Bearer {token}"}
    t0 = time.perf_counter()
    listing = await L.shoot(session, "GET", f"{base}/api/v1/schedules?department_id={schedule['department_id']}"
                            f"&date={schedule['date']}", headers=auth)
    windows = await L.shoot(session, "GET", f"{base}/api/v1/schedules/{schedule['id']}/slots", headers=auth)
    body = {"schedule_id": schedule["id"], "patient_id": patient_id}
    items = windows.body.get("items", []) if isinstance(windows.body, dict) else []
    open_windows = [w["start"] for w in items if w.get("status") == "open"]
    if open_windows:
        body["slot_start"] = rng.choice(open_windows)
    book = await L.shoot(session, "POST", f"{base}/api/v1/appointments", json=body,
                         headers={**auth, "Idempotency-Key": uuid.uuid4().hex})  # as the H5 sends with every POST
    failed = next((s for s in (listing, windows, book) if s.status is None), None)
    return {"shots": (listing, windows, book), "ms": (time.perf_counter() - t0) * 1000,
            "error": failed.error if failed else None}


def one_request_per_connection(args):
    """A connection per request, as behind a proxy (phones keep theirs to the proxy, not to gunicorn): a kept-alive
    connection gunicorn closes while the client reuses it would fail a journey no phone would see fail. The
    /healthz baseline is sent the same way, so the ratio compares like with like."""
    if args.client == "wire":
        return L.volley_session(args, args.residents)
    connector = aiohttp.TCPConnector(limit=args.residents, force_close=True)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=args.request_timeout))


async def measure(base: str, schedule_id, args) -> dict:
    """Residents, then the /healthz volley (3 requests per resident), then every journey at once."""
    residents = await rush.make_residents(base, args.residents, args.setup_concurrency, args.request_timeout)
    async with L.make_session(8, args.request_timeout) as s:
        schedule = (await L.shoot(s, "GET", f"{base}/api/v1/schedules/{schedule_id}")).body
    async def healthz():
        async with one_request_per_connection(args) as s:
            return await L.volley(s, [("GET", f"{base}/healthz", {})] * (3 * args.residents))
    cpu = time.process_time()
    health, health_rounds = await L.baseline(healthz)  # three rounds, the median one counts
    health_cpu, cpu = (time.process_time() - cpu) / L.BASELINE_ROUNDS, time.process_time()
    rngs = [random.Random(args.seed * 100003 + i) for i in range(args.residents)]
    async with one_request_per_connection(args) as s:
        gate = asyncio.Event()

        async def one(i: int) -> dict:
            await gate.wait()
            token, pid = residents[i]
            return await journey(s, base, token, pid, schedule, rngs[i])

        tasks = [asyncio.create_task(one(i)) for i in range(args.residents)]
        await asyncio.sleep(0.5)  # every task is parked on the gate
        t0 = time.perf_counter()
        gate.set()
        journeys = await asyncio.gather(*tasks)
        wall = time.perf_counter() - t0
    # The load generator shares the machine: its own CPU seconds show how much of it the phase took.
    return {"health": health, "health_rounds": health_rounds, "journeys": journeys, "wall_s": wall,
            "schedule_id": schedule_id,
            "client_cpu_s": {"healthz": round(health_cpu, 2), "journeys": round(time.process_time() - cpu, 2)}}


def phase(journeys: list[dict], index: int, wall: float) -> dict:
    """One request kind's summary across all journeys."""
    return L.Volley([j["shots"][index] for j in journeys], wall).summary()


def evaluate(args, m: dict, active: int) -> dict:
    """Fold the measurements into the result, including the pass/fail checks."""
    journeys, wall = m["journeys"], m["wall_s"]
    done = [j for j in journeys if j["error"] is None]
    ms = [j["ms"] for j in done]
    health = m["health"].summary()
    per_s = round(len(done) / wall, 1) if wall else 0.0
    ratio = 100 * per_s / health["req_per_s"] if health["req_per_s"] else 0.0
    kinds = {name: phase(journeys, i, wall) for i, name in enumerate(("list", "windows", "book"))}
    taken = sum(1 for j in journeys if j["shots"][2].status == 201)
    res = {"residents": args.residents, "capacity": args.capacity, "workers": args.workers,
           "journeys_done": len(done), "journeys_per_s": per_s, "journey_p50_ms": L._round(L.percentile(ms, 50)),
           "journey_p99_ms": L._round(L.percentile(ms, 99)), "wall_s": round(wall, 3), "taken_201": taken,
           "db_active": active, "oversold": max(0, active - args.capacity), "requests": kinds, "healthz": health,
           "healthz_rounds_req_per_s": m["health_rounds"], "ratio_pct": round(ratio, 1),
           "client_cpu_s": m["client_cpu_s"]}
    fivexx = sum(k["5xx"] for k in kinds.values())
    res["checks"] = {"no_oversell": res["oversold"] == 0, "all_taken": active == args.capacity,
                     "201_matches_db": taken == active, "all_answered": len(done) == args.residents,
                     "no_5xx": fivexx == 0, "p99_ok": (res["journey_p99_ms"] or 1e9) <= TARGET_P99_MS,
                     "ratio_ok": ratio >= TARGET_RATIO_PCT}
    res["pass"] = all(res["checks"].values())
    return res


def report(r: dict) -> None:
    """Human-readable summary."""
    h = r["healthz"]
    print(f"residents {r['residents']}  capacity {r['capacity']}  gunicorn workers {r['workers']}")
    print(f"taken (201) {r['taken_201']}  db active {r['db_active']}  oversold {r['oversold']}")
    print(f"journeys: done {r['journeys_done']}/{r['residents']}  p50 {r['journey_p50_ms']} ms  "
          f"p99 {r['journey_p99_ms']} ms  {r['journeys_per_s']} journeys/s  wall {r['wall_s']} s")
    for name, k in r["requests"].items():
        print(f"  {name:8s} status {k['status']}  codes {k['codes']}  p50 {k['p50_ms']} ms  p99 {k['p99_ms']} ms")
    print(f"healthz: answered {h['answered']}/{h['sent']}  p50 {h['p50_ms']} ms  p99 {h['p99_ms']} ms  "
          f"{h['req_per_s']} req/s (the median of {r['healthz_rounds_req_per_s']})")
    print(f"load generator CPU: healthz {r['client_cpu_s']['healthz']} s a round (wall {h['wall_s']} s), "
          f"journeys {r['client_cpu_s']['journeys']} s (wall {r['wall_s']} s)")
    print(f"journeys/s vs healthz req/s {r['ratio_pct']}% (target >= {TARGET_RATIO_PCT}%, p99 <= {TARGET_P99_MS} ms)")
    failed = [k for k, ok in r["checks"].items() if not ok]
    print("PASS" if r["pass"] else f"FAIL: {', '.join(failed)}")


def run(args, deadline: L.Deadline) -> dict:
    """Provision database and server as bench/rush.py does, run the journeys, verify, tear everything down."""
    return rush.run(args, deadline, measure, evaluate, "patient_api_journey")


def main() -> int:
    """Entry point; exit 0 on PASS, 1 on FAIL, 2 if the bench itself could not run."""
    return L.bench_main(parse_args(), run, report)


if __name__ == "__main__":
    sys.exit(main())
