"""Statements run straight through the driver (common/direct.py) answer exactly as SQLAlchemy's own path does.

On PostgreSQL the direct path is taken (checked: the plan is compiled and the statement still reaches
before_cursor_execute); on SQLite Direct hands the statement to SQLAlchemy and the comparison holds trivially.
"""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from patient_api.common.direct import Direct
from patient_api.extensions import db
from patient_api.records.models import AccessLogEntry

from .sqlcount import statements

LOG = AccessLogEntry.__table__
COLUMNS = ("at", "actor_type", "actor_id", "channel", "patient_id", "person_index", "resource_type", "resource_id",
           "request_id")
INSERT = Direct(sa.insert(LOG).values({name: sa.bindparam(name, type_=LOG.c[name].type) for name in COLUMNS}))
# A constant list (rendered once), a bound time (through UtcDateTime's bind processor) and a bound text.
QUERY = sa.select(LOG.c.id, LOG.c.at, LOG.c.actor_type, LOG.c.patient_id, LOG.c.resource_id).where(
    LOG.c.actor_type.in_(("resident", "staff")), LOG.c.at >= sa.bindparam("since"),
    LOG.c.person_index == sa.bindparam("person")).order_by(LOG.c.id)
DIRECT_QUERY = Direct(QUERY)
T0 = datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc)


def row(n, actor_type="resident", at=T0, patient_id="pat_1"):
    """An access-log row's values."""
    return {"at": at + timedelta(minutes=n), "actor_type": actor_type, "actor_id": f"acc_{n}", "channel": "wechat",
            "patient_id": patient_id, "person_index": "idx_direct", "resource_type": "report",
            "resource_id": f"rpt_{n}", "request_id": None}


def test_direct_rows_equal_sqlalchemys(app):
    """Inserted one by one and several at once; read back with the same values, times aware UTC, in the same
    order, with the constant list and the bound time applied — through both paths alike."""
    with app.app_context():
        INSERT.run(row(0))
        INSERT.run([row(1), row(2, actor_type="kiosk"), row(3, actor_type="staff", patient_id=None)])
        INSERT.run(row(4, at=T0.astimezone(timezone(timedelta(hours=8)))))  # an aware time in +08:00: stored UTC
        params = {"since": T0 + timedelta(minutes=1), "person": "idx_direct"}
        with statements(app) as sent:
            direct = DIRECT_QUERY.rows(params)
        ours = db.session.connection().execute(QUERY, params).all()
        assert [tuple(r) for r in direct] == [tuple(r) for r in ours]
        assert [(r.actor_type, r.resource_id, r.patient_id) for r in direct] == [
            ("resident", "rpt_1", "pat_1"), ("staff", "rpt_3", None), ("resident", "rpt_4", "pat_1")]
        assert [r.at for r in direct] == [T0 + timedelta(minutes=n) for n in (1, 3, 4)]
        assert all(r.at.tzinfo == timezone.utc for r in direct)
        assert len(sent) == 1 and "access_log" in sent[0]  # still seen by whatever counts statements
        assert DIRECT_QUERY.rows({"since": T0, "person": "someone_else"}) == []
        db.session.rollback()
        assert DIRECT_QUERY.rows(params) == []  # the inserts were in the session's transaction
        if db.engine.dialect.name == "postgresql":
            assert INSERT._plan is not None and DIRECT_QUERY._plan is not None
            assert "IN (" in DIRECT_QUERY._plan[0] and "POSTCOMPILE" not in DIRECT_QUERY._plan[0]


def test_a_database_lost_during_a_direct_read_is_a_503(app, client, make, monkeypatch):
    """The server gone mid-read: the answer is 503 service_unavailable (Retry-After), as on SQLAlchemy's path —
    the driver's error reaches the app as SQLAlchemy's OperationalError."""
    headers, patient_id = make.resident(verified=True)
    assert client.get(f"/api/v1/reports?patient_id={patient_id}", headers=headers).status_code == 200
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
    if postgres:  # the direct path: psycopg's own cursor raises
        import psycopg

        def gone(*_args, **_kwargs):
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        monkeypatch.setattr(psycopg.Cursor, "execute", gone)
    else:  # SQLite takes SQLAlchemy's path: its execute raises
        def gone(*_args, **_kwargs):
            raise sa.exc.OperationalError("SELECT", {}, Exception("disk I/O error"))
        monkeypatch.setattr(sa.engine.Connection, "execute", gone)
    answer = client.get(f"/api/v1/reports?patient_id={patient_id}", headers=headers)
    assert (answer.status_code, answer.json["code"], answer.headers.get("Retry-After")) == (
        503, "service_unavailable", "1")


def test_a_statement_alone_is_its_own_transaction_only_when_nothing_began_one(app):
    """rows(alone=True): on PostgreSQL with no transaction begun, the statement commits by itself (a rollback of
    the session afterwards keeps what it wrote) and the session is left unbegun; once the session has begun, the
    statement joins its transaction and a rollback drops its write. On SQLite it always joins the session."""
    mine = sa.select(sa.func.count()).select_from(LOG).where(LOG.c.person_index == "idx_alone")
    logged = sa.insert(LOG).values({name: sa.bindparam(name, type_=LOG.c[name].type) for name in COLUMNS})
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
    # An INSERT inside WITH on PostgreSQL (as the report reads fold their log row); SQLite has none: a plain SELECT.
    writes = Direct(sa.select(sa.literal_column("1").label("one")).add_cte(logged.cte("logged")) if postgres
                    else sa.select(sa.literal_column("1").label("one")))
    with app.app_context():
        assert [tuple(r) for r in writes.rows({**row(0), "person_index": "idx_alone"}, alone=True)] == [(1,)]
        began = db.session.registry.has() and db.session().in_transaction()
        assert began is (not postgres)
        db.session.rollback()
        assert db.session.scalar(mine) == (1 if postgres else 0)
        db.session.rollback()
    with app.app_context():
        db.session.execute(sa.select(1))  # the session has begun: the statement joins it
        writes.rows({**row(1), "person_index": "idx_alone"}, alone=True)
        assert db.session().in_transaction()
        db.session.rollback()
        assert db.session.scalar(mine) == (1 if postgres else 0)


@pytest.mark.parametrize("fails", [False, True])
def test_a_statement_alone_gives_its_connection_back_out_of_autocommit(app, monkeypatch, fails):
    """rows(alone=True) on PostgreSQL borrows a pool connection in autocommit: afterwards — answered or failed — it is
    back in the pool and out of autocommit, so the next request's transaction on it is a transaction. On SQLite
    the statement joins the session's transaction."""
    with app.app_context():
        engine = db.engine
        postgres, borrowed, checked_out = engine.dialect.name == "postgresql", [], engine.pool.checkedout()
        original = type(engine).raw_connection

        def borrow(self):
            pooled = original(self)
            borrowed.append(pooled.driver_connection)
            return pooled
        monkeypatch.setattr(type(engine), "raw_connection", borrow)
        if fails and postgres:
            import psycopg

            def refused(*_args, **_kwargs):
                raise psycopg.errors.QueryCanceled("canceling statement due to statement timeout")
            monkeypatch.setattr(psycopg.Cursor, "execute", refused)
        elif fails:
            def refused(*_args, **_kwargs):
                raise sa.exc.OperationalError("SELECT", {}, Exception("timeout"))
            monkeypatch.setattr(sa.engine.Connection, "execute", refused)
        if fails:
            with pytest.raises(sa.exc.DBAPIError):
                DIRECT_QUERY.rows({"since": T0, "person": "idx_direct"}, alone=True)
        else:
            assert DIRECT_QUERY.rows({"since": T0, "person": "idx_direct"}, alone=True) == []
        if postgres:
            assert len(borrowed) == 1 and borrowed[0].autocommit is False and not borrowed[0].closed
            assert engine.pool.checkedout() == checked_out
        else:
            assert db.session().in_transaction()  # the session's own connection, not one borrowed for the statement
        db.session.rollback()


def test_a_direct_statement_s_error_keeps_its_values_out_of_the_message(app, monkeypatch):
    """The engine hides parameters from error messages (they reach the log): a driver error raised through the
    direct path says so too instead of listing the account and the person's index it was given."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            import psycopg

            def refused(*_args, **_kwargs):
                raise psycopg.errors.QueryCanceled("canceling statement due to statement timeout")
            monkeypatch.setattr(psycopg.Cursor, "execute", refused)
        else:  # SQLAlchemy's own path, which already hides them
            def refused(*_args, **_kwargs):
                raise sa.exc.OperationalError("SELECT", {"person": "idx_secret_person"}, Exception("timeout"),
                                              hide_parameters=True)
            monkeypatch.setattr(sa.engine.Connection, "execute", refused)
        with pytest.raises(sa.exc.DBAPIError) as raised:
            DIRECT_QUERY.rows({"since": T0, "person": "idx_secret_person"})
        assert "idx_secret_person" not in str(raised.value) and "hidden due to hide_parameters" in str(raised.value)
        db.session.rollback()
