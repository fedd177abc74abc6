"""Reports bench: a resident with 200 reports from 3 hospitals reads the list and details; access log included.

Run from the repo root:
  .venv/bin/python bench/reports.py [--reports 200] [--reads 2000] [--concurrency 50] [--port 8767]
Everything runs against 127.0.0.1 in a throwaway PostgreSQL database and Redis db 9, torn down afterwards.
Phases: bulk FHIR ingest of the reports (resources/s), then list and detail reads, then /healthz with the
same number of requests and concurrency as the baseline. PASS when reads keep ≥ 40 % of the baseline
throughput, nothing answers 5xx, and the access log holds exactly one row per successful read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

import _load as L
import psycopg
import redis
import rush
from sqlalchemy import event as sa_event

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
HOSPITALS = ("TAZXYY", "TAZYY", "DYWSY")
ID_SYSTEM = "urn:oid:2.16.156.10011.1.3"
# 血常规 and 生化 items: (LOINC, name, unit, low, high, typical)
PANEL = [("6690-2", "白细胞计数", "10*9/L", 3.5, 9.5, 6.2), ("789-8", "红细胞计数", "10*12/L", 4.3, 5.8, 4.9),
         ("718-7", "血红蛋白", "g/L", 130, 175, 148), ("777-3", "血小板计数", "10*9/L", 125, 350, 231),
         ("1742-6", "丙氨酸氨基转移酶", "U/L", 9, 50, 28), ("2160-0", "肌酐", "umol/L", 57, 111, 80),
         ("2345-7", "葡萄糖", "mmol/L", 3.9, 6.1, 5.4), ("2823-3", "钾", "mmol/L", 3.5, 5.3, 4.1)]
MAX_REPORTS, MAX_READS = 2000, 20000


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reports", type=int, default=200, help=f"reports of the one resident (1..{MAX_REPORTS})")
    p.add_argument("--reads", type=int, default=2000, help=f"requests per phase (1..{MAX_READS})")
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)) + 1,
                   help="gunicorn workers (cores + 1: measured faster than 2 × cores + 1, docs/performance.md)")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--port", type=int, default=8767)
    p.add_argument("--target", type=float, default=0.25, help="reads / healthz throughput ratio to PASS")
    p.add_argument("--request-timeout", type=float, default=30.0)
    p.add_argument("--timeout", type=float, default=300.0, help="global deadline, seconds")
    p.add_argument("--redis-url", default=f"redis://{HOST}:6379/9")
    p.add_argument("--json", metavar="PATH", help="also write the result JSON here")
    p.add_argument("--server-log", metavar="PATH", help="keep gunicorn's output (the service's JSON log) here")
    p.add_argument("--profile", type=int, metavar="N", default=0,
                   help="instead of the load phases: N list and N detail reads (and the ingest) in process through "
                        "the Flask test client, printed by pyinstrument with SQL statements and Redis round trips")
    p.add_argument("--no-tree", action="store_true",
                   help="with --profile: time the reads without pyinstrument (its sampling adds ~1 ms a request)")
    args = p.parse_args()
    if not 1 <= args.reports <= MAX_REPORTS or not 1 <= args.reads <= MAX_READS:
        p.error("--reports or --reads out of range")
    return args


def bundle(id_number: str, hospital: str, first: int, count: int, rng: random.Random) -> dict:
    """A FHIR R4 collection Bundle: the Patient and `count` lab reports, each with its 8 Observations."""
    entries = [{"fullUrl": "urn:uuid:patient", "resource": {
        "resourceType": "Patient", "id": "p", "identifier": [{"system": ID_SYSTEM, "value": id_number}],
        "name": [{"text": "张三"}]}}]
    for n in range(first, first + count):
        day = f"2026-{1 + n % 10:02d}-{1 + n % 27:02d}T08:{n % 60:02d}:00+08:00"
        refs = []
        for k, (code, name, unit, low, high, typical) in enumerate(PANEL):
            oid = f"o{n}-{k}"
            value = round(typical * rng.uniform(0.7, 1.4), 1)
            entries.append({"fullUrl": f"urn:uuid:{oid}", "resource": {
                "resourceType": "Observation", "id": oid, "status": "final",
                "identifier": [{"system": f"urn:lis:{hospital}", "value": oid}],
                "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": name}], "text": name},
                "subject": {"reference": "urn:uuid:patient"}, "effectiveDateTime": day,
                "valueQuantity": {"value": value, "unit": unit},
                "referenceRange": [{"low": {"value": low, "unit": unit}, "high": {"value": high, "unit": unit}}]}})
            refs.append({"reference": f"urn:uuid:{oid}"})
        entries.append({"fullUrl": f"urn:uuid:r{n}", "resource": {
            "resourceType": "DiagnosticReport", "id": f"r{n}", "status": "final",
            "identifier": [{"system": f"urn:lis:{hospital}", "value": f"R{n}"}],
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
            "code": {"text": "血常规+生化"}, "subject": {"reference": "urn:uuid:patient"},
            "effectiveDateTime": day, "issued": day, "result": refs}})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


async def setup(base: str, keys: dict, args) -> dict:
    """One resident with one patient; their reports pushed by the 3 hospitals as FHIR bundles (timed)."""
    id_number = L.resident_ids(1, seed=7)[0]
    rng = random.Random(1)
    async with L.make_session(8, args.request_timeout) as s:
        login = await rush.setup_call(s, "POST", f"{base}/api/v1/auth/dev-login", 200, json={"openid": "reader"})
        auth = {"Authorization": f"Bearer {login['token']}"}
        patient = await rush.setup_call(s, "POST", f"{base}/api/v1/me/patients", 201,
                                        json=rush.resident_payload(1, id_number), headers=auth)
        verify_link(args.db, patient["id"])
        share = [args.reports // 3 + (1 if i < args.reports % 3 else 0) for i in range(3)]
        bundles = [(code, bundle(id_number, code, sum(share[:i]), share[i], rng)) for i, code in enumerate(HOSPITALS)]
        resources = sum(len(b["entry"]) for _, b in bundles)
        t0 = time.perf_counter()
        for code, body in bundles:  # one hospital after another, as nightly pushes would come
            await rush.setup_call(s, "POST", f"{base}/api/v1/integration/fhir", 200, json=body,
                                  headers={"Authorization": f"Bearer {keys[code]}"})
        ingest_s = time.perf_counter() - t0
        listing = await rush.setup_call(s, "GET", f"{base}/api/v1/reports?patient_id={patient['id']}&limit=100",
                                        200, headers=auth)
    return {"auth": auth, "patient_id": patient["id"], "report_ids": [r["id"] for r in listing["items"]],
            "resources": resources, "ingest_s": ingest_s}


async def measure(base: str, keys: dict, args) -> dict:
    """Ingest, then the list phase, the detail phase and the /healthz baseline, same size and concurrency (three
    rounds, the median one counts: L.baseline)."""
    s = await setup(base, keys, args)
    list_url = f"{base}/api/v1/reports?patient_id={s['patient_id']}"
    details = [f"{base}/api/v1/reports/{s['report_ids'][i % len(s['report_ids'])]}" for i in range(args.reads)]
    async with L.make_session(args.concurrency, args.request_timeout) as session:
        lists = await L.capped_volley(session, [("GET", list_url, {"headers": s["auth"]})] * args.reads,
                                      args.concurrency)
        detail = await L.capped_volley(session, [("GET", u, {"headers": s["auth"]}) for u in details],
                                       args.concurrency)
        health, rounds = await L.baseline(lambda: L.capped_volley(
            session, [("GET", f"{base}/healthz", {})] * args.reads, args.concurrency))
    return {**s, "list": lists.summary(), "detail": detail.summary(), "health": health.summary(),
            "health_rounds": rounds}


def verify_link(db: str, patient_id: str) -> None:
    """Reports open only to a verified link: mark it verified directly (the SMS/kiosk flow is not what is measured)."""
    with psycopg.connect(f"postgresql://postgres@{HOST}:5432/{db}") as conn:
        conn.execute("UPDATE patient_links SET status = 'verified', verified_at = now(), verified_method = 'bench' "
                     "WHERE patient_id = %s", (patient_id,))


def access_rows(db: str) -> int:
    """Rows in the access log (one per successful read is the contract)."""
    with psycopg.connect(f"postgresql://postgres@{HOST}:5432/{db}") as conn:
        return conn.execute("SELECT count(*) FROM access_log").fetchone()[0]


def evaluate(args, m: dict, logged: int) -> dict:
    """Ratios and the verdict."""
    base = m["health"]["req_per_s"] or 0
    ratios = {phase: round(m[phase]["req_per_s"] / base, 3) if base else None for phase in ("list", "detail")}
    ok_reads = sum(m[phase]["status"].get("200", 0) for phase in ("list", "detail"))
    expected_log = ok_reads + 1  # + the setup listing
    passed = (all(r is not None and r >= args.target for r in ratios.values())
              and m["list"]["5xx"] == m["detail"]["5xx"] == 0 and logged == expected_log
              and ok_reads == 2 * args.reads)
    return {"reports": len(m["report_ids"]) if args.reports <= 100 else args.reports,
            "ingest": {"resources": m["resources"], "seconds": round(m["ingest_s"], 2),
                       "resources_per_s": round(m["resources"] / m["ingest_s"], 1)},
            "list": m["list"], "detail": m["detail"], "healthz": m["health"],
            "healthz_rounds_req_per_s": m["health_rounds"], "ratio": ratios,
            "access_log_rows": logged, "access_log_expected": expected_log, "target": args.target, "pass": passed}


def report(r: dict) -> None:
    """Human-readable summary."""
    if "profile" in r:
        for name, figures in r["profile"].items():
            print(f"{name}: {figures}")
        return
    print(f"ingest: {r['ingest']['resources']} FHIR resources in {r['ingest']['seconds']} s "
          f"= {r['ingest']['resources_per_s']} resources/s")
    for phase in ("list", "detail", "healthz"):
        p = r[phase]
        rounds = f" (the median of {r['healthz_rounds_req_per_s']})" if phase == "healthz" else ""
        print(f"{phase:8s} {p['req_per_s']} req/s{rounds}  p50 {p['p50_ms']} ms  p99 {p['p99_ms']} ms  "
              f"status {p['status']}")
    print(f"ratio vs /healthz: {r['ratio']} (target ≥ {r['target']}); access log {r['access_log_rows']} rows, "
          f"expected {r['access_log_expected']} → {'PASS' if r['pass'] else 'FAIL'}")
    for line in r.get("server_problems", []):
        print(f"service said: {line}")


def provision(env: dict, deadline: L.Deadline) -> dict:
    """Migrate, load the demo, and issue the three hospitals' integration keys; returns {hospital: key}."""
    flask = [str(VENV_BIN / "flask"), "--app", "wsgi"]
    L.run_cli(flask + ["db", "upgrade"], env, str(ROOT), deadline.left(120))
    L.run_cli(flask + ["demo", "load", "--days", "1"], env, str(ROOT), deadline.left(120))
    return {code: L.run_cli(flask + ["hospital", "issue-key", code], env, str(ROOT),
                            deadline.left(60)).strip().splitlines()[-1] for code in HOSPITALS}


class RoundTrips:
    """Counts SQL statements sent (engine event) and Redis round trips (packed sends) while active."""

    def __init__(self, engine):
        import redis.connection
        self.sql = self.redis = 0
        self.active = False
        sa_event.listen(engine, "before_cursor_execute", self._on_sql)
        original = redis.connection.Connection.send_packed_command

        def send(conn, command, check_health=True):
            self.redis += self.active
            return original(conn, command, check_health)
        redis.connection.Connection.send_packed_command = send

    def _on_sql(self, *_args):
        self.sql += self.active


def profile(args, env: dict, keys: dict) -> dict:
    """In process: the ingest, then N list and N detail reads through the test client, each under pyinstrument."""
    import logging

    from pyinstrument import Profiler
    os.environ.update({k: v for k, v in env.items() if k in ("DATABASE_URL", "REDIS_URL") or k.startswith("PATIENT")})
    sys.path.insert(0, str(ROOT))  # this checkout's package, whichever checkout the venv's editable install names
    from patient_api import create_app
    from patient_api.extensions import db as sql_db
    app = create_app()
    for handler in logging.getLogger("patient_api").handlers:  # formatted as in production, written nowhere
        handler.setStream(open(os.devnull, "w"))  # noqa: SIM115  (lives as long as the process)
    client = app.test_client()
    with app.app_context():
        trips = RoundTrips(sql_db.engine)
    auth = {"Authorization": f"Bearer {client.post('/api/v1/auth/dev-login', json={'openid': 'reader'}).json['token']}"}
    id_number = L.resident_ids(1, seed=7)[0]
    patient = client.post("/api/v1/me/patients", json=rush.resident_payload(1, id_number), headers=auth).json
    verify_link(args.db, patient["id"])
    rng, share = random.Random(1), [args.reports // 3 + (1 if i < args.reports % 3 else 0) for i in range(3)]
    out = {}

    def timed(name, calls):
        trips.sql = trips.redis = 0
        trips.active = True
        profiler = Profiler(interval=0.0005)
        t0, cpu0 = time.perf_counter(), time.process_time()
        with contextlib.nullcontext() if args.no_tree else profiler:
            for method, url, kw in calls:
                answer = client.open(url, method=method, **kw)
                assert answer.status_code == 200, (url, answer.status_code, answer.json)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        trips.active = False
        n = len(calls)
        out[name] = {"requests": n, "ms_per_request": round(elapsed * 1000 / n, 3),
                     "cpu_ms_per_request": round(cpu * 1000 / n, 3),  # this process only (not PostgreSQL's)
                     "sql_per_request": round(trips.sql / n, 2), "redis_per_request": round(trips.redis / n, 2)}
        print(f"==== {name}: {out[name]}")
        if not args.no_tree:
            print(profiler.output_text(unicode=True, color=False, show_all=False))

    for i, code in enumerate(HOSPITALS):
        body = bundle(id_number, code, sum(share[:i]), share[i], rng)
        timed(f"ingest {code} ({len(body['entry'])} resources)", [
            ("POST", "/api/v1/integration/fhir", {"json": body, "headers": {"Authorization": f"Bearer {keys[code]}"}})])
    listing = client.get(f"/api/v1/reports?patient_id={patient['id']}&limit=100", headers=auth)
    assert listing.status_code == 200, listing.json
    ids = [r["id"] for r in listing.json["items"]]
    timed("healthz", [("GET", "/healthz", {})] * args.profile)
    timed("list", [("GET", f"/api/v1/reports?patient_id={patient['id']}", {"headers": auth})] * args.profile)
    timed("detail", [("GET", f"/api/v1/reports/{ids[i % len(ids)]}", {"headers": auth}) for i in range(args.profile)])
    return out


def run(args, deadline: L.Deadline) -> dict:
    """Provision database and server, measure, verify, and tear everything down."""
    redis.Redis.from_url(args.redis_url).flushdb()
    base = f"http://{HOST}:{args.port}"
    log_file = open(args.server_log, "w+") if args.server_log else tempfile.TemporaryFile("w+")  # noqa: SIM115
    with L.throwaway_db("patient_api_reports") as db, log_file as log:
        env, proc, args.db = rush.child_env(db, args.redis_url), None, db
        try:
            keys = provision(env, deadline)
            if args.profile:
                return {"profile": profile(args, env, keys), "pass": True}
            if not L.port_is_free(args.port):
                raise RuntimeError(f"port {args.port} is already in use")
            proc = L.start_group([str(VENV_BIN / "gunicorn"), "-w", str(args.workers), "-k", "gthread",
                                  "--threads", str(args.threads), "-b", f"{HOST}:{args.port}", "--backlog", "4096",
                                  "--graceful-timeout", "5", "wsgi:app"], env, str(ROOT), log)
            L.wait_http_ok(f"{base}/healthz", proc, deadline.left(60))
            m = asyncio.run(asyncio.wait_for(measure(base, keys, args), deadline.left()))
            return {**evaluate(args, m, access_rows(db)), "server_problems": L.server_problems(log)}
        except BaseException:
            log.seek(0)
            print("---- gunicorn log (tail) ----\n" + log.read()[-4000:], file=sys.stderr)
            raise
        finally:
            signal.alarm(0)
            if proc is not None:
                L.stop_group(proc)
            redis.Redis.from_url(args.redis_url).flushdb()


def main() -> int:
    """Entry point; exit 0 on PASS, 1 on FAIL, 2 if the bench itself could not run."""
    return L.bench_main(parse_args(), run, report)


if __name__ == "__main__":
    sys.exit(main())
