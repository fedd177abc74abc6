"""Reusable pieces for local load benches: throwaway databases, a server process, concurrent firing."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import math
import os
import random
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

import _wire
import aiohttp
import psycopg
from psycopg import sql
from stdnum.cn import ric

ADMIN_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# stdnum rejects a region code for birth years before the county existed, so every code
# below is paired with birth years in which it is valid (all of them exist since 1985).
RIC_REGIONS = ("370902", "370911", "370102", "370103", "110101")
RIC_BIRTH_SPAN = (dt.date(1986, 1, 1), dt.date(2005, 12, 31))


class Deadline:
    """Absolute deadline shared by every step of a bench."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self, cap: float | None = None) -> float:
        """Seconds remaining (optionally capped); raises TimeoutError once expired."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("global bench deadline exceeded")
        return min(left, cap) if cap is not None else left


@contextlib.contextmanager
def throwaway_db(prefix: str, admin_url: str = ADMIN_PG_URL):
    """Create an empty PostgreSQL database, yield its name, drop it (even with open sessions)."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            # FORCE (PG 13+) kills leftovers, e.g. a gunicorn worker that ignored SIGTERM.
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def run_cli(argv: list[str], env: dict, cwd: str, timeout: float) -> str:
    """Run a command to completion and return its stdout; raise with its output if it fails."""
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on host:port (so we never bench someone else's server)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def start_group(argv: list[str], env: dict, cwd: str, log) -> subprocess.Popen:
    """Start a process in its own session/process group so the whole tree can be killed."""
    return subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it outlives the grace period."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone but workers may linger in the group; make sure they die too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return


def server_problems(log, limit: int = 10) -> list[str]:
    """The service's WARNING and ERROR lines in a gunicorn log (its JSON log lines), the first `limit` of them:
    a 5xx under load should come with its reason, whether or not the whole log was kept."""
    log.flush()
    log.seek(0)
    found = [line.strip()[:400] for line in log if '"level": "WARNING"' in line or '"level": "ERROR"' in line]
    log.seek(0, 2)
    return found[:limit]


def wait_http_ok(url: str, proc: subprocess.Popen, timeout: float) -> None:
    """Poll url until it answers 200; fail fast if proc dies, fail after timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before becoming healthy")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        time.sleep(0.2)
    raise TimeoutError(f"{url} not healthy after {timeout:.0f}s")


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no data."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def resident_ids(n: int, seed: int = 0) -> list[str]:
    """n distinct, stdnum-valid 18-digit resident identity numbers (deterministic per seed)."""
    rng, out, seen = random.Random(seed), [], set()
    span = (RIC_BIRTH_SPAN[1] - RIC_BIRTH_SPAN[0]).days
    while len(out) < n:
        born = RIC_BIRTH_SPAN[0] + dt.timedelta(days=rng.randrange(span + 1))
        first17 = f"{rng.choice(RIC_REGIONS)}{born:%Y%m%d}{rng.randrange(1, 1000):03d}"
        # calc_check_digit expects the full 18 chars and ignores the last one.
        number = first17 + ric.calc_check_digit(first17 + "0")
        if number not in seen:
            ric.validate(number)  # raises if our generator is wrong, rather than skewing the bench
            seen.add(number)
            out.append(number)
    return out


@dataclass
class Shot:
    """Outcome of one request: HTTP status (None on error), JSON body, latency, error name."""

    status: int | None
    body: object = None
    ms: float = 0.0
    error: str | None = None


@dataclass
class Volley:
    """All shots of one phase plus its wall time."""

    shots: list[Shot] = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self) -> dict:
        """Counts, latency percentiles and throughput of answered requests."""
        answered = [s for s in self.shots if s.status is not None]
        ms = [s.ms for s in answered]
        codes = Counter(s.body.get("code") for s in answered
                        if isinstance(s.body, dict) and s.status >= 400 and s.body.get("code"))
        return {
            "sent": len(self.shots), "answered": len(answered),
            "status": dict(Counter(str(s.status) for s in answered)),
            "codes": dict(codes),
            "errors": dict(Counter(s.error for s in self.shots if s.error)),
            "5xx": sum(1 for s in answered if s.status >= 500),
            "p50_ms": _round(percentile(ms, 50)), "p99_ms": _round(percentile(ms, 99)),
            "wall_s": round(self.wall_s, 3),
            "req_per_s": round(len(answered) / self.wall_s, 1) if self.wall_s else None,
        }


def _round(v: float | None) -> float | None:
    """Round a latency for display."""
    return None if v is None else round(v, 1)


def make_session(limit: int, timeout_s: float) -> aiohttp.ClientSession:
    """One client configuration for every measured phase so numbers stay comparable."""
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit, force_close=False)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s))


def add_client_option(parser) -> None:
    """--client: the lean generator (a fresh connection per request, bench/_wire.py) or aiohttp, as measured before."""
    parser.add_argument("--client", choices=("wire", "aiohttp"), default="wire",
                        help="load generator for the measured volleys (wire: lean, on uvloop; aiohttp: as before)")


def volley_session(args, limit: int):
    """The measured volleys' client: bench/_wire.py's, or an aiohttp session with `limit` connections."""
    if getattr(args, "client", "aiohttp") == "wire":
        return _wire.Fresh(args.request_timeout)
    return make_session(limit, args.request_timeout)


async def shoot(session, method: str, url: str, **kw) -> Shot:
    """Send one request and record status, decoded JSON (if any), latency or error."""
    t0 = time.perf_counter()
    if isinstance(session, _wire.Fresh):
        if set(kw) - {"headers", "json"}:
            raise TypeError(f"the lean client sends headers and a JSON body only, not {sorted(kw)}")
        try:
            status, headers, body = await _wire.exchange(session, method, url, kw.get("headers"), kw.get("json"))
        except (asyncio.TimeoutError, OSError, ValueError) as exc:
            return Shot(None, None, (time.perf_counter() - t0) * 1000, type(exc).__name__)
        return Shot(status, _wire.decoded(headers, body), (time.perf_counter() - t0) * 1000)
    try:
        async with session.request(method, url, **kw) as resp:
            text = await resp.text()
            body = None
            if resp.content_type == "application/json" and text:
                with contextlib.suppress(ValueError):
                    body = await resp.json()
            return Shot(resp.status, body, (time.perf_counter() - t0) * 1000)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        return Shot(None, None, (time.perf_counter() - t0) * 1000, type(exc).__name__)


async def volley(session: aiohttp.ClientSession, requests: list[tuple[str, str, dict]]) -> Volley:
    """Fire all (method, url, kwargs) at the same moment: every task waits on one gate."""
    if not requests:
        return Volley()
    gate, ready, all_ready = asyncio.Event(), 0, asyncio.Event()

    async def one(method: str, url: str, kw: dict) -> Shot:
        nonlocal ready
        ready += 1
        if ready == len(requests):
            all_ready.set()
        await gate.wait()
        return await shoot(session, method, url, **kw)

    tasks = [asyncio.create_task(one(m, u, kw)) for m, u, kw in requests]
    await all_ready.wait()
    t0 = time.perf_counter()
    gate.set()
    shots = await asyncio.gather(*tasks)
    return Volley(list(shots), time.perf_counter() - t0)


async def bounded(n: int, limit: int, job) -> list:
    """Run job(i) for i in range(n) with at most `limit` in flight; results in order."""
    sem = asyncio.Semaphore(limit)

    async def run(i: int):
        async with sem:
            return await job(i)

    return await asyncio.gather(*(run(i) for i in range(n)))


async def capped_volley(session: aiohttp.ClientSession, requests: list[tuple[str, str, dict]], limit: int) -> Volley:
    """Fire all (method, url, kwargs) with at most `limit` in flight; shots in input order.

    Each shot's latency starts when it gets a slot, so it is the server's answer time rather than
    time spent queued in this client; wall time runs from the first send to the last answer.
    """
    if not requests:
        return Volley()
    sem = asyncio.Semaphore(limit)

    async def one(method: str, url: str, kw: dict) -> Shot:
        async with sem:
            return await shoot(session, method, url, **kw)

    t0 = time.perf_counter()
    shots = await asyncio.gather(*(one(m, u, kw) for m, u, kw in requests))
    return Volley(list(shots), time.perf_counter() - t0)


BASELINE_ROUNDS = 3


async def baseline(fire, rounds: int = BASELINE_ROUNDS) -> tuple[Volley, list]:
    """The /healthz baseline: `rounds` runs of fire() (a coroutine function giving the phase's Volley), the run with
    the median rate, and every run's rate.

    A /healthz phase lasts half a second to two seconds; one such phase's rate moved by ±25 % between runs of the
    same code, which alone decided a ratio. The median of three follows no single slow or fast round.
    """
    volleys = [await fire() for _ in range(rounds)]
    rates = [v.summary()["req_per_s"] for v in volleys]
    ranked = sorted(volleys, key=lambda v: v.summary()["req_per_s"] or 0.0)
    return ranked[len(ranked) // 2], rates


def _alarm(signum, frame):
    """Backstop for the global deadline in case a step blocks past its own timeout."""
    raise TimeoutError("global bench deadline exceeded (alarm)")


def bench_main(args, run, report) -> int:
    """Shared entry point: run under the global deadline, print the report and the JSON line.

    Exit 0 on PASS, 1 on FAIL, 2 if the bench itself could not run.
    """
    import json
    import resource
    import signal
    import sys
    import traceback
    from pathlib import Path
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # one socket per concurrent request
    if getattr(args, "client", None) == "wire":
        import uvloop  # the lean generator's loop: asyncio's own costs it a third more CPU per request
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(args.timeout) + 5)
    try:
        result = run(args, Deadline(args.timeout))
    except Exception:  # setup/infra failure, not a bench verdict: distinct exit code
        traceback.print_exc()
        print("ERROR: the bench itself did not complete (see traceback above)", file=sys.stderr)
        return 2
    report(result)
    line = json.dumps(result, ensure_ascii=False)
    if args.json:
        Path(args.json).write_text(line + "\n")
    print(line)
    return 0 if result["pass"] else 1
