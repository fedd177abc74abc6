"""Where one request's time goes: run a scenario in process against PostgreSQL + Redis, count round trips, profile.

Run from the repo root (needs the bench extra: pip install -e '.[bench]'):
  .venv/bin/python bench/profile.py --scenario schedules [--requests 300] [--html out.html]
Scenarios: healthz, schedules (the department's list for a date), slots (one schedule's time windows), book (a
successful booking per resident), sold_out (bookings turned away once nothing is left). For each request the
bench counts SQL statements sent to PostgreSQL and Redis commands, then prints the mean time per request and
pyinstrument's call tree. Everything runs in a throwaway database and Redis db 8 on 127.0.0.1, removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import _load as L

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("healthz", "schedules", "slots", "book", "sold_out")


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", choices=SCENARIOS, default="schedules")
    p.add_argument("--requests", type=int, default=300, help="profiled requests (1..5000)")
    p.add_argument("--capacity", type=int, default=30, help="tickets of the schedule")
    p.add_argument("--redis-url", default=f"redis://{HOST}:6379/8")
    p.add_argument("--html", metavar="PATH", help="also write pyinstrument's HTML report here")
    args = p.parse_args()
    if not 1 <= args.requests <= 5000:
        p.error("--requests must be 1..5000")
    return args


class RoundTrips:
    """Counts SQL statements and Redis commands while `counting` is on."""

    def __init__(self):
        self.sql = self.redis = 0
        self.counting = False

    def install(self, engine):
        """Hook the engine's cursor executions and the Redis connection's sends."""
        import redis.connection
        from sqlalchemy import event

        @event.listens_for(engine, "before_cursor_execute")
        def _sql(*_args, **_kw):
            self.sql += self.counting

        original = redis.connection.AbstractConnection.send_packed_command

        def send(conn, command, check_health=True):
            self.redis += self.counting
            return original(conn, command, check_health)
        redis.connection.AbstractConnection.send_packed_command = send

    @contextmanager
    def measuring(self):
        """Count inside the block only."""
        self.counting = True
        try:
            yield
        finally:
            self.counting = False


def requests_for(args, sid, department_id, day, residents):
    """The (method, url, kwargs) of every request of the scenario, and the statuses that count as success."""
    if args.scenario == "healthz":
        return [("GET", "/healthz", {})] * args.requests, {200}
    if args.scenario == "schedules":
        return [("GET", f"/api/v1/schedules?department_id={department_id}&date={day}", {})] * args.requests, {200}
    if args.scenario == "slots":
        return [("GET", f"/api/v1/schedules/{sid}/slots", {})] * args.requests, {200}
    book = [("POST", "/api/v1/appointments", {"json": {"schedule_id": sid, "patient_id": pid},
                                               "headers": {"Authorization": f"Bearer {token}"}})
            for token, pid in residents]
    return book, {201} if args.scenario == "book" else {409}


def make_residents(client, n):
    """n residents, each with one patient; (token, patient id) pairs."""
    import rush
    ids = L.resident_ids(n)
    out = []
    for i in range(n):
        token = client.post("/api/v1/auth/dev-login", json={"openid": f"prof-{i}"}).get_json()["token"]
        body = client.post("/api/v1/me/patients", json=rush.resident_payload(i, ids[i]),
                           headers={"Authorization": f"Bearer {token}"}).get_json()
        if "id" not in body:
            raise RuntimeError(f"resident {i}: {body}")
        out.append((token, body["id"]))
    return out


def run(args, db_name):
    """Build the app on the throwaway database, prepare the scenario, profile it; returns the summary."""
    os.environ.update({"DATABASE_URL": f"postgresql+psycopg://postgres@{HOST}:5432/{db_name}",
                       "REDIS_URL": args.redis_url, "PATIENT_API_ENV": "development", "PATIENT_API_DEV_LOGIN": "1",
                       "PATIENT_API_LOG_LEVEL": "WARNING"})
    from flask_migrate import upgrade
    from pyinstrument import Profiler

    from patient_api import create_app, demo
    from patient_api.directory.models import Schedule
    from patient_api.extensions import db, redis

    app = create_app()
    with app.app_context():  # requests below must run outside it: a request reuses an app context already pushed
        upgrade()
        redis.flushdb()
        sid = demo.rush_schedule(args.capacity)
        schedule = db.session.get(Schedule, sid)
        department_id, day = schedule.department_id, schedule.date.isoformat()
        counter = RoundTrips()
        counter.install(db.engine)
    client = app.test_client(use_cookies=False)  # each resident its own session, as in the rush
    booking = args.scenario in ("book", "sold_out")
    residents = make_residents(client, args.requests + args.capacity if booking else 1)
    calls, ok = requests_for(args, sid, department_id, day, residents)
    if args.scenario == "sold_out":  # take every ticket first, unprofiled
        for method, url, kw in calls[:args.capacity]:
            client.open(url, method=method, **kw)
        calls = calls[args.capacity:]
    client.open(calls[0][1], method=calls[0][0], **calls[0][2])  # warm: first-use imports and caches
    calls = calls[1:] if booking else calls
    profiler = Profiler(interval=0.0005)
    statuses, started, cpu = {}, time.perf_counter(), time.process_time()
    with counter.measuring():
        profiler.start()
        for method, url, kw in calls:
            status = client.open(url, method=method, **kw).status_code
            statuses[status] = statuses.get(status, 0) + 1
        profiler.stop()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    with app.app_context():
        redis.flushdb()
    n = len(calls)
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        Path(args.html).write_text(profiler.output_html())
    summary = {"scenario": args.scenario, "requests": n, "statuses": statuses,
               "ms_per_request": round(1000 * elapsed / n, 2), "cpu_ms_per_request": round(1000 * cpu / n, 2),
               "sql_per_request": round(counter.sql / n, 2), "redis_per_request": round(counter.redis / n, 2),
               "all_ok": set(statuses) <= ok}
    print(summary)
    return summary


def main() -> int:
    """Entry point; exit 1 when a profiled request did not answer as the scenario expects."""
    args = parse_args()
    sys.path.insert(0, str(ROOT))
    with L.throwaway_db("patient_api_profile") as db_name:
        return 0 if run(args, db_name)["all_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
