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


def test_a_second_caller_of_the_same_key_waits_until_the_first_commits(app):
    if not is_postgres(app):
        return _sends_nothing(app)
    events = []

    def second():
        with app.app_context():
            serialise(1, "schedule-1")
            events.append("second in")
            db.session.rollback()

    with app.app_context():
        serialise(1, "schedule-1")
        serialise(1, "schedule-2")  # another key: not held by the first
        thread = threading.Thread(target=second)
        thread.start()
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
    done = []

    def other():
        with app.app_context():
            serialise(1, "schedule-b")
            serialise(2, "schedule-a")  # same key, another namespace
            done.append(True)
            db.session.rollback()

    with app.app_context():
        serialise(1, "schedule-a")
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(10)
        assert done == [True]
        db.session.rollback()
