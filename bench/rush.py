"""Ticket-rush bench: N residents book one small schedule at the same instant; check oversell and speed.

Run from the repo root:  .venv/bin/python bench/rush.py [--attempts 2000] [--capacity 30] [--workers N]
Everything runs against 127.0.0.1 in a throwaway database and Redis db 9, and is torn down afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys
import tempfile
import uuid
from pathlib import Path

import _load as L
import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
ACTIVE = ("pending_payment", "booked", "checked_in")
TARGET_P99_MS, TARGET_RATIO_PCT = 2000, 50


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--attempts", type=int, default=2000, help="residents racing for tickets")
    p.add_argument("--capacity", type=int, default=30, help="tickets in the schedule")
    p.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)) + 1,
                   help="gunicorn workers (cores + 1: measured faster than 2 × cores + 1, docs/performance.md)")
    p.add_argument("--threads", type=int, default=4, help="gthread threads per worker (1 = sync workers)")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--setup-concurrency", type=int, default=64, help="in-flight requests while creating residents")
    p.add_argument("--request-timeout", type=float, default=30.0, help="per request, seconds")
    p.add_argument("--timeout", type=float, default=300.0, help="global deadline, seconds")
    p.add_argument("--redis-url", default=f"redis://{HOST}:6379/9")
    L.add_client_option(p)
    p.add_argument("--json", metavar="PATH", help="also write the result JSON here")
    p.add_argument("--server-log", metavar="PATH", help="keep gunicorn's output (the service's JSON log) here")
    p.add_argument("--no-idempotency-key", action="store_true",
                   help="attempts without an Idempotency-Key (the H5 always sends one), as before the fourth round")
    return p.parse_args()


def child_env(db: str, redis_url: str) -> dict:
    """Environment shared by the flask CLI and gunicorn."""
    return {**os.environ, "DATABASE_URL": f"postgresql+psycopg://postgres@{HOST}:5432/{db}",
            "REDIS_URL": redis_url, "PATIENT_API_DEV_LOGIN": "1", "PATIENT_API_ENV": "development"}


def resident_payload(i: int, id_number: str) -> dict:
    """A unique, valid patient: all-CJK name (digits spelled out) so strict name rules accept it."""
    name = "张" + "".join("零一二三四五六七八九"[int(d)] for d in str(i))
    return {"name": name, "id_number": id_number, "phone": f"138{i:08d}", "relation": "self"}


async def setup_call(session, method: str, url: str, expect: int, **kw) -> dict:
    """Setup request that must succeed; retries throttling/transient errors a few times."""
    for attempt in range(6):
        shot = await L.shoot(session, method, url, **kw)
        if shot.status == expect:
            return shot.body
        if shot.status not in (None, 429, 503):
            break
        await asyncio.sleep(min(0.25 * 2 ** attempt, 4))
    raise RuntimeError(f"setup {method} {url} -> {shot.status or shot.error}: {shot.body}")


async def make_residents(base: str, n: int, concurrency: int, timeout: float) -> list[tuple[str, int]]:
    """Log in n distinct residents and give each one patient; returns (token, patient_id) pairs."""
    ids = L.resident_ids(n)
    async with L.make_session(concurrency, timeout) as s:
        async def one(i: int) -> tuple[str, int]:
            login = await setup_call(s, "POST", f"{base}/api/v1/auth/dev-login", 200, json={"openid": f"rush-{i}"})
            auth = {"Authorization": f"Bearer {login['token']}"}
            patient = await setup_call(s, "POST", f"{base}/api/v1/me/patients", 201,
                                       json=resident_payload(i, ids[i]), headers=auth)
            return login["token"], patient["id"]
        return await L.bounded(n, concurrency, one)


def attempt_headers(args, token: str) -> dict:
    """A resident's booking headers: the session and, unless told otherwise, a fresh Idempotency-Key, as the H5 sends
    one with every POST."""
    headers = {"Authorization": f"Bearer {token}"}
    if not args.no_idempotency_key:
        headers["Idempotency-Key"] = uuid.uuid4().hex
    return headers


async def measure(base: str, schedule_id, args) -> dict:
    """Create residents, then the /healthz baseline (three volleys, the median one counts), then the booking
    volley."""
    residents = await make_residents(base, args.attempts, args.setup_concurrency, args.request_timeout)
    # Both volleys: fresh session (cold connections), connector limit = attempts so every request
    # opens its own connection at once and queues in the server's backlog, not in the client.
    async def healthz():
        async with L.volley_session(args, args.attempts) as s:
            return await L.volley(s, [("GET", f"{base}/healthz", {})] * args.attempts)
    health, health_rounds = await L.baseline(healthz)  # three rounds, the median one counts
    booking = [("POST", f"{base}/api/v1/appointments",
                {"json": {"schedule_id": schedule_id, "patient_id": pid}, "headers": attempt_headers(args, token)})
               for token, pid in residents]
    async with L.volley_session(args, args.attempts) as s:
        rush = await L.volley(s, booking)
        sched = await L.shoot(s, "GET", f"{base}/api/v1/schedules/{schedule_id}",
                              headers={"Authorization": f"Bearer {residents[0][0]}"})
    return {"health": health, "health_rounds": health_rounds, "rush": rush,
            "schedule": sched.body if sched.status == 200 else None}


def count_active(db: str, schedule_id) -> int:
    """Active appointments for the schedule, straight from PostgreSQL (the source of truth)."""
    with psycopg.connect(f"postgresql://postgres@{HOST}:5432/{db}") as conn:
        row = conn.execute("SELECT count(*) FROM appointments WHERE schedule_id = %s AND status = ANY(%s)",
                           (schedule_id, list(ACTIVE))).fetchone()
    return row[0]


def evaluate(args, m: dict, active: int) -> dict:
    """Fold the raw measurements into the result dict, including the pass/fail checks."""
    rush, health = m["rush"].summary(), m["health"].summary()
    taken = [s for s in m["rush"].shots if s.status == 201]
    odd_201 = sum(1 for s in taken if not isinstance(s.body, dict) or s.body.get("status") not in ACTIVE[:2])
    ratio = 100 * rush["req_per_s"] / health["req_per_s"] if rush["req_per_s"] and health["req_per_s"] else 0.0
    sched = m["schedule"] or {}
    res = {"attempts": args.attempts, "capacity": args.capacity, "workers": args.workers,
           "taken_201": len(taken), "taken_201_bad_status": odd_201, "db_active": active,
           "oversold": max(0, active - args.capacity), "api_capacity": sched.get("capacity"),
           "api_available": sched.get("available"), "booking": rush, "healthz": health,
           "healthz_rounds_req_per_s": m["health_rounds"], "ratio_pct": round(ratio, 1)}
    res["checks"] = {"no_oversell": res["oversold"] == 0, "all_answered": rush["answered"] == args.attempts,
                     "no_5xx": rush["5xx"] == 0, "p99_ok": (rush["p99_ms"] or 1e9) <= TARGET_P99_MS,
                     "ratio_ok": ratio >= TARGET_RATIO_PCT, "201_matches_db": len(taken) == active}
    res["pass"] = all(res["checks"].values())
    return res


def report(r: dict) -> None:
    """Human-readable summary."""
    b, h = r["booking"], r["healthz"]
    print(f"attempts {r['attempts']}  capacity {r['capacity']}  gunicorn workers {r['workers']}")
    print(f"taken (201) {r['taken_201']}  db active {r['db_active']}  oversold {r['oversold']}  "
          f"api capacity/available {r['api_capacity']}/{r['api_available']}  "
          f"odd 201 bodies {r['taken_201_bad_status']}")
    print(f"booking: answered {b['answered']}/{b['sent']}  5xx {b['5xx']}  errors {b['errors']}")
    print(f"         status {b['status']}  codes {b['codes']}")
    print(f"         p50 {b['p50_ms']} ms  p99 {b['p99_ms']} ms  {b['req_per_s']} req/s  wall {b['wall_s']} s")
    print(f"healthz: answered {h['answered']}/{h['sent']}  p50 {h['p50_ms']} ms  p99 {h['p99_ms']} ms  "
          f"{h['req_per_s']} req/s (the median of {r['healthz_rounds_req_per_s']})  errors {h['errors']}")
    print(f"booking/healthz throughput {r['ratio_pct']}% (target >= {TARGET_RATIO_PCT}%)")
    failed = [k for k, ok in r["checks"].items() if not ok]
    for line in r.get("server_problems", []):
        print(f"service said: {line}")
    print("PASS" if r["pass"] else f"FAIL: {', '.join(failed)}")


def parse_schedule_id(stdout: str) -> int | str:
    """Last stdout line of `demo rush-schedule`: an opaque id like 'sch_…' (or an int); fail early otherwise."""
    last = stdout.strip().splitlines()[-1].strip() if stdout.strip() else ""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", last):
        raise RuntimeError(f"demo rush-schedule did not print a schedule id last: {last!r}")
    return int(last) if last.isdigit() else last


def run(args, deadline: L.Deadline, measure=measure, evaluate=evaluate, db_prefix="patient_api_rush") -> dict:
    """Provision database and server, measure, verify, and tear everything down (bench/journey.py passes its own
    measure and evaluate)."""
    redis.Redis.from_url(args.redis_url).flushdb()
    flask = [str(VENV_BIN / "flask"), "--app", "wsgi"]
    base = f"http://{HOST}:{args.port}"
    log_file = open(args.server_log, "w+") if args.server_log else tempfile.TemporaryFile("w+")
    with L.throwaway_db(db_prefix) as db, log_file as log:
        env, proc = child_env(db, args.redis_url), None
        try:
            L.run_cli(flask + ["db", "upgrade"], env, str(ROOT), deadline.left(120))
            out = L.run_cli(flask + ["demo", "rush-schedule", "--capacity", str(args.capacity)],
                            env, str(ROOT), deadline.left(60))
            sid = parse_schedule_id(out)
            if not L.port_is_free(args.port):
                raise RuntimeError(f"port {args.port} is already in use")
            proc = L.start_group([str(VENV_BIN / "gunicorn"), "-w", str(args.workers),
                                  "-k", "gthread" if args.threads > 1 else "sync", "--threads", str(args.threads),
                                  "-b", f"{HOST}:{args.port}", "--backlog", "4096",
                                  "--graceful-timeout", "5", "wsgi:app"], env, str(ROOT), log)
            L.wait_http_ok(f"{base}/healthz", proc, deadline.left(60))
            m = asyncio.run(asyncio.wait_for(measure(base, sid, args), deadline.left()))
            return {**evaluate(args, m, count_active(db, sid)), "server_problems": L.server_problems(log)}
        except BaseException:
            log.seek(0)
            print("---- gunicorn log (tail) ----\n" + log.read()[-4000:], file=sys.stderr)
            raise
        finally:
            signal.alarm(0)  # cleanup below must not be interrupted by the backstop alarm
            if proc is not None:
                L.stop_group(proc)
            redis.Redis.from_url(args.redis_url).flushdb()


def main() -> int:
    """Entry point; exit 0 on PASS, 1 on FAIL, 2 if the bench itself could not run."""
    return L.bench_main(parse_args(), run, report)


if __name__ == "__main__":
    sys.exit(main())
