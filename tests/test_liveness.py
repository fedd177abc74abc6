"""Pooled PostgreSQL connections the server closed are never handed out, without a SELECT 1 per checkout.

The test runs its own PostgreSQL (bench/_stack.py) and restarts it, as a failover or an upgrade would: missing
PostgreSQL binaries fail it."""
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import _stack as S  # noqa: E402

from patient_api.common import liveness  # noqa: E402

from .sqlcount import statements  # noqa: E402

POOLED = 3


@pytest.fixture(scope="module")
def server():
    """A PostgreSQL of this test's own, stopped and removed afterwards."""
    stack = S.Stack(log=lambda *_: None)
    try:
        stack.start_postgres()
        yield stack
    finally:
        assert stack.close() == []


def engine_for(server, watched):
    """An engine on the test's server with POOLED connections opened and back in the pool."""
    engine = sa.create_engine(server.db_url.replace("postgresql://", "postgresql+psycopg://"), pool_size=POOLED)
    if watched:
        liveness.watch(engine)
    held = [engine.connect() for _ in range(POOLED)]
    for conn in held:
        conn.execute(sa.text("SELECT 1"))
        conn.close()
    assert engine.pool.checkedin() == POOLED
    return engine


def test_a_restart_costs_no_request_and_a_live_connection_no_round_trip(server):
    engine = engine_for(server, watched=True)
    try:
        # Live and idle: handed out as is, and the request's own statement is the only one sent.
        with engine.connect() as conn:
            first_pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        with statements(engine) as sent:
            engine.connect().close()
        assert sent == []
        server.restart_postgres()  # every pooled connection is cut
        pids = set()
        for _ in range(POOLED + 1):  # each pooled one would have failed; each checkout gets a live one instead
            with engine.connect() as conn:
                pids.add(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar())
        assert first_pid not in pids and len(pids) >= 1
    finally:
        engine.dispose()


def test_without_the_check_the_first_request_after_a_restart_fails(server):
    """The control: what the check prevents (so the test above can fail)."""
    engine = engine_for(server, watched=False)
    try:
        server.restart_postgres()
        with pytest.raises(sa.exc.OperationalError), engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    finally:
        engine.dispose()


def test_terminated_backends_and_a_connection_left_in_a_transaction_are_replaced(server):
    engine = engine_for(server, watched=True)
    url = server.db_url.replace("postgresql://", "postgresql+psycopg://")
    try:
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:  # an operator (or idle_session_timeout) ends every pooled session
            ended = conn.execute(sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                                         "datname = current_database() AND pid <> pg_backend_pid()")).scalar()
            # pg_terminate_backend only signals: wait (bounded) until the sessions have ended and said so
            S.wait_until(lambda: conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                "pid <> pg_backend_pid()")).scalar() == 0, 10, "terminated sessions")
        admin.dispose()
        assert ended == POOLED
        for _ in range(POOLED + 1):
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT 1")).scalar() == 1
        raw = engine.raw_connection()  # a connection some code returned mid-transaction (psycopg opened one)
        raw.driver_connection.execute("SELECT 1")
        assert liveness.stale(raw.driver_connection)
        raw.driver_connection.rollback()
        assert not liveness.stale(raw.driver_connection)
        raw.close()
    finally:
        engine.dispose()
