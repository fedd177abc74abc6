"""The worker process rides out a Redis outage and never outlives itself (found by bench/faults.py)."""
import os
import subprocess
import sys

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
