"""Traffic for the fault harness: residents who book and pay (retrying like a phone would), a notification storm
replaying WeChat Pay's signed notifications, and a /readyz prober. Every request is recorded with its time."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
import redis
import requests
from stdnum.cn import ric

from patient_api.billing.wechatpay import RedisStore, WechatPaySettings, build_client

NOTIFY_PATH = "/api/v1/payments/wechatpay/notify"
RETRY_STATUSES = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class Shot:
    """One request: when it was sent and answered (monotonic s), what it was, and how it ended."""

    t0: float
    t1: float
    kind: str
    status: int | None
    error: str | None = None

    @property
    def failed(self) -> bool:
        """No answer, or a server error (4xx are answers: sold out, rate limited, …)."""
        return self.status is None or self.status >= 500


@dataclass
class Resident:
    """A dev-login account with one patient."""

    index: int
    token: str = ""
    patient_id: str = ""


@dataclass
class Outcome:
    """What one resident got in a wave."""

    resident: int
    booked: str | None = None  # appointment id
    bill_id: str | None = None
    out_trade_no: str | None = None
    paid_wall: float | None = None  # time.time() when the sandbox said "paid"
    result: str = "not_started"


class Recorder:
    """Sends requests (one requests.Session per thread) and keeps every Shot."""

    def __init__(self, base: str, timeout: float = 10.0):
        self.base, self.timeout = base, timeout
        self.shots: list[Shot] = []
        self._lock, self._local = threading.Lock(), threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "s"):
            self._local.s = requests.Session()
        return self._local.s

    def call(self, kind: str, method: str, path: str, token: str | None = None, **kw) -> tuple[int | None, object]:
        """One request; returns (status or None, JSON body or None)."""
        headers = dict(kw.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        t0 = time.monotonic()
        status = body = error = None
        try:
            resp = self._session().request(method, self.base + path, headers=headers, timeout=self.timeout, **kw)
            status = resp.status_code
            with contextlib.suppress(ValueError):
                body = resp.json()
        except requests.RequestException as exc:
            error = type(exc).__name__
            self._local.s = requests.Session()  # a broken keep-alive connection must not poison the next call
        with self._lock:
            self.shots.append(Shot(t0, time.monotonic(), kind, status, error))
        return status, body

    def persist(self, kind: str, method: str, path: str, deadline: float, token: str | None = None,
                **kw) -> tuple[int | None, object]:
        """Retry on no answer, 429, 5xx and "request in progress" with backoff until an answer or the deadline."""
        pause = 0.1
        while True:
            status, body = self.call(kind, method, path, token, **kw)
            # 409 request_in_progress: our earlier try (timed out here) still runs there; ask again later.
            in_progress = status == 409 and isinstance(body, dict) and body.get("code") == "request_in_progress"
            if status is not None and status not in RETRY_STATUSES and not in_progress:
                return status, body
            if time.monotonic() + pause >= deadline:
                return status, body
            time.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(pause * 2, 1.0)


def resident_ids(n: int, seed: int) -> list[str]:
    """n distinct, valid 18-digit resident identity numbers (deterministic per seed)."""
    rng, out = random.Random(seed), set()
    first_day, span = dt.date(1986, 1, 1), 7000
    while len(out) < n:
        born = first_day + dt.timedelta(days=rng.randrange(span))
        first17 = f"{rng.choice(('370902', '370102', '110101'))}{born:%Y%m%d}{rng.randrange(1, 1000):03d}"
        out.add(first17 + ric.calc_check_digit(first17 + "0"))
    return sorted(out)


def make_residents(rec: Recorder, n: int, seed: int, concurrency: int, deadline: float) -> list[Resident]:
    """Log in n residents and give each a patient (before any fault: these must all succeed)."""
    ids = resident_ids(n, seed)

    def one(i: int) -> Resident:
        r = Resident(i)
        status, body = rec.persist("setup", "POST", "/api/v1/auth/dev-login", deadline,
                                   json={"openid": f"faults-{seed}-{i}"})
        if status != 200:
            raise RuntimeError(f"dev-login {i}: {status} {body}")
        r.token = body["token"]
        name = "李" + "".join("零一二三四五六七八九"[int(d)] for d in str(i))
        status, body = rec.persist("setup", "POST", "/api/v1/me/patients", deadline, r.token,
                                   json={"name": name, "id_number": ids[i], "phone": f"139{i:08d}",
                                         "relation": "self"}, headers={"Idempotency-Key": uuid.uuid4().hex})
        if status != 201:
            raise RuntimeError(f"add patient {i}: {status} {body}")
        r.patient_id = body["id"]
        return r

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(n)))


def book_and_pay(rec: Recorder, r: Resident, schedule_id: str, pay: bool, deadline: float,
                 paid: PaidOrders | None = None) -> Outcome:
    """Book (Idempotency-Key kept across retries), open a JSAPI order, pay it in the sandbox."""
    out = Outcome(r.index)
    status, body = rec.persist("book", "POST", "/api/v1/appointments", deadline, r.token,
                               json={"schedule_id": schedule_id, "patient_id": r.patient_id},
                               headers={"Idempotency-Key": uuid.uuid4().hex})
    if status != 201:
        out.result = f"book:{status}:{(body or {}).get('code') if isinstance(body, dict) else None}"
        return out
    out.booked, out.bill_id, out.result = body["id"], body["bill_id"], "held"
    if not pay:
        return out
    status, body = rec.persist("order", "POST", f"/api/v1/bills/{out.bill_id}/payments", deadline, r.token,
                               json={"method": "wechat_jsapi"}, headers={"Idempotency-Key": uuid.uuid4().hex})
    if status != 201:
        out.result = f"order:{status}"
        return out
    out.out_trade_no = body["out_trade_no"]
    status, body = rec.persist("pay", "POST", f"/api/v1/sandbox/wechatpay/orders/{out.out_trade_no}/pay",
                               deadline, r.token)
    if status != 200:
        out.result = f"pay:{status}"
        return out
    out.paid_wall, out.result = time.time(), "paid"
    if paid is not None:
        paid.add(out.out_trade_no)
    return out


@dataclass
class PaidOrders:
    """Orders the harness paid in the sandbox, and those of them the database already shows paid."""

    # The storm replays only settled orders: a replay must never do the worker's job of the first delivery.

    numbers: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, out_trade_no: str) -> None:
        with self.lock:
            self.numbers.append(out_trade_no)

    def refresh(self, db_url: str) -> None:
        """Pick up which of our orders the database shows paid (skipped while the database is away)."""
        with self.lock:
            waiting = [n for n in self.numbers if n not in set(self.settled)]
        if not waiting:
            return
        with contextlib.suppress(psycopg.Error), psycopg.connect(db_url, connect_timeout=2) as conn:
            rows = conn.execute("SELECT out_trade_no FROM payments WHERE status = 'paid' AND out_trade_no = ANY(%s)",
                                (waiting,)).fetchall()
            with self.lock:
                self.settled.extend(r[0] for r in rows)

    def pick(self, rng: random.Random) -> str | None:
        with self.lock:
            return rng.choice(self.settled) if self.settled else None


class Storm(threading.Thread):
    """Replays TRANSACTION.SUCCESS for paid orders, freshly signed by the sandbox (as WeChat re-sends)."""

    def __init__(self, rec: Recorder, env: dict, db_url: str, paid: PaidOrders, rate: float, stop_at: float,
                 seed: int = 0):
        super().__init__(daemon=True, name=f"storm-{seed}")
        self.rec, self.db_url, self.paid, self.rate, self.stop_at = rec, db_url, paid, rate, stop_at
        self.seed = seed
        self.halt = threading.Event()
        config = {key: env.get(f"PATIENT_API_{key}") for key in ("WECHATPAY_MODE", "WECHAT_APPID",
                                                                 "WECHATPAY_NOTIFY_URL", "WECHATPAY_MCHID")}
        self._redis = redis.Redis.from_url(env["REDIS_URL"], socket_timeout=2, socket_connect_timeout=1)
        self._client = None
        self._config = config
        self._cache: dict[str, tuple[dict, bytes, float]] = {}
        self.sent = 0

    def _wire(self, out_trade_no: str) -> tuple[dict, bytes] | None:
        """A fresh signature when the sandbox (Redis) answers, else the last one (still within WeChat's 5 min)."""
        try:
            if self._client is None:
                _settings, self._client = build_client(WechatPaySettings.from_config(self._config),
                                                       RedisStore(self._redis))
            headers, body = self._client.simulate_payment(out_trade_no, None, time.time())
            self._cache[out_trade_no] = (headers, body, time.time())
            return headers, body
        except Exception:  # Redis down: replay what we have, if it is not too old to be accepted
            cached = self._cache.get(out_trade_no)
            if cached and time.time() - cached[2] < 240:
                return cached[0], cached[1]
            return None

    def run(self) -> None:
        rng, refreshed = random.Random(self.seed), 0.0
        while not self.halt.is_set() and time.monotonic() < self.stop_at:
            started = time.monotonic()
            if started - refreshed > 1.0:
                self.paid.refresh(self.db_url)
                refreshed = time.monotonic()
            number = self.paid.pick(rng)
            wire = self._wire(number) if number else None
            if wire is not None:
                self.rec.call("notify", "POST", NOTIFY_PATH, data=wire[1], headers=wire[0])
                self.sent += 1
            self.halt.wait(max(0.0, 1.0 / self.rate - (time.monotonic() - started)))  # the rate, not a gap
        self._redis.close()


class Prober(threading.Thread):
    """GET /readyz every `interval` seconds; keeps (monotonic time, ok)."""

    def __init__(self, base: str, interval: float, stop_at: float):
        super().__init__(daemon=True, name="prober")
        self.url, self.interval, self.stop_at = base + "/readyz", interval, stop_at
        self.halt = threading.Event()
        self.samples: list[tuple[float, bool]] = []

    def run(self) -> None:
        session = requests.Session()
        while not self.halt.is_set() and time.monotonic() < self.stop_at:
            t = time.monotonic()
            try:
                ok = session.get(self.url, timeout=2).status_code == 200
            except requests.RequestException:
                ok, session = False, requests.Session()
            self.samples.append((t, ok))
            self.halt.wait(self.interval)

    def first_ok_after(self, t: float, timeout: float) -> float | None:
        """Monotonic time of the first good probe sent at or after t (waits for it up to timeout)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for when, ok in list(self.samples):
                if when >= t and ok:
                    return when
            time.sleep(self.interval)
        return None
