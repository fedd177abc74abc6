"""common.locking.serialise: a second caller of the same key waits for the first one's transaction to end."""
import threading
import time

import sqlalchemy as sa

from patient_api.common.locking import serialise
from patient_api.extensions import db

from .conftest import is_postgres
from .sqlcount import statements


def _waiting_advisory_locks():
    """Advisory locks some transaction is waiting for right now (PostgreSQL)."""
    return db.session.scalar(sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))


def _sends_nothing(app):
    """SQLite lets one writer in at a time: serialise sends nothing there."""
    with app.app_context(), statements(app) as sql:
        serialise(1, "schedule-1")
    assert sql == []


def _caller(app, keys, events):
    """A thread that takes serialise(namespace, key) for each of `keys` in a transaction of its own, then says so."""
    def run():
        with app.app_context():
            for namespace, key in keys:
                serialise(namespace, key)
            events.append("second in")
            db.session.rollback()
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_second_caller_of_the_same_key_waits_until_the_first_commits(app):
    if not is_postgres(app):
        return _sends_nothing(app)
    events = []
    with app.app_context():
        serialise(1, "schedule-1")
        thread = _caller(app, [(1, "schedule-1")], events)
        with app.app_context():  # a session of its own, to watch pg_locks while the first transaction stays open
            deadline = time.monotonic() + 10
            while _waiting_advisory_locks() != 1 and time.monotonic() < deadline:
                db.session.rollback()
                time.sleep(0.01)
            assert _waiting_advisory_locks() == 1
            db.session.rollback()
        events.append("first commits")
        db.session.commit()
    thread.join(10)
    assert events == ["first commits", "second in"]


def test_different_keys_do_not_wait_for_each_other(app):
    if not is_postgres(app):
        return _sends_nothing(app)
    events = []
    with app.app_context():
        serialise(1, "schedule-a")
        # another key, and the same key in another namespace
        thread = _caller(app, [(1, "schedule-b"), (2, "schedule-a")], events)
        thread.join(10)
        assert events == ["second in"]
        db.session.rollback()
