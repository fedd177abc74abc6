"""Notify-storm bench: every paid order's WeChat Pay notification arrives several times at once; check exactly-once.

Run from the repo root:
  .venv/bin/python bench/notify_storm.py [--orders 300] [--duplicates 5] [--workers N] [--threads 4] [--port 8766]
  .venv/bin/python bench/notify_storm.py --profile [--orders 100]   (in process, pyinstrument's text report)
Everything runs against 127.0.0.1 in a throwaway database and Redis db 9, and is torn down afterwards.
Residents book one schedule and open a JSAPI payment each; the bench then signs one TRANSACTION.SUCCESS
notification per order with the sandbox platform key (read from Redis like the service does) and posts each
one `duplicates` times, first deliveries and replays shuffled together, at most --concurrency in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import _load as L
import psycopg
import redis
import rush
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
# This checkout's code, whichever checkout the shared venv's editable install happens to point at.
sys.path.insert(0, str(ROOT))

from patient_api.billing.wechatpay import (  # noqa: E402
    RedisStore,
    WechatPaySettings,
    build_notification,
    sandbox_settings,
    transaction_resource,
)
from patient_api.billing.wechatpay.settings import CONFIG_KEYS  # noqa: E402

VENV_BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
NOTIFY_PATH = "/api/v1/payments/wechatpay/notify"
FEE_FEN = 1200
WECHAT_LIMIT_MS = 5000  # WeChat treats a notification not answered within 5 s as failed and retries it
MAX_SKEW_S = 300  # the service refuses notifications signed more than 300 s from its clock
MAX_ORDERS, MAX_DUPLICATES = 5000, 50  # keep the bench bounded whatever the command line says


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--orders", type=int, default=300, help=f"paid orders, one resident each (1..{MAX_ORDERS})")
    p.add_argument("--duplicates", type=int, default=5,
                   help=f"deliveries of each notification, the first included (1..{MAX_DUPLICATES})")
    p.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)) + 1,
                   help="gunicorn workers (cores + 1: measured faster than 2 × cores + 1, docs/performance.md)")
    p.add_argument("--threads", type=int, default=4, help="gthread threads per worker (1 = sync workers)")
    p.add_argument("--port", type=int, default=8766)
    p.add_argument("--concurrency", type=int, default=200, help="in-flight requests in the storm and the baseline")
    p.add_argument("--setup-concurrency", type=int, default=64, help="in-flight residents while setting up")
    p.add_argument("--request-timeout", type=float, default=30.0, help="per request, seconds")
    p.add_argument("--timeout", type=float, default=300.0, help="global deadline, seconds")
    p.add_argument("--seed", type=int, default=0, help="shuffle seed for the delivery order")
    p.add_argument("--redis-url", default=f"redis://{HOST}:6379/9")
    p.add_argument("--json", metavar="PATH", help="also write the result JSON here")
    p.add_argument("--server-log", metavar="PATH", help="also write the whole gunicorn log here")
    p.add_argument("--profile", action="store_true",
                   help="no server: post the signed notifications through the Flask test client (PostgreSQL) "
                        "under pyinstrument and print its text report")
    args = p.parse_args()
    if not 1 <= args.orders <= MAX_ORDERS:
        p.error(f"--orders must be 1..{MAX_ORDERS}")
    if not 1 <= args.duplicates <= MAX_DUPLICATES:
        p.error(f"--duplicates must be 1..{MAX_DUPLICATES}")
    if args.concurrency < 1 or args.setup_concurrency < 1 or args.workers < 1 or args.threads < 1:
        p.error("--concurrency, --setup-concurrency, --workers and --threads must be >= 1")
    if urlsplit(args.redis_url).hostname not in (HOST, "localhost"):
        p.error("--redis-url must point at 127.0.0.1 (the bench flushes that database)")
    return args


def child_env(db: str, redis_url: str) -> dict:
    """rush.py's environment for the flask CLI and gunicorn, with the WeChat Pay sandbox forced on."""
    return {**rush.child_env(db, redis_url), "PATIENT_API_WECHATPAY_MODE": "sandbox"}


def pay_settings(env: dict, redis_url: str) -> tuple[WechatPaySettings, str]:
    """(settings, platform private key PEM) exactly as the service builds them from the same environment."""
    config = {key: env.get(f"PATIENT_API_{key}") for key in CONFIG_KEYS.values()}
    config["WECHATPAY_MODE"] = "sandbox"
    config["WECHAT_APPID"] = config["WECHAT_APPID"] or "wx0000000000000000"  # the service's Config default
    client = redis.Redis.from_url(redis_url)
    try:
        return sandbox_settings(WechatPaySettings.from_config(config), RedisStore(client))
    finally:
        client.close()


async def make_orders(base: str, schedule_id, n: int, concurrency: int, timeout: float) -> list[dict]:
    """n residents each book the schedule and open a JSAPI payment; returns one order dict per resident."""
    ids = L.resident_ids(n)
    async with L.make_session(concurrency, timeout) as s:
        async def one(i: int) -> dict:
            openid = f"storm-{i}"
            login = await rush.setup_call(s, "POST", f"{base}/api/v1/auth/dev-login", 200, json={"openid": openid})
            auth = {"Authorization": f"Bearer {login['token']}"}
            patient = await rush.setup_call(s, "POST", f"{base}/api/v1/me/patients", 201,
                                            json=rush.resident_payload(i, ids[i]), headers=auth)
            appt = await rush.setup_call(s, "POST", f"{base}/api/v1/appointments", 201,
                                         json={"schedule_id": schedule_id, "patient_id": patient["id"]}, headers=auth)
            order = await rush.setup_call(s, "POST", f"{base}/api/v1/bills/{appt['bill_id']}/payments", 201,
                                          json={"method": "wechat_jsapi"}, headers=auth)
            return {"openid": openid, "appointment_id": appt["id"], "bill_id": appt["bill_id"],
                    "out_trade_no": order["out_trade_no"], "amount_fen": order["amount_fen"]}
        return await L.bounded(n, concurrency, one)


def sign_all(settings: WechatPaySettings, platform_key: str, orders: list[dict]) -> list[tuple[dict, bytes]]:
    """One TRANSACTION.SUCCESS notification (headers, raw body) per order, signed now."""
    wires = []
    for i, o in enumerate(orders):
        res = transaction_resource(settings, o["out_trade_no"], f"42000{i:023d}", o["amount_fen"], o["openid"])
        wires.append(build_notification(settings, platform_key, "TRANSACTION.SUCCESS", res, time.time()))
    return wires


async def measure(base: str, schedule_id, env: dict, args) -> dict:
    """Create the orders, sign the notifications, fire the storm, then the /healthz baseline of the same size
    (three rounds, the median one counts: L.baseline)."""
    t0 = time.perf_counter()
    orders = await make_orders(base, schedule_id, args.orders, args.setup_concurrency, args.request_timeout)
    setup_s = time.perf_counter() - t0
    settings, platform_key = pay_settings(env, args.redis_url)
    signed_at = time.time()
    wires = sign_all(settings, platform_key, orders)  # right before firing: the timestamps must stay fresh
    sign_s = time.time() - signed_at
    plan = [(i, copy) for i in range(len(wires)) for copy in range(args.duplicates)]
    random.Random(args.seed).shuffle(plan)
    url = f"{base}{NOTIFY_PATH}"
    storm_reqs = [("POST", url, {"data": wires[i][1], "headers": wires[i][0]}) for i, _ in plan]
    async with L.make_session(args.concurrency, args.request_timeout) as s:
        storm = await L.capped_volley(s, storm_reqs, args.concurrency)
    oldest_age_s = time.time() - signed_at
    async with L.make_session(args.concurrency, args.request_timeout) as s:
        health, health_rounds = await L.baseline(lambda: L.capped_volley(
            s, [("GET", f"{base}/healthz", {})] * len(storm_reqs), args.concurrency))
    return {"orders": orders, "plan": plan, "storm": storm, "health": health, "health_rounds": health_rounds,
            "setup_s": setup_s,
            "sign_s": sign_s, "oldest_age_s": oldest_age_s}


def db_counts(db: str, schedule_id, out_trade_nos: set[str]) -> dict:
    """Exactly-once evidence straight from PostgreSQL (the source of truth)."""
    with psycopg.connect(f"postgresql://postgres@{HOST}:5432/{db}") as conn:
        def one(query: str, *params):
            return conn.execute(query, params).fetchone()
        paid = {r[0] for r in conn.execute("SELECT out_trade_no FROM payments WHERE status = 'paid'")}
        ledger_n, ledger_bills, ledger_sources = one(
            "SELECT count(*), count(DISTINCT bill_id), count(DISTINCT source_id) FROM ledger_transactions "
            "WHERE kind = 'payment'")
        return {
            "payments_total": one("SELECT count(*) FROM payments")[0],
            "payments_paid": len(paid),
            "paid_not_ours": len(paid - out_trade_nos), "ours_not_paid": len(out_trade_nos - paid),
            "ledger_payment": ledger_n, "ledger_payment_bills": ledger_bills, "ledger_payment_sources": ledger_sources,
            "bills_paid": one("SELECT count(*) FROM bills WHERE status = 'paid'")[0],
            "appointments_booked": one("SELECT count(*) FROM appointments WHERE schedule_id = %s AND status = 'booked'",
                                       schedule_id)[0],
            "invoices": one("SELECT count(*) FROM invoices")[0],
            "refunds": one("SELECT count(*) FROM refunds")[0],
            "outbox_bill_paid": one("SELECT count(*) FROM outbox WHERE event = 'bill.paid'")[0],
        }


def _split(v: L.Volley) -> dict:
    """Status counts and latency of a subset of the storm (its wall time is the storm's, so no rate)."""
    s = v.summary()
    return {k: s[k] for k in ("sent", "status", "p50_ms", "p99_ms")}


def evaluate(args, m: dict, counts: dict) -> dict:
    """Fold the raw measurements into the result dict, including the pass/fail checks."""
    storm, health = m["storm"].summary(), m["health"].summary()
    seen: set[int] = set()
    first, replay = L.Volley(), L.Volley()  # split by send order: the first copy of each notification vs the rest
    for (i, _), shot in zip(m["plan"], m["storm"].shots, strict=True):
        (replay if i in seen else first).shots.append(shot)
        seen.add(i)
    answered_ms = [s.ms for s in m["storm"].shots if s.status is not None]
    max_ms = round(max(answered_ms), 1) if answered_ms else None
    over_limit = sum(1 for ms in answered_ms if ms > WECHAT_LIMIT_MS)
    ratio = 100 * storm["req_per_s"] / health["req_per_s"] if storm["req_per_s"] and health["req_per_s"] else 0.0
    n, sent = args.orders, len(m["plan"])
    res = {"orders": n, "duplicates": args.duplicates, "notifications_sent": sent, "workers": args.workers,
           "threads": args.threads, "concurrency": args.concurrency, "setup_s": round(m["setup_s"], 1),
           "sign_s": round(m["sign_s"], 2), "oldest_signature_age_s": round(m["oldest_age_s"], 1),
           "notify": {**storm, "max_ms": max_ms, "over_5s": over_limit},
           "notify_first_sent": _split(first), "notify_replays": _split(replay),
           "healthz": health, "healthz_rounds_req_per_s": m["health_rounds"], "ratio_pct": round(ratio, 1),
           "db": counts}
    res["checks"] = {
        "payments_paid_eq_orders": counts["payments_paid"] == n and counts["ours_not_paid"] == 0
        and counts["paid_not_ours"] == 0 and counts["payments_total"] == n,
        "ledger_payment_once_each": counts["ledger_payment"] == n and counts["ledger_payment_bills"] == n,
        "appointments_booked_eq_orders": counts["appointments_booked"] == n,
        "invoices_eq_orders": counts["invoices"] == n,
        "no_refunds": counts["refunds"] == 0,
        "all_answered": storm["answered"] == sent,
        "all_204": storm["status"] == {"204": sent},
        "no_5xx": storm["5xx"] == 0,
        "all_within_5s": storm["answered"] == sent and over_limit == 0,
    }
    res["pass"] = all(res["checks"].values())
    return res


def report(r: dict) -> None:
    """Human-readable summary."""
    s, h, d = r["notify"], r["healthz"], r["db"]
    print(f"orders {r['orders']} x duplicates {r['duplicates']}  gunicorn workers {r['workers']} x threads "
          f"{r['threads']}  concurrency cap {r['concurrency']}  (setup {r['setup_s']} s, signing {r['sign_s']} s)")
    print(f"notify:  sent {r['notifications_sent']}  answered {s['answered']}  5xx {s['5xx']}  errors {s['errors']}")
    print(f"         status {s['status']}  codes {s['codes']}")
    for label, part in (("first sent", r["notify_first_sent"]), ("replays", r["notify_replays"])):
        print(f"         {label}: {part['sent']} status {part['status']}  p50 {part['p50_ms']} ms  "
              f"p99 {part['p99_ms']} ms")
    print(f"         p50 {s['p50_ms']} ms  p99 {s['p99_ms']} ms  max {s['max_ms']} ms  over 5 s {s['over_5s']}  "
          f"{s['req_per_s']} notifications/s  wall {s['wall_s']} s  oldest signature {r['oldest_signature_age_s']} s")
    print(f"healthz: sent {h['sent']}  answered {h['answered']}  p50 {h['p50_ms']} ms  p99 {h['p99_ms']} ms  "
          f"{h['req_per_s']} req/s (the median of {r['healthz_rounds_req_per_s']})  errors {h['errors']}")
    print(f"notify/healthz throughput {r['ratio_pct']}%")
    print(f"db: payments paid {d['payments_paid']}/{d['payments_total']}  ledger 'payment' {d['ledger_payment']} "
          f"({d['ledger_payment_bills']} bills)  appointments booked {d['appointments_booked']}  "
          f"invoices {d['invoices']}  bills paid {d['bills_paid']}  refunds {d['refunds']}  "
          f"outbox bill.paid {d['outbox_bill_paid']}  (expected {r['orders']} each, 0 refunds)")
    failed = [k for k, ok in r["checks"].items() if not ok]
    print("PASS" if r["pass"] else f"FAIL: {', '.join(failed)}")


def run(args, deadline: L.Deadline) -> dict:
    """Provision database and server, measure, verify, and tear everything down."""
    redis.Redis.from_url(args.redis_url).flushdb()
    flask = [str(VENV_BIN / "flask"), "--app", "wsgi"]
    base = f"http://{HOST}:{args.port}"
    with L.throwaway_db("patient_api_storm") as db, tempfile.TemporaryFile("w+") as log:
        env, proc = child_env(db, args.redis_url), None
        try:
            L.run_cli(flask + ["db", "upgrade"], env, str(ROOT), deadline.left(120))
            out = L.run_cli(flask + ["demo", "rush-schedule", "--capacity", str(args.orders),
                                     "--fee-fen", str(FEE_FEN)], env, str(ROOT), deadline.left(60))
            sid = rush.parse_schedule_id(out)
            if not L.port_is_free(args.port):
                raise RuntimeError(f"port {args.port} is already in use")
            proc = L.start_group([str(VENV_BIN / "gunicorn"), "-w", str(args.workers),
                                  "-k", "gthread" if args.threads > 1 else "sync", "--threads", str(args.threads),
                                  "-b", f"{HOST}:{args.port}", "--backlog", "4096",
                                  "--graceful-timeout", "5", "wsgi:app"], env, str(ROOT), log)
            L.wait_http_ok(f"{base}/healthz", proc, deadline.left(60))
            m = asyncio.run(asyncio.wait_for(measure(base, sid, env, args), deadline.left()))
            if m["oldest_age_s"] > MAX_SKEW_S:
                print(f"warning: the storm outlasted the {MAX_SKEW_S} s signature window", file=sys.stderr)
            result = evaluate(args, m, db_counts(db, sid, {o["out_trade_no"] for o in m["orders"]}))
            if not result["pass"]:  # evidence: the server's own lines, without the access log's volume
                log.seek(0)
                lines = [x for x in log.read().splitlines() if '"level": "INFO"' not in x]
                print("---- gunicorn log without the app's INFO lines (tail) ----\n" + "\n".join(lines[-60:]),
                      file=sys.stderr)
            return result
        except BaseException:
            log.seek(0)
            print("---- gunicorn log (tail) ----\n" + log.read()[-4000:], file=sys.stderr)
            raise
        finally:
            signal.alarm(0)  # cleanup below must not be interrupted by the backstop alarm
            if proc is not None:
                L.stop_group(proc)
            redis.Redis.from_url(args.redis_url).flushdb()
            if args.server_log:
                log.seek(0)
                Path(args.server_log).write_text(log.read())


def profile(args) -> int:
    """In process, one request at a time: where a notification's time goes (no HTTP, no contention)."""
    from pyinstrument import Profiler
    redis.Redis.from_url(args.redis_url).flushdb()
    flask = [str(VENV_BIN / "flask"), "--app", "wsgi"]
    with L.throwaway_db("patient_api_storm_prof") as db:
        env = child_env(db, args.redis_url)
        try:
            L.run_cli(flask + ["db", "upgrade"], env, str(ROOT), 120)
            out = L.run_cli(flask + ["demo", "rush-schedule", "--capacity", str(args.orders),
                                     "--fee-fen", str(FEE_FEN)], env, str(ROOT), 60)
            sid = rush.parse_schedule_id(out)
            os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "PATIENT_API_DEV_LOGIN",
                                                   "PATIENT_API_ENV", "PATIENT_API_WECHATPAY_MODE")})
            import importlib

            import patient_api.config
            from patient_api import create_app
            from patient_api.extensions import db as sqla
            importlib.reload(patient_api.config)  # its config classes read the environment when executed
            app = create_app()
            client = app.test_client()
            orders = [_profile_order(client, sid, i, id_number) for i, id_number in
                      enumerate(L.resident_ids(args.orders))]
            settings, platform_key = pay_settings(env, args.redis_url)
            wires = sign_all(settings, platform_key, orders)
            plan = [i for i in range(len(wires)) for _ in range(args.duplicates)]
            random.Random(args.seed).shuffle(plan)
            profiler = Profiler(interval=0.0005)
            seen, statuses, cpu_ms = set(), [], {"first": [], "replay": []}
            sent, first_sent = [], None  # the statements of one first delivery, printed below
            with app.app_context():
                event.listen(sqla.engine, "before_cursor_execute", lambda _c, _cur, sql, *_a: sent.append(sql))
            t0 = time.perf_counter()
            profiler.start()
            for i in plan:
                c0, before = time.thread_time(), len(sent)
                statuses.append(client.post(NOTIFY_PATH, data=wires[i][1], headers=wires[i][0]).status_code)
                cpu_ms["replay" if i in seen else "first"].append(1000 * (time.thread_time() - c0))
                if i not in seen and first_sent is None:
                    first_sent = sent[before:]
                seen.add(i)
            profiler.stop()
            wall = time.perf_counter() - t0
            print(profiler.output_text(unicode=True, color=False))
            print(f"{len(plan)} notifications ({args.orders} orders x {args.duplicates}) in {wall:.2f} s: "
                  f"{1000 * wall / len(plan):.2f} ms each, statuses {sorted(set(statuses))}")
            for kind, values in cpu_ms.items():  # this thread's CPU (the profiler's own sampling included)
                print(f"CPU per {kind} delivery: mean {sum(values) / len(values):.2f} ms  "
                      f"p50 {L.percentile(values, 50):.2f} ms  ({len(values)})")
            print(f"SQL statements of one first delivery ({len(first_sent or [])}):")
            for sql in first_sent or []:
                print("  " + " ".join(sql.split())[:110])
            counts = db_counts(db, sid, {o["out_trade_no"] for o in orders})
            print(f"db: {counts}")
            with app.app_context():
                sqla.engine.dispose()
            return 0 if set(statuses) == {204} and counts["payments_paid"] == args.orders else 1
        finally:
            redis.Redis.from_url(args.redis_url).flushdb()


def _profile_order(client, schedule_id, i: int, id_number: str) -> dict:
    """One resident books the schedule and opens a JSAPI payment through the test client."""
    def call(method, path, expect, **kw):
        r = client.open(path, method=method, **kw)
        if r.status_code != expect:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.get_data(as_text=True)[:300]}")
        return r.get_json()
    openid = f"storm-{i}"
    auth = {"Authorization": f"Bearer {call('POST', '/api/v1/auth/dev-login', 200, json={'openid': openid})['token']}"}
    patient = call("POST", "/api/v1/me/patients", 201, json=rush.resident_payload(i, id_number), headers=auth)
    appt = call("POST", "/api/v1/appointments", 201, json={"schedule_id": schedule_id, "patient_id": patient["id"]},
                headers=auth)
    order = call("POST", f"/api/v1/bills/{appt['bill_id']}/payments", 201, json={"method": "wechat_jsapi"},
                 headers=auth)
    return {"openid": openid, "out_trade_no": order["out_trade_no"], "amount_fen": order["amount_fen"]}


def main() -> int:
    """Entry point; exit 0 on PASS, 1 on FAIL, 2 if the bench itself could not run."""
    args = parse_args()
    if args.profile:
        return profile(args)
    return L.bench_main(args, run, report)


if __name__ == "__main__":
    sys.exit(main())
