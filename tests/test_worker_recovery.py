"""The worker process rides out a Redis outage and never outlives itself (found by bench/faults.py)."""
import logging
import os
import subprocess
import sys

import pytest
import redis as redis_lib

from patient_api import worker


class FakeWorker:
    """Stands in for RQ's worker: the first work loop ends as on a lost Redis, the second on a stop request."""

    made = []
    name = "fake"

    def __init__(self, queues, connection, **options):
        self.stop_asked = False
        FakeWorker.made.append(self)

    def work(self, **options):
        if len(FakeWorker.made) == 1:
            raise redis_lib.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.stop_asked = True


def test_worker_starts_again_after_losing_redis_and_stops_on_request(monkeypatch):
    waits = []
    FakeWorker.made = []
    monkeypatch.setattr(worker, "_Worker", FakeWorker)
    monkeypatch.setattr(worker, "quiet_rq_logs", lambda: None)
    monkeypatch.setattr(worker, "_await_redis", waits.append)
    worker.run(connection=object(), redis_url="redis://127.0.0.1:1/0", with_cron=False)
    assert len(FakeWorker.made) == 2 and len(waits) == 1


def lease_always_ours(monkeypatch):
    """The cron lease without a Redis: always taken, renewed and released."""
    monkeypatch.setattr(worker, "take_cron_lease", lambda connection, token: True)
    monkeypatch.setattr(worker, "release_cron_lease", lambda connection, token: None)


def test_cron_scheduler_starts_again_after_losing_redis(monkeypatch):
    starts, waits = [], []
    lease_always_ours(monkeypatch)

    class FakeCron:
        lease_lost = False

        def __init__(self, connection):
            self.stop_asked = False

        def register(self, func, queue_name, interval):
            pass

        def start(self):
            starts.append(self)
            if len(starts) == 1:
                raise redis_lib.ConnectionError("Connection closed by server.")

    monkeypatch.setattr(worker, "_Cron", FakeCron)
    monkeypatch.setattr(worker, "quiet_rq_logs", lambda: None)  # leave this process's logging as it was
    monkeypatch.setattr(worker, "_await_redis", waits.append)
    worker._run_cron("redis://127.0.0.1:1/0")
    assert len(starts) == 2 and len(waits) == 1


def test_cron_scheduler_asked_to_stop_during_an_outage_stops(monkeypatch):
    lease_always_ours(monkeypatch)

    class StoppingCron:
        lease_lost = False

        def __init__(self, connection):
            self.stop_asked = True

        def register(self, func, queue_name, interval):
            pass

        def start(self):
            raise redis_lib.ConnectionError("registering death failed")

    monkeypatch.setattr(worker, "_Cron", StoppingCron)
    monkeypatch.setattr(worker, "quiet_rq_logs", lambda: None)
    monkeypatch.setattr(worker, "_await_redis", lambda _c: (_ for _ in ()).throw(AssertionError("waited")))
    worker._run_cron("redis://127.0.0.1:1/0")


def test_cron_child_exits_when_its_worker_is_gone():
    # A parent pid that is not ours: as after the worker was SIGKILLed and the child was re-parented.
    code = ("import os, time\nfrom patient_api.worker import _exit_with\n_exit_with(os.getppid() + 1)\n"
            "time.sleep(30)\n")
    proc = subprocess.run([sys.executable, "-c", code], timeout=30, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert proc.returncode == -15  # SIGTERM from its watcher (a sleep that ran out would exit 0)


def test_one_scheduler_holds_the_cron_lease_until_it_lets_go(redis_client):
    assert worker.take_cron_lease(redis_client, "host-a")
    assert not worker.take_cron_lease(redis_client, "host-b")  # host b's scheduler waits
    assert worker.renew_cron_lease(redis_client, "host-a") and not worker.renew_cron_lease(redis_client, "host-b")
    assert 0 < redis_client.ttl(worker.CRON_LEASE_KEY) <= worker.CRON_LEASE_SECONDS
    worker.release_cron_lease(redis_client, "host-b")  # not b's to release
    assert redis_client.get(worker.CRON_LEASE_KEY) == b"host-a"
    worker.release_cron_lease(redis_client, "host-a")
    assert worker.take_cron_lease(redis_client, "host-b")


def test_a_scheduler_whose_lease_another_took_stops_before_enqueueing(redis_client):
    from rq.exceptions import StopRequested
    cron = worker._Cron(connection=redis_client)
    cron.lease_token = "host-a"
    redis_client.set(worker.CRON_LEASE_KEY, "host-b")  # a lapsed lease, taken over meanwhile
    enqueued = []
    cron.register(enqueued.append, queue_name=worker.QUEUE, interval=1)
    try:
        cron.enqueue_jobs()
        raise AssertionError("enqueued without the lease")
    except StopRequested:
        pass
    assert cron.lease_lost and redis_client.llen(f"rq:queue:{worker.QUEUE}") == 0
    assert cron.calculate_sleep_interval() <= worker.CRON_RENEW_SECONDS


@pytest.fixture
def rq_logging_kept():
    """RQ's loggers as they were before a test that runs a worker (which configures them for a real process)."""
    loggers = [logging.getLogger(name) for name in ("rq", "rq.worker", "rq.job")]
    kept = [(lg.level, lg.propagate, list(lg.handlers)) for lg in loggers]
    yield
    for lg, (level, propagate, handlers) in zip(loggers, kept, strict=True):
        lg.setLevel(level)
        lg.propagate, lg.handlers = propagate, handlers


def due_again(cron):
    """Every registered job's next run is now (as if its interval had passed)."""
    from datetime import timedelta

    from rq.utils import now
    for job in cron.get_jobs():
        job.next_enqueue_time = now() - timedelta(seconds=1)


def test_a_periodic_job_whose_last_run_still_waits_is_not_queued_again(redis_client, rq_logging_kept):
    from rq import SimpleWorker
    from rq.job import Job
    cron = worker._Cron(connection=redis_client)
    cron.lease_token = "host-a"
    redis_client.set(worker.CRON_LEASE_KEY, "host-a")
    cron.register(worker.did_work, queue_name=worker.QUEUE, args=(0,), interval=1)
    queue_key = f"rq:queue:{worker.QUEUE}"
    assert len(cron.enqueue_jobs()) == 1
    for _ in range(5):  # a worker that fell behind: five more ticks add nothing behind the run already waiting
        due_again(cron)
        assert cron.enqueue_jobs() == []
    assert redis_client.llen(queue_key) == 1
    [first] = [job_id.decode() for job_id in redis_client.lrange(queue_key, 0, -1)]
    worker.make_worker(redis_client, SimpleWorker).work(burst=True, logging_level=worker.RQ_LOG_LEVEL)
    assert Job.fetch(first, connection=redis_client).get_status() == "finished"
    due_again(cron)
    assert len(cron.enqueue_jobs()) == 1 and redis_client.llen(queue_key) == 1  # the next run is queued
    [latest] = cron.last_job_ids.values()
    redis_client.delete(queue_key, f"rq:job:{latest}")  # lost with Redis's data
    due_again(cron)
    assert len(cron.enqueue_jobs()) == 1 and redis_client.llen(queue_key) == 1  # a lost run blocks nothing


def test_a_forked_work_horse_uses_the_preloaded_app_and_connections_of_its_own(app, redis_client, monkeypatch,
                                                                             rq_logging_kept):
    import sqlalchemy as sa
    from rq import Queue

    import patient_api
    from patient_api.extensions import db
    monkeypatch.setattr(worker, "_app", None)
    monkeypatch.setattr(worker, "_app_pid", None)
    worker.preload(app)
    with app.app_context():  # the worker's own process holds a pooled connection when it forks
        assert db.session.execute(sa.text("SELECT 1")).scalar() == 1
        db.session.remove()

    def build_again(*args, **kwargs):
        raise AssertionError("a work horse built the app again")
    monkeypatch.setattr(patient_api, "create_app", build_again)
    queue = Queue(worker.QUEUE, connection=redis_client)
    jobs = [queue.enqueue(worker.sweep_holds) for _ in range(3)]
    worker.make_worker(redis_client).work(burst=True, logging_level=worker.RQ_LOG_LEVEL)  # forks a horse per job
    assert [job.get_status(refresh=True) for job in jobs] == ["finished"] * 3, [job.exc_info for job in jobs]
    assert [job.return_value() for job in jobs] == [0, 0, 0]
    with app.app_context():  # and the parent's connection is still whole after three horses came and went
        assert db.session.execute(sa.text("SELECT 2")).scalar() == 2
