"""RQ worker entry points: the periodic jobs and the process that runs them."""
import contextlib
import functools
import logging
import multiprocessing
import os
import secrets
import signal
import socket
import threading
import time

import redis as redis_lib
from rq import Queue, Worker
from rq.cron import CronScheduler
from rq.exceptions import NoSuchJobError, StopRequested
from rq.job import Job, JobStatus
from rq.utils import now as rq_now

from .common import observability
from .common.jobs import QUEUE

log = logging.getLogger("patient_api.worker")
# RQ's own per-job lines (dequeued, OK, completed, result kept; enqueued by cron) would be several a second on an
# idle worker, and its job descriptions carry arguments (openids): RQ says only warnings and errors.
RQ_LOG_LEVEL = "WARNING"
_app = None
_app_pid = None


def did_work(result):
    """False for what an idle run returns: 0, None, empty, or counts that are all zero."""
    if isinstance(result, dict):
        return any(did_work(value) for value in result.values())
    if isinstance(result, (list, tuple)):
        return any(did_work(value) for value in result)
    return bool(result)


def periodic(func):
    """One log line per run: INFO with its counts when it did something, DEBUG when it found nothing to do."""
    @functools.wraps(func)
    def logged():
        started = time.perf_counter()
        result = func()
        log.log(logging.INFO if did_work(result) else logging.DEBUG, "%s: %r in %.0f ms", func.__name__, result,
                (time.perf_counter() - started) * 1000)
        return result
    return logged


def _app_context():
    """Jobs run inside the app the worker built before forking (or one built here, once per process)."""
    global _app, _app_pid
    if _app is None:
        from . import create_app
        _app, _app_pid = create_app(), os.getpid()
    if _app_pid != os.getpid():
        # A forked work horse: the parent's pooled connections are not this process's to use (or to close).
        from .extensions import db
        with _app.app_context():
            for engine in db.engines.values():
                engine.dispose(close=False)
        _app_pid = os.getpid()
    return _app.app_context()


def preload(app):
    """Keep the worker's app, its mappers configured, in the main process: RQ forks a work horse per job, and a horse
    that had to build them itself spent ~1.3 s of CPU on every job (an idle worker kept a core busy, fell behind when
    loaded, and a payment notification waited behind the backlog)."""
    global _app, _app_pid
    from sqlalchemy.orm import configure_mappers
    configure_mappers()  # else each horse configures every mapper again on its first query (~0.1 s)
    _app, _app_pid = app, os.getpid()


@periodic
def sweep_holds():
    """Free tickets of unpaid holds whose 15 minutes ran out."""
    from .booking.lifecycle import sweep_expired_holds
    with _app_context():
        return sweep_expired_holds()


@periodic
def mark_no_shows():
    """Mark booked appointments of ended sessions as no-shows."""
    from .booking.lifecycle import mark_no_shows as mark
    with _app_context():
        return mark()


@periodic
def purge_idempotency_keys():
    """Drop idempotency keys past their retention."""
    from .common.idempotency import purge_expired
    from .extensions import db
    with _app_context():
        count = purge_expired()
        db.session.commit()
        return count


@periodic
def query_payments():
    """Find paid orders whose notification was lost; close unpaid ones past their time."""
    from .billing.jobs import query_payments as run
    with _app_context():
        return run()


@periodic
def submit_refunds():
    """Send reserved refunds to WeChat and settle their answers."""
    from .billing.jobs import submit_refunds as run
    with _app_context():
        return run()


@periodic
def deliver_hospital_webhooks():
    """Drain the outbox of hospital callbacks."""
    from .common import outbox
    from .integration.webhooks import send
    with _app_context():
        return outbox.drain("hospital_webhook", send)


@periodic
def offer_waitlist():
    """候补: offer freed tickets to waiters in order, settle offers, close queues at 23:00 the day before."""
    from .booking.offers import run
    with _app_context():
        return run()


@periodic
def release_reserved_tickets():
    """号源预留: tickets kept for referrals or elders whose release time passed go to the public."""
    from .booking.pools import release_job
    with _app_context():
        return release_job()


@periodic
def deliver_wechat_messages():
    """Drain the outbox of WeChat template/subscribe messages."""
    from .wechat.messages import deliver
    with _app_context():
        return deliver()


@periodic
def remind_visits():
    """Queue tomorrow's visit reminders (once per appointment)."""
    from .wechat.jobs import remind_visits as run
    with _app_context():
        return run()


@periodic
def warn_low_deposits():
    """Queue deposit.low for stays below their hospital's mark (once per stay per day)."""
    from .wechat.jobs import warn_low_deposits as run
    with _app_context():
        return run()


def record_subscription(openid, subscribed, create_time):
    """A follow or unfollow of the official account, queued by the callback."""
    from .wechat.subscriptions import record
    with _app_context():
        return record(openid, subscribed, create_time)


@periodic
def deliver_sms():
    """Send queued text messages (verification codes): a resident is waiting, so this runs every 2 s."""
    from . import sms
    with _app_context():
        return sms.deliver()


@periodic
def deliver_sandbox_notifications():
    """Sandbox mode: post the queued, signed WeChat Pay notifications to our own endpoint."""
    from .billing.sandbox_routes import deliver
    from .common import outbox
    with _app_context():
        return outbox.drain("wechatpay_sandbox", deliver)


@periodic
def lapse_homecare_requests():
    """互联网+护理: requests nobody reviewed in time lapse (the family is told, the dispatchers alerted)."""
    from .homecare.jobs import lapse_requests
    with _app_context():
        return lapse_requests()


@periodic
def alert_overdue_homecare_visits():
    """互联网+护理: alert the dispatchers (once) about visits with no check-out long after check-in."""
    from .homecare.jobs import alert_overdue_visits
    with _app_context():
        return alert_overdue_visits()


@periodic
def deliver_staff_messages():
    """Drain the outbox of staff messages (dispatchers' and nurses' home-care news)."""
    from .homecare.notices import deliver
    with _app_context():
        return deliver()


@periodic
def settle_credit_days():
    """先诊疗后付费: settle each patient's open credit bills of days already over."""
    from .credit.jobs import close_days
    with _app_context():
        return close_days()


@periodic
def deduct_credit():
    """无感支付: start due 委托代扣 deductions, follow those under way, retry failures with backoff."""
    from .credit.deductions import run
    with _app_context():
        return run()


@periodic
def remind_credit():
    """Overdue settlements: reminders at D+1, D+3, D+7; city-wide suspension past the grace period."""
    from .credit.jobs import remind_and_suspend
    with _app_context():
        return remind_and_suspend()


@periodic
def family_doctor_upkeep():
    """家庭医生签约: expire contracts past their end, renewal reminders (once), follow-up reminders (once a period)."""
    from .family.jobs import run
    with _app_context():
        return run()


PERIODIC = [(deliver_sandbox_notifications, 2), (deliver_sms, 2), (sweep_holds, 30), (mark_no_shows, 600),
            (purge_idempotency_keys, 3600), (query_payments, 5), (submit_refunds, 10),
            (deliver_hospital_webhooks, 10), (offer_waitlist, 10), (release_reserved_tickets, 60),
            (deliver_wechat_messages, 5), (remind_visits, 3600), (warn_low_deposits, 3600),
            (lapse_homecare_requests, 60), (alert_overdue_homecare_visits, 300), (deliver_staff_messages, 10),
            (settle_credit_days, 600), (deduct_credit, 30), (remind_credit, 3600), (family_doctor_upkeep, 3600)]


def quiet_rq_logs():
    """RQ's records go through the app's masked JSON handler, warnings and errors only."""
    observability.setup_logging(RQ_LOG_LEVEL, name="rq")


class _Worker(Worker):
    """RQ's worker, remembering a stop request: its work loop also ends, quietly, when Redis goes away."""

    stop_asked = False

    def request_stop(self, signum, frame):
        self.stop_asked = True
        super().request_stop(signum, frame)


# Every host's worker may start a scheduler, but only the holder of this lease runs one: the periodic jobs run once
# per tick across all hosts (RQ's CronScheduler takes no lock of its own). The holder renews it every few seconds;
# a successor waits at most CRON_LEASE_SECONDS after a holder died without letting go.
CRON_LEASE_KEY = "cron:leader"
CRON_LEASE_SECONDS = 20
CRON_RENEW_SECONDS = 5
_RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def take_cron_lease(connection, token):
    """True when this scheduler now holds the periodic jobs (nobody else did)."""
    return bool(connection.set(CRON_LEASE_KEY, token, nx=True, ex=CRON_LEASE_SECONDS))


def renew_cron_lease(connection, token):
    """True while the lease is still this scheduler's (extended); False once another took it."""
    return bool(connection.eval(_RENEW, 1, CRON_LEASE_KEY, token, CRON_LEASE_SECONDS))


def release_cron_lease(connection, token):
    """Let another host's scheduler take over at once (only if the lease is still ours)."""
    connection.eval(_RELEASE, 1, CRON_LEASE_KEY, token)


class _Cron(CronScheduler):
    """RQ's cron scheduler, remembering a stop request (it too gives up when Redis goes away), and running only
    while it holds the cron lease."""

    stop_asked = False
    lease_lost = False
    lease_token = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.last_job_ids = {}  # periodic job name → the RQ job id of its latest run

    def _request_stop(self, signum, frame):
        self.stop_asked = True
        super()._request_stop(signum, frame)

    def enqueue_jobs(self):
        """Renew the lease, then enqueue the due jobs, skipping one whose last run still waits in the queue;
        stop (lease_lost) once the lease is someone else's."""
        if not renew_cron_lease(self.connection, self.lease_token):
            self.lease_lost = True
            raise StopRequested()
        instant, enqueued = rq_now(), []
        for job in self._cron_jobs:
            if not job.should_run():
                continue
            # A worker that fell behind (loaded host, restart) finds one run of each job waiting, not a backlog of
            # them that delays the ones that matter (a payment notification queued behind forty SMS drains).
            if not self.still_queued(job.name):
                self.last_job_ids[job.name] = job.enqueue(self.connection).id
                enqueued.append(job)
            job.set_enqueue_time(instant)
        return enqueued

    def still_queued(self, name):
        """True while the latest run of periodic job `name` waits in the queue (not started, not lost with Redis)."""
        job_id = self.last_job_ids.get(name)
        if job_id is None:
            return False
        try:
            return Job.fetch(job_id, connection=self.connection).get_status() == JobStatus.QUEUED
        except NoSuchJobError:
            return False

    def calculate_sleep_interval(self):
        """Wake at least every CRON_RENEW_SECONDS, so the lease never lapses while this scheduler sleeps."""
        return min(super().calculate_sleep_interval(), CRON_RENEW_SECONDS)


def _await_redis(connection):
    """Block until Redis answers again; SIGTERM and SIGINT still end the process meanwhile."""
    def leave(signum, frame):
        raise SystemExit(0)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, leave)
    while True:
        time.sleep(1)  # also keeps a worker that fails for another reason from spinning
        try:
            connection.ping()
            return
        except redis_lib.RedisError:
            continue


def _exit_with(parent_pid):
    """Stop this process once `parent_pid` is no longer its parent (the worker was SIGKILLed or OOM-killed):
    an orphaned scheduler would run on, and every restart of the worker would add one more."""
    def watch():
        while os.getppid() == parent_pid:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _run_cron(redis_url, parent_pid=None):
    """Child process: CronScheduler installs signal handlers, so it needs a main thread of its own."""
    quiet_rq_logs()  # a spawned process starts with logging unconfigured
    if parent_pid is not None:
        _exit_with(parent_pid)
    connection = redis_lib.Redis.from_url(redis_url)
    token = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    while True:
        cron = None
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):  # while waiting for the lease, a stop just ends the process
                signal.signal(sig, signal.SIG_DFL)
            if not take_cron_lease(connection, token):
                time.sleep(CRON_RENEW_SECONDS)  # another host's scheduler runs the periodic jobs
                continue
            log.info("cron scheduler %s holds the periodic jobs", token)
            cron = _Cron(connection=connection)
            cron.lease_token = token
            for func, seconds in PERIODIC:
                cron.register(func, queue_name=QUEUE, interval=seconds)
            try:
                cron.start()
            finally:
                with contextlib.suppress(redis_lib.RedisError):
                    release_cron_lease(connection, token)
            if not cron.lease_lost:
                return  # stopped on request
            log.warning("cron scheduler %s lost its lease; another host runs the periodic jobs", token)
        except redis_lib.RedisError:
            if cron is not None and cron.stop_asked:
                return
            log.warning("cron scheduler lost Redis; starting again once it answers")
            _await_redis(connection)


def make_worker(connection, worker_class=None):
    """A worker whose own log lines name jobs by id only: no arguments, no results."""
    quiet_rq_logs()
    worker_class = worker_class or _Worker
    worker = worker_class([Queue(QUEUE, connection=connection)], connection=connection, log_job_description=False)
    worker.log_result_lifespan = False
    return worker


def run(connection, redis_url, with_cron=True):
    """Run a worker (and, once per deployment, the cron scheduler) until stopped; a Redis outage only pauses it."""
    cron = None
    if with_cron:
        cron = multiprocessing.get_context("spawn").Process(target=_run_cron, args=(redis_url, os.getpid()),
                                                            daemon=True)
        cron.start()
    worker = make_worker(connection)
    log.info("worker %s started %s", worker.name, "with the periodic jobs" if with_cron else "without periodic jobs")
    try:
        while True:
            try:
                worker.work(logging_level=RQ_LOG_LEVEL)
            except redis_lib.RedisError:  # its teardown could not tell Redis it stopped
                pass
            if worker.stop_asked:
                return
            log.warning("worker lost Redis; starting again once it answers")
            _await_redis(connection)
            worker = make_worker(connection)
    finally:
        if cron is not None:
            cron.terminate()
