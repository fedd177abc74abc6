"""The idle worker stays quiet, and neither RQ's lines nor ours carry openids, ID numbers or phones."""
import json
import logging

import pytest
from rq import Queue, SimpleWorker

from patient_api import worker

OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"


@pytest.fixture
def records(caplog, monkeypatch):
    """caplog at DEBUG for our loggers and RQ's (both stop at their own JSON handler otherwise)."""
    for name in ("patient_api", "rq"):
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
    monkeypatch.setattr(logging.getLogger("patient_api"), "level", logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.mark.parametrize("result, level", [
    (0, logging.DEBUG), (None, logging.DEBUG), ({}, logging.DEBUG), ((0, 0, 0), logging.DEBUG),
    ({"closed": 0, "offered": 0}, logging.DEBUG), (3, logging.INFO), ((1, 0), logging.INFO),
    ({"closed": 0, "offered": 2}, logging.INFO)])
def test_a_periodic_run_logs_at_info_only_when_it_did_something(records, result, level):
    @worker.periodic
    def sweep():
        return result
    assert sweep() == result
    [line] = [r for r in records.records if r.name == "patient_api.worker"]
    assert line.levelno == level and line.getMessage().startswith(f"sweep: {result!r} in ")


def test_the_real_jobs_are_wrapped_and_an_idle_sweep_is_debug(app, records, monkeypatch):
    monkeypatch.setattr(worker, "_app", app)
    assert all(func.__wrapped__ for func, _seconds in worker.PERIODIC)
    assert worker.sweep_holds() == 0
    [line] = [r for r in records.records if r.name == "patient_api.worker"]
    assert line.levelno == logging.DEBUG


def test_rq_names_jobs_by_id_without_arguments_or_results(redis_client, records):
    queue = Queue(worker.QUEUE, connection=redis_client)
    job = queue.enqueue(worker.did_work, OPENID)
    rq_worker = worker.make_worker(redis_client, SimpleWorker)  # runs the job in this process, for caplog
    rq_worker.work(burst=True, logging_level="INFO")  # even when an operator turns RQ's lines up
    lines = [r.getMessage() for r in records.records if r.name.startswith("rq")]
    assert any(job.id in line for line in lines), lines
    assert not [line for line in lines if OPENID in line or "did_work" in line or "kept for" in line]
    assert logging.getLogger("rq").level == logging.WARNING  # and by default RQ says only warnings and errors


def test_log_lines_are_masked_on_the_way_out(app):
    from patient_api.common.observability import JsonFormatter
    [handler] = [h for h in logging.getLogger("patient_api").handlers if isinstance(h.formatter, JsonFormatter)]
    record = logging.LogRecord("patient_api.x", logging.ERROR, __file__, 1,
                               "openid %s id %s phone %s order %s", (OPENID, "37090219860101001X", "13800138000",
                                                                     "PA2026112913800138000123"), None)
    line = json.loads(handler.format(record))["msg"]
    assert line == "openid o6_b****fL2M id 370***********001X phone 138****8000 order PA2026112913800138000123"
