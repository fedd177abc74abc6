"""Faults on purpose: a booking rush and a notification storm while parts of the stack are killed, with figures.

Run from the repo root:  .venv/bin/python bench/faults.py [--residents 60] [--capacity 20] [--phase-seconds 20]
It starts its own PostgreSQL (initdb in a temp dir), its own Redis, gunicorn and the RQ worker on free ports of
127.0.0.1, and removes all of it afterwards. Phases, one after another, each with fresh residents rushing a
schedule of few tickets: baseline, SIGKILL of one gunicorn worker, SIGKILL of the RQ worker (then restarted),
Redis down (shut down with its data, restarted on the same port), PostgreSQL `pg_ctl restart -m fast`.
Exit 0 when every invariant holds and every fault recovered, 1 otherwise, 2 if the harness itself failed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import os
import random
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the _modules beside this file, also when imported

import _invariants as INV  # noqa: E402
import _stack as S  # noqa: E402
import _traffic as T  # noqa: E402
import psycopg  # noqa: E402

PHASES = ("baseline", "gunicorn_worker_kill", "rq_worker_kill", "redis_outage", "postgres_restart")


@dataclass
class Options:
    """Scale and timing of one run (the test uses small numbers, the bench moderate ones)."""

    residents: int = 60  # per phase, each with its own account and patient
    capacity: int = 20  # tickets of each phase's schedule (few: most residents find it sold out)
    abandon: float = 0.2  # share of residents who book and never pay (the sweeper frees their holds)
    phase_seconds: float = 20.0  # how long a phase's residents keep retrying
    workers: int = 3
    threads: int = 4
    storm_rate: float = 40.0  # replayed notifications per second, through every phase
    storm_threads: int = 4  # senders sharing that rate (replays of one order arrive side by side)
    redis_down_seconds: float = 10.0
    redis_mode: str = "restart"  # restart: SHUTDOWN SAVE then start again; freeze: SIGSTOP/SIGCONT
    rq_down_seconds: float = 2.0  # the RQ worker stays dead this long before it is restarted
    pay_wait_seconds: float = 60.0  # after each fault, wait this long at most for a new payment to settle
    settle_seconds: float = 120.0  # at the end, wait this long at most for payments and refunds to settle
    demo_days: int = 8
    seed: int = 1
    timeout: float = 900.0  # everything, set-up and teardown included


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else max(0, round(seconds * 1000))


# -- faults: each returns (monotonic time injected, monotonic time restored, extra figures) ----------------------
def fault_baseline(stack: S.Stack, opts: Options, rng: random.Random):
    t = time.monotonic()
    return t, t, {}


def fault_gunicorn_worker_kill(stack: S.Stack, opts: Options, rng: random.Random):
    victim = stack.busiest_gunicorn_worker()
    t = time.monotonic()
    os.kill(victim.pid, signal.SIGKILL)
    # The master replaces the worker on its own: restored at once; respawn is how long that took.
    back = S.wait_until(lambda: (len(ws := stack.gunicorn_workers()) == opts.workers
                                 and victim.pid not in {w.pid for w in ws}), 60, "replacement gunicorn worker")
    return t, t, {"respawn_ms": _ms(time.monotonic() - t) if back else None}


def fault_rq_worker_kill(stack: S.Stack, opts: Options, rng: random.Random):
    old = stack.worker.pid
    t = time.monotonic()
    left = stack.kill_worker()
    time.sleep(max(0.0, opts.rq_down_seconds - (time.monotonic() - t)))
    stack.start_worker()
    restored = time.monotonic()
    # What the dead worker left behind (its cron child) must notice and go by itself.
    with contextlib.suppress(TimeoutError):
        S.wait_until(lambda: not [p for p in stack.tracker.members() if p.pgid == old], 15, "orphans", 0.1)
    orphans = [p for p in stack.tracker.members() if p.pgid == old]
    return t, restored, {"left_at_kill": len(left), "orphans": len(orphans),
                         "orphans_gone_ms": None if orphans else _ms(time.monotonic() - t)}


def fault_redis_outage(stack: S.Stack, opts: Options, rng: random.Random):
    t = time.monotonic()
    if opts.redis_mode == "freeze":
        stack.freeze_redis(True)
    else:
        stack.stop_redis()
    time.sleep(max(0.0, opts.redis_down_seconds - (time.monotonic() - t)))
    if opts.redis_mode == "freeze":
        stack.freeze_redis(False)
    else:
        stack.start_redis()
    return t, time.monotonic(), {}


def fault_postgres_restart(stack: S.Stack, opts: Options, rng: random.Random):
    t = time.monotonic()
    stack.restart_postgres()
    return t, time.monotonic(), {}


FAULTS = {name: globals()[f"fault_{name}"] for name in PHASES}


# -- one phase -----------------------------------------------------------------------------------------------------
def wait_paid(db_url: str, out_trade_no: str, timeout: float) -> float | None:
    """Monotonic time at which the database shows the order paid, or None."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with psycopg.connect(db_url, connect_timeout=2) as conn:
                row = conn.execute("SELECT status FROM payments WHERE out_trade_no = %s", (out_trade_no,)).fetchone()
            if row and row[0] == "paid":
                return time.monotonic()
        except psycopg.Error:
            pass
        time.sleep(0.1)
    return None


def wait_first_answer(rec: T.Recorder, kind: str, since: float, timeout: float) -> None:
    """Return once the first `kind` request sent after `since` has its answer (the rest are still in flight)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and not any(s.kind == kind and s.t0 >= since for s in rec.shots[-500:]):
        time.sleep(0.01)


def run_phase(name, stack, opts, rec, prober, paid, residents, probe, schedule_id, probe_schedule, rng):
    """Rush one schedule, inject the fault while requests are in flight, measure recovery and a new payment."""
    t_start = time.monotonic()
    deadline = t_start + opts.phase_seconds
    pays = [i >= round(len(residents) * opts.abandon) for i in range(len(residents))]
    rng.shuffle(pays)  # abandoners must not be the first to start (they would win most tickets)
    with ThreadPoolExecutor(max(1, len(residents))) as pool:
        futures = [pool.submit(T.book_and_pay, rec, r, schedule_id, pay, deadline, paid)
                   for r, pay in zip(residents, pays, strict=True)]
        wait_first_answer(rec, "book", t_start, 3.0)  # the fault lands in the middle of the rush
        t_fault, t_restored, extra = FAULTS[name](stack, opts, rng)
        t_ok = prober.first_ok_after(t_restored, opts.phase_seconds + 30)
        # A fresh resident books and pays right after the fault: how long until money arrives in the database?
        out = T.book_and_pay(rec, probe, probe_schedule, True, time.monotonic() + opts.phase_seconds + 30)
        t_paid = wait_paid(stack.db_url, out.out_trade_no, opts.pay_wait_seconds) if out.out_trade_no else None
        wait(futures, timeout=max(1.0, deadline - time.monotonic() + 15))
        outcomes = [f.result() for f in futures if f.done()]
    t_end = time.monotonic()
    # By answer time: a request in flight when the fault struck belongs to the fault.
    during = [s for s in rec.shots if s.t1 >= t_fault and s.t0 < t_end]
    before = [s for s in rec.shots if t_start <= s.t0 and s.t1 < t_fault]
    return {"name": name, "schedule_id": schedule_id, "down_ms": _ms(t_restored - t_fault),
            "recovery_ms": _ms(t_ok - t_restored) if t_ok else None,
            "pay_ms": _ms(t_paid - t_restored) if t_paid else None,
            "requests": len(during), "failed": sum(s.failed for s in during),
            "conn_errors": sum(s.status is None for s in during),
            "http_500": sum(s.status == 500 for s in during), "http_503": sum(s.status == 503 for s in during),
            "failed_before_fault": sum(s.failed for s in before),
            "failures": dict(sorted(_count(f"{s.kind}:{s.status or s.error}" for s in before + during
                                           if s.failed).items())),
            "residents": len(residents), "booked": sum(o.booked is not None for o in outcomes),
            "paid": sum(o.result == "paid" for o in outcomes), "unfinished": len(residents) - len(outcomes),
            "results": dict(sorted(_count(o.result for o in outcomes).items())), "extra": extra,
            "_paid_wall": {o.out_trade_no: o.paid_wall for o in outcomes if o.paid_wall}}


def _count(items) -> dict:
    counts: dict = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


# -- the end: let the worker settle, lapse the abandoned holds, sweep, check ---------------------------------------
def settle(stack: S.Stack, schedule_ids: list[str], timeout: float) -> float:
    """Wait until no payment is lost and no refund is pending (or timeout); returns seconds waited."""
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        found = INV.check(stack.db_url, stack.redis_url, schedule_ids)
        if not any(v["lost_payments"] or v["refunds_pending"] for v in found.values()):
            break
        time.sleep(1.0)
    return time.monotonic() - t


def free_tickets(db_url: str, schedule_ids: list[str]) -> dict[str, int]:
    """Tickets nobody holds, per schedule (before the abandoned holds lapse)."""
    with psycopg.connect(db_url) as conn:
        return dict(conn.execute("SELECT schedule_id, count(*) FROM tickets WHERE status = 'free' "
                                 "AND schedule_id = ANY(%s) GROUP BY 1", (schedule_ids,)).fetchall())


def lapse_holds(stack: S.Stack, schedule_ids: list[str]) -> int:
    """The residents who never paid walk away: their holds' time is moved to the past (as if HOLD_MINUTES passed)."""
    past = INV.utc_now() - dt.timedelta(seconds=1)
    with psycopg.connect(stack.db_url) as conn:
        ids = [r[0] for r in conn.execute("UPDATE appointments SET hold_expires_at = %s WHERE status = "
                                          "'pending_payment' AND hold_expires_at > %s AND schedule_id = ANY(%s) "
                                          "RETURNING id", (past, past, schedule_ids))]
        conn.execute("UPDATE tickets SET hold_expires_at = %s WHERE appointment_id = ANY(%s) AND status = 'held'",
                     (past, ids))
    return len(ids)


def settle_times(db_url: str, paid_wall: dict[str, float]) -> list[float]:
    """Per paid order: seconds from the sandbox's "paid" to the database's paid_at."""
    if not paid_wall:
        return []
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT out_trade_no, paid_at FROM payments WHERE out_trade_no = ANY(%s) "
                            "AND paid_at IS NOT NULL", (list(paid_wall),)).fetchall()
    return [max(0.0, at.replace(tzinfo=dt.timezone.utc).timestamp() - paid_wall[n]) for n, at in rows]


def run(opts: Options, log=print) -> dict:
    """Start the stack, run every phase, check the invariants, stop everything; returns the figures."""
    t0 = time.monotonic()
    global_deadline = t0 + opts.timeout
    rng = random.Random(opts.seed)
    stack = S.Stack(opts.workers, opts.threads, log)
    result: dict = {"options": dataclasses.asdict(opts), "phases": []}
    storms, prober = [], None
    try:
        stack.start_postgres()
        stack.start_redis()
        schedules = stack.prepare(opts.demo_days, [opts.capacity] * len(PHASES) + [len(PHASES) + 2])
        probe_schedule, phase_schedules = schedules[-1], schedules[:-1]
        stack.start_gunicorn()
        stack.start_worker()
        result["setup_s"] = round(time.monotonic() - t0, 1)
        log(f"stack up in {result['setup_s']} s: {stack.base}, postgres :{stack.pg_port}, redis :{stack.redis_port}")
        rec = T.Recorder(stack.base)
        n = opts.residents
        everyone = T.make_residents(rec, n * len(PHASES) + len(PHASES), opts.seed, 16, global_deadline)
        paid = T.PaidOrders()
        prober = T.Prober(stack.base, 0.05, global_deadline)
        storms = [T.Storm(rec, stack.env(), stack.db_url, paid, opts.storm_rate / opts.storm_threads,
                          global_deadline, seed=i) for i in range(opts.storm_threads)]
        prober.start()
        for storm in storms:
            storm.start()
        for i, name in enumerate(PHASES):
            group, probe = everyone[i * n:(i + 1) * n], everyone[n * len(PHASES) + i]
            phase = run_phase(name, stack, opts, rec, prober, paid, group, probe, phase_schedules[i],
                              probe_schedule, rng)
            result["phases"].append(phase)
            log(f"{name}: recovery {phase['recovery_ms']} ms, new payment settled {phase['pay_ms']} ms, "
                f"failed {phase['failed']}/{phase['requests']}")
        for storm in storms:
            storm.halt.set()
            storm.join(15)
        result["storm_sent"] = sum(storm.sent for storm in storms)
        result["settle_wait_s"] = round(settle(stack, schedules, opts.settle_seconds), 1)
        free = free_tickets(stack.db_url, schedules)
        for phase in result["phases"]:
            phase["left_free"] = free.get(phase["schedule_id"], 0)
        result["holds_lapsed"] = lapse_holds(stack, schedules)
        result["swept"] = stack.cli("jobs", "sweep-holds").strip()
        found = INV.check(stack.db_url, stack.redis_url, schedules)
        result["probe_invariants"] = found[probe_schedule]
        for phase in result["phases"]:
            phase["invariants"] = found[phase["schedule_id"]]
            times = settle_times(stack.db_url, phase.pop("_paid_wall"))
            phase["settle_max_ms"] = _ms(max(times)) if times else None
        result["requests"] = len(rec.shots)
    finally:
        for thread in (*storms, prober):
            if thread is not None:
                thread.halt.set()
                thread.join(15)
        survivors = stack.close()
        result["survivors"] = [p.pid for p in survivors]
        result["wall_s"] = round(time.monotonic() - t0, 1)
    result["violations"] = violations(result)
    result["pass"] = not result["violations"]
    return result


def violations(result: dict) -> list[str]:
    """Every broken invariant or missing recovery, named (empty when the run passed)."""
    out = []
    for phase in result["phases"]:
        for key, value in phase.get("invariants", {}).items():
            if value:
                out.append(f"{phase['name']}: {key} = {value}")
        for key in ("recovery_ms", "pay_ms"):
            if phase[key] is None:
                out.append(f"{phase['name']}: no {key.removesuffix('_ms')} (never recovered)")
        if phase["extra"].get("orphans"):
            out.append(f"{phase['name']}: {phase['extra']['orphans']} processes of the killed worker still run")
    for key, value in result.get("probe_invariants", {}).items():
        if value:
            out.append(f"probe payments: {key} = {value}")
    if len(result["phases"]) != len(PHASES):
        out.append("not every phase ran")
    if result.get("survivors"):
        out.append(f"processes left running: {result['survivors']}")
    return out


# -- report --------------------------------------------------------------------------------------------------------
COLUMNS = (("fault", "name"), ("down ms", "down_ms"), ("recovery ms", "recovery_ms"), ("new pay ms", "pay_ms"),
           ("max settle ms", "settle_max_ms"), ("requests", "requests"), ("failed", "failed"),
           ("conn err", "conn_errors"), ("500", "http_500"), ("503", "http_503"), ("booked", "booked"),
           ("paid", "paid"))
SHORT = {"oversold": "oversold", "double_charges": "double charge", "lost_payments": "lost pay",
         "orphan_holds": "orphan hold", "duplicate_messages": "dup msg", "available_drift": "avail drift",
         "duplicate_webhooks": "dup webhook", "refunds_pending": "refund pend"}


def table(rows: list[list]) -> str:
    """A plain text table; the first row is the header."""
    cells = [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(v.rjust(w) if j else v.ljust(w) for j, (v, w) in enumerate(zip(row, widths, strict=True)))
             for row in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def report(result: dict, out=print) -> None:
    """The figures: one row per fault for recovery and failures, one per fault for the invariants."""
    o = result["options"]
    out(f"residents {o['residents']}/phase, capacity {o['capacity']}, abandon {o['abandon']:.0%}, gunicorn "
        f"{o['workers']}x{o['threads']}, storm {o['storm_rate']}/s, redis down {o['redis_down_seconds']} s "
        f"({o['redis_mode']}), set-up {result.get('setup_s')} s, wall {result.get('wall_s')} s")
    phases = result["phases"]
    out(table([[c for c, _ in COLUMNS]] + [[p.get(k) for _, k in COLUMNS] for p in phases]))
    for p in phases:
        detail = {**p["extra"], "failed_before_fault": p["failed_before_fault"], "left_free": p.get("left_free"),
                  "failures": p["failures"]}
        out(f"  {p['name']}: {json.dumps(detail)} outcomes {json.dumps(p['results'])}")
    if phases and "invariants" in phases[0]:
        out(table([["fault", *SHORT.values()]]
                  + [[p["name"], *(p["invariants"][k] for k in SHORT)] for p in phases]))
    out(f"storm replays {result.get('storm_sent')}, requests {result.get('requests')}, settle wait "
        f"{result.get('settle_wait_s')} s, holds lapsed {result.get('holds_lapsed')} ({result.get('swept')}), "
        f"processes left {len(result.get('survivors', []))}")
    out("PASS" if result["pass"] else "FAIL: " + "; ".join(result["violations"]))


def parse_args(argv=None) -> tuple[Options, argparse.Namespace]:
    """Options from the command line (defaults: a moderate run)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Options()
    for f in dataclasses.fields(Options):
        flag = "--" + f.name.replace("_", "-")
        kind = type(getattr(defaults, f.name))
        p.add_argument(flag, type=kind, default=getattr(defaults, f.name), help=f"default {getattr(defaults, f.name)}")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    args = p.parse_args(argv)
    opts = Options(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Options)})
    if opts.residents < 2 or not 1 <= opts.capacity <= 500 or opts.residents > 500:
        p.error("--residents must be 2..500 and --capacity 1..500")
    if opts.redis_mode not in ("restart", "freeze"):
        p.error("--redis-mode is restart or freeze")
    return opts, args


def main(argv=None) -> int:
    """Entry point: 0 pass, 1 an invariant broke or a fault never recovered, 2 the harness itself failed."""
    opts, args = parse_args(argv)
    try:
        result = run(opts)
    except Exception:
        import traceback
        traceback.print_exc()
        print("ERROR: the harness itself did not complete", file=sys.stderr)
        return 2
    report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
