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


def test_cron_scheduler_starts_again_after_losing_redis(monkeypatch):
    starts, waits = [], []

    class FakeCron:
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
    class StoppingCron:
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
