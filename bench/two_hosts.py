"""Two hosts: the service on two network namespaces sharing one PostgreSQL and one Redis; a booking rush split
between them must be exact across hosts, and each tick of the periodic jobs must run once across both.

Run from the repo root, as root (it makes network namespaces):
    .venv/bin/python bench/two_hosts.py [--residents 1000] [--capacity 50] [--cron both|one]
Host a and host b each run gunicorn and `flask --app wsgi worker`, both with the cron scheduler by default: only the
holder of the Redis cron lease runs it (patient_api/worker.py); --cron one starts it on host a only.
PostgreSQL and Redis are bench/_stack.py's own, on fresh ports in a temp dir, listening on the bridge between the
namespaces. See docs/two-hosts.md.
Exit 0 PASS, 1 FAIL, 2 the bench could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time

import _load as L
import _netns as N
import _stack as S
import psycopg
import redis
import rush as R
from rq.cron import CronScheduler, get_cron_job_history_key
from rq.job import Job
from rq.worker import Worker

from patient_api import worker as W

HOSTS = ("a", "b")
HTTP_PORT = 8000  # each host is its own network namespace: the same port on both, as on two machines
ACTIVE = R.ACTIVE
MAX_RESIDENTS = 5000
# A run closer than this fraction of the interval to its tick's first run is an extra run of that tick. Below 1 so
# that enqueue jitter under load (a few hundred ms at most) never looks like an extra run; at least 1/2 so that of a
# second scheduler's runs, at any phase, every other one is caught.
TICK_FRACTION = 0.75


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options (bounded)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--residents", type=int, default=1000, help=f"distinct residents in the rush (2..{MAX_RESIDENTS})")
    p.add_argument("--capacity", type=int, default=50, help="tickets in the rush schedule")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers per host")
    p.add_argument("--threads", type=int, default=4, help="gthread threads per gunicorn worker")
    p.add_argument("--cron", choices=("one", "both"), default="both",
                   help="hosts whose worker starts the cron scheduler (the lease lets one run at a time)")
    p.add_argument("--cron-window", type=float, default=20.0, help="least seconds both workers run, watched")
    p.add_argument("--cron-max-interval", type=int, default=5, help="check the periodic jobs this frequent")
    p.add_argument("--setup-concurrency", type=int, default=48)
    p.add_argument("--request-timeout", type=float, default=60.0)
    p.add_argument("--demo-days", type=int, default=1)
    p.add_argument("--timeout", type=float, default=600.0, help="global deadline, seconds")
    L.add_client_option(p)
    p.add_argument("--json", metavar="PATH", help="also write the result JSON here")
    args = p.parse_args(argv)
    if not 2 <= args.residents <= MAX_RESIDENTS or not 1 <= args.capacity <= args.residents:
        p.error(f"--residents must be 2..{MAX_RESIDENTS} and --capacity 1..residents")
    if not 5 <= args.cron_window <= 120 or not 1 <= args.workers <= 8:
        p.error("--cron-window must be 5..120 s and --workers 1..8")
    return args


class Servers(S.Stack):
    """bench/_stack.py's PostgreSQL and Redis, listening on the bridge; the keys every host shares come from the
    environment, as in production (no shared instance/ directory between hosts)."""

    def __init__(self, net: N.Net, args):
        super().__init__(args.workers, args.threads, log=lambda *_: None, host=net.gateway, trusted_net=net.cidr)
        self.keys = {"PATIENT_API_SECRET_KEY": secrets.token_urlsafe(48),
                     "PATIENT_API_DATA_KEY": secrets.token_urlsafe(48)}
        self.closed = False

    def env(self) -> dict:
        return {**super().env(), **self.keys}

    def close(self):
        """Once only (also registered with atexit)."""
        if self.closed:
            return []
        self.closed = True
        return super().close()


class Host:
    """One "machine": a network namespace with its own gunicorn and its own RQ worker."""

    def __init__(self, name: str, net: N.Net, servers: Servers):
        self.name, self.net, self.servers = name, net, servers
        self.addr = net.address(name)
        self.base = f"http://{self.addr}:{HTTP_PORT}"
        self.gunicorn = self.worker = None

    def env(self) -> dict:
        """The shared servers' environment, with this host's own disk and its own callback address."""
        tmp = self.servers.tmp
        (tmp / f"prometheus-{self.name}").mkdir(exist_ok=True)
        return {**self.servers.env(), "PATIENT_API_INSTANCE_DIR": str(tmp / f"instance-{self.name}"),
                "PROMETHEUS_MULTIPROC_DIR": str(tmp / f"prometheus-{self.name}"),
                "PATIENT_API_WECHATPAY_NOTIFY_URL": f"{self.base}/api/v1/payments/wechatpay/notify"}

    def spawn(self, argv: list[str], what: str) -> subprocess.Popen:
        """Start argv inside this host's namespace, tracked by the servers' process tracker."""
        return self.servers._spawn(self.net.exec_argv(self.name, argv), f"{what}-{self.name}", self.env())

    def start_gunicorn(self, args) -> None:
        tmp, bin_ = self.servers.tmp, S.VENV_BIN
        self.gunicorn = self.spawn([str(bin_ / "gunicorn"), "--workers", str(args.workers), "--threads",
                                    str(args.threads), "--worker-class", "gthread", "--bind",
                                    f"{self.addr}:{HTTP_PORT}", "--pid", str(tmp / f"gunicorn-{self.name}.pid"),
                                    "--control-socket", str(tmp / f"gunicorn-{self.name}.ctl"),
                                    "--graceful-timeout", "5", "--timeout", "60", "--backlog", "4096", "wsgi:app"],
                                   "gunicorn")

    def start_worker(self, with_cron: bool) -> None:
        argv = [str(S.VENV_BIN / "flask"), "--app", "wsgi", "worker"] + ([] if with_cron else ["--no-cron"])
        self.worker = self.spawn(argv, "worker")

    def ready(self) -> bool:
        """gunicorn answers /readyz (database and Redis reachable from this host); raises if a process died."""
        for what, proc in (("gunicorn", self.gunicorn), ("worker", self.worker)):
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"host {self.name}: {what} exited {proc.returncode}\n"
                                   + self.servers.log_tail(f"{what}-{self.name}"))
        return S.http_ok(f"{self.base}/readyz")

    def stop(self) -> None:
        """SIGTERM our own process groups (the worker's scheduler then leaves RQ's registry); the tracker kills the
        rest."""
        for proc in (self.worker, self.gunicorn):
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in (self.worker, self.gunicorn):
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)


def wait_ready(hosts: list[Host], deadline: L.Deadline) -> None:
    """Every host answers /readyz, failing fast when one of its processes exits."""
    end = time.monotonic() + deadline.left(120)
    while not all(h.ready() for h in hosts):
        if time.monotonic() > end:
            raise TimeoutError("hosts not ready")
        time.sleep(0.2)


def wait_workers(conn: redis.Redis, hosts: list[Host], schedulers: int, deadline: L.Deadline) -> dict:
    """Wait until both RQ workers and the expected cron schedulers registered in Redis; worker name -> host."""
    end = time.monotonic() + deadline.left(120)
    by_pid = {h.worker.pid: h.name for h in hosts}
    while time.monotonic() < end:
        for h in hosts:
            h.ready()
        names = {w.name: by_pid.get(w.pid) for w in Worker.all(connection=conn)}
        if sorted(n for n in names.values() if n) == sorted(by_pid.values()) and \
                len(CronScheduler.all(conn)) == schedulers:
            return names
        time.sleep(0.2)
    raise TimeoutError("RQ workers / cron schedulers did not register")


async def make_residents(hosts: list[Host], n: int, args) -> list[tuple[str, int]]:
    """Resident i logs in and adds a patient on host i % 2 (rush.py's payload): (token, patient id) pairs."""
    ids = L.resident_ids(n)
    async with L.make_session(args.setup_concurrency, args.request_timeout) as s:
        async def one(i: int) -> tuple[str, int]:
            base = hosts[i % 2].base
            login = await R.setup_call(s, "POST", f"{base}/api/v1/auth/dev-login", 200,
                                       json={"openid": f"two-hosts-{i}"})
            auth = {"Authorization": f"Bearer {login['token']}"}
            patient = await R.setup_call(s, "POST", f"{base}/api/v1/me/patients", 201,
                                         json=R.resident_payload(i, ids[i]), headers=auth)
            return login["token"], patient["id"]
        return await L.bounded(n, args.setup_concurrency, one)


def per_host(volley: L.Volley, where: list[str]) -> dict[str, L.Volley]:
    """Split one volley's shots by host; a host's wall time is its slowest answer (every shot left at the gate)."""
    out = {}
    for name in dict.fromkeys(where):
        shots = [s for s, w in zip(volley.shots, where, strict=True) if w == name]
        out[name] = L.Volley(shots, max((s.ms for s in shots), default=0.0) / 1000)
    return out


async def measure(hosts: list[Host], schedule_id, args) -> dict:
    """Residents, then the /healthz baseline on both hosts at once, then the rush on both hosts at once.

    Resident i books through the host it did NOT sign up on: sessions and patients live in the shared stores."""
    t0 = time.monotonic()
    residents = await make_residents(hosts, args.residents, args)
    setup_s = time.monotonic() - t0
    where = [hosts[(i + 1) % 2].name for i in range(len(residents))]
    base = {h.name: h.base for h in hosts}
    async with L.volley_session(args, len(residents)) as s:
        health = await L.volley(s, [("GET", f"{base[w]}/healthz", {}) for w in where])
    booking = [("POST", f"{base[w]}/api/v1/appointments",
                {"json": {"schedule_id": schedule_id, "patient_id": pid},
                 "headers": {"Authorization": f"Bearer {token}"}})
               for w, (token, pid) in zip(where, residents, strict=True)]
    async with L.volley_session(args, len(residents)) as s:
        rush = await L.volley(s, booking)
        sched = {}
        for h in hosts:  # both hosts must tell the same story
            shot = await L.shoot(s, "GET", f"{h.base}/api/v1/schedules/{schedule_id}",
                                 headers={"Authorization": f"Bearer {residents[0][0]}"})
            sched[h.name] = shot.body if shot.status == 200 and isinstance(shot.body, dict) else None
    return {"residents": len(residents), "setup_s": round(setup_s, 1), "health": per_host(health, where),
            "rush": per_host(rush, where), "rush_wall_s": round(rush.wall_s, 3), "schedule": sched}


def count_active(servers: Servers, schedule_id) -> int:
    """Active appointments for the schedule, straight from PostgreSQL (the source of truth)."""
    with psycopg.connect(servers.db_url) as conn:
        return conn.execute("SELECT count(*) FROM appointments WHERE schedule_id = %s AND status = ANY(%s)",
                            (schedule_id, list(ACTIVE))).fetchone()[0]


def cron_ticks(conn: redis.Redis, workers: dict, start: float, end: float, max_interval: int,
               deadline: L.Deadline) -> dict:
    """For each periodic job at most `max_interval` s apart: its runs enqueued in [start, end] (RQ's per-cron-job
    history in Redis, where every scheduler writes), how many were extra runs of a tick already enqueued (closer than
    3/4 interval to that tick's first run: one scheduler never does that, it waits a full interval after its last
    enqueue; a second scheduler, whatever its phase, makes every other run one), and which host's worker ran each."""
    jobs = [(f"{func.__module__}.{func.__name__}", seconds) for func, seconds in W.PERIODIC if seconds <= max_interval]
    wait_end = time.monotonic() + deadline.left(45)
    out = {}
    for name, seconds in jobs:
        ticks = conn.zrangebyscore(get_cron_job_history_key(name), start, end, withscores=True)
        ids, times = [t[0].decode() for t in ticks], [t[1] for t in ticks]
        while True:  # the window's last ticks may still be queued or running
            found = [j for j in Job.fetch_many(ids, connection=conn) if j is not None]
            status = [j.get_status() for j in found]
            if all(st == "finished" for st in status) or time.monotonic() > wait_end:
                break
            time.sleep(0.5)
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        extra, tick = 0, None
        for t in times:
            if tick is not None and t - tick < TICK_FRACTION * seconds:
                extra += 1
            else:
                tick = t
        ran_on: dict = {}
        for j in found:
            host = workers.get(j.worker_name, "?") if j.worker_name else "-"
            ran_on[host] = ran_on.get(host, 0) + 1
        out[name.rsplit(".", 1)[1]] = {
            "interval_s": seconds, "runs": len(ids), "ticks": len(ids) - extra, "extra_runs": extra,
            "expected_max": int((end - start) / (0.95 * seconds)) + 1,  # 0.95: enqueue times jitter by ms
            "min_gap_s": round(min(gaps), 3) if gaps else None,
            "finished": sum(1 for st in status if st == "finished"), "missing": len(ids) - len(found),
            "ran_on": dict(sorted(ran_on.items()))}
    return out


def run(args, deadline: L.Deadline) -> dict:
    """Make the network and the hosts, measure, check, and tear everything down (even on failure)."""
    t_start = time.monotonic()
    net = N.Net(list(HOSTS))
    servers, hosts, result = None, [], {"residents": args.residents, "capacity": args.capacity,
                                        "workers_per_host": args.workers, "threads": args.threads,
                                        "cron_mode": args.cron}
    try:
        net.up()
        servers = Servers(net, args)
        atexit.register(servers.close)
        servers.start_postgres()
        servers.start_redis()
        sid = R.parse_schedule_id(servers.prepare(args.demo_days, [args.capacity])[0])
        hosts = [Host(name, net, servers) for name in HOSTS]
        for h in hosts:
            h.start_gunicorn(args)
        for i, h in enumerate(hosts):
            h.start_worker(with_cron=i == 0 or args.cron == "both")
        wait_ready(hosts, deadline)
        conn = redis.Redis.from_url(servers.redis_url)
        workers = wait_workers(conn, hosts, 1, deadline)  # one lease, so one registered scheduler either way
        window_start = time.time()
        result["setup_s"] = round(time.monotonic() - t_start, 1)
        result["network"] = {"cidr": net.cidr, "servers": net.gateway,
                             "hosts": {h.name: h.addr for h in hosts}}
        result["cron_schedulers"] = [s.name for s in CronScheduler.all(conn)]
        m = asyncio.run(asyncio.wait_for(measure(hosts, sid, args), deadline.left()))
        result["db_active"] = count_active(servers, sid)
        rest = args.cron_window - (time.time() - window_start)
        if rest > 0:
            time.sleep(min(rest, deadline.left()))
        window_end = time.time()
        result["cron_window_s"] = round(window_end - window_start, 1)
        result["cron"] = cron_ticks(conn, workers, window_start, window_end, args.cron_max_interval, deadline)
        result["cron_schedulers_at_end"] = len(CronScheduler.all(conn))
        conn.close()
        fold(result, m)
    finally:
        signal.alarm(0)  # cleanup must not be cut short by the backstop alarm
        for h in hosts:
            h.stop()
        result["survivors"] = [p.pid for p in servers.close()] if servers is not None else []
        net.down()
        result["net_leftovers"] = net.leftovers()
    result["wall_s"] = round(time.monotonic() - t_start, 1)
    return evaluate(result)


def fold(result: dict, m: dict) -> None:
    """Per-host summaries and ratios into the result."""
    result.update(residents_made=m["residents"], residents_setup_s=m["setup_s"], rush_wall_s=m["rush_wall_s"],
                  schedule_api={k: (v or {}).get("available") for k, v in m["schedule"].items()})
    result["hosts"] = {}
    for name in HOSTS:
        b, h = m["rush"][name].summary(), m["health"][name].summary()
        taken = sum(1 for s in m["rush"][name].shots if s.status == 201)
        ratio = 100 * b["req_per_s"] / h["req_per_s"] if b["req_per_s"] and h["req_per_s"] else 0.0
        result["hosts"][name] = {"taken_201": taken, "booking": b, "healthz": h, "ratio_pct": round(ratio, 1)}


def evaluate(r: dict) -> dict:
    """The checks: exact across hosts, no 5xx, each cron tick once, nothing left behind."""
    hosts = r.get("hosts", {})
    taken = sum(h["taken_201"] for h in hosts.values())
    r["taken_201"] = taken
    cron = r.get("cron", {})
    r["checks"] = {
        "all_residents": r.get("residents_made") == r["residents"],
        "all_answered": bool(hosts) and all(h["booking"]["answered"] == h["booking"]["sent"] for h in hosts.values()),
        "no_5xx": bool(hosts) and all(h["booking"]["5xx"] == 0 and h["healthz"]["5xx"] == 0 for h in hosts.values()),
        "201_eq_db_eq_capacity": taken == r.get("db_active") == r["capacity"],
        "hosts_agree_sold_out": set(r.get("schedule_api", {}).values()) == {0},
        "cron_ticks_seen": bool(cron) and all(c["ticks"] >= 2 for c in cron.values()),
        "cron_each_tick_once": bool(cron) and all(c["extra_runs"] == 0 and c["runs"] <= c["expected_max"]
                                                  for c in cron.values()),
        "cron_runs_finished": bool(cron) and all(c["finished"] == c["runs"] for c in cron.values()),
        "nothing_left": r["survivors"] == [] and r["net_leftovers"] == []}
    r["pass"] = all(r["checks"].values())
    return r


def report(r: dict) -> None:
    """Human-readable figures."""
    net = r["network"]
    print(f"two hosts {net['hosts']} on {net['cidr']}, PostgreSQL+Redis on {net['servers']};"
          f" gunicorn {r['workers_per_host']}x{r['threads']} per host; cron on {r['cron_mode']}; "
          f"set-up {r['setup_s']} s, residents {r['residents_made']} in {r['residents_setup_s']} s, "
          f"wall {r['wall_s']} s")
    print(f"rush: {r['residents']} residents, capacity {r['capacity']}: 201s {r['taken_201']} "
          f"(a {r['hosts']['a']['taken_201']} + b {r['hosts']['b']['taken_201']})  db active {r['db_active']}  "
          f"api available {r['schedule_api']}  rush wall {r['rush_wall_s']} s")
    for name, h in r["hosts"].items():
        b, z = h["booking"], h["healthz"]
        print(f"host {name}: booking {b['req_per_s']} req/s p50 {b['p50_ms']} p99 {b['p99_ms']} ms  "
              f"status {b['status']}  errors {b['errors']} | healthz {z['req_per_s']} req/s p50 {z['p50_ms']} "
              f"p99 {z['p99_ms']} ms | "
              f"booking/healthz {h['ratio_pct']}%")
    print(f"cron: schedulers {len(r['cron_schedulers'])} {r['cron_schedulers']}, window {r['cron_window_s']} s")
    for name, c in r["cron"].items():
        print(f"  {name} every {c['interval_s']} s: ticks {c['ticks']} (at most {c['expected_max']}), runs "
              f"{c['runs']}, extra runs {c['extra_runs']}, min gap {c['min_gap_s']} s, "
              f"finished {c['finished']}, ran on {c['ran_on']}")
    print(f"left behind: processes {r['survivors']}, links/namespaces {r['net_leftovers']}")
    failed = [k for k, ok in r["checks"].items() if not ok]
    print("PASS" if r["pass"] else f"FAIL: {', '.join(failed)}")


def main() -> int:
    """Entry point; SIGTERM and Ctrl-C end the run through the same cleanup, with exit code 2."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    if os.geteuid() != 0:
        print("ERROR: two_hosts.py makes network namespaces: run it as root", file=sys.stderr)
        return 2
    try:
        return L.bench_main(parse_args(), run, report)
    except KeyboardInterrupt:  # run()'s finally has cleaned up by now
        print("ERROR: interrupted", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
