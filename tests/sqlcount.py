"""What a block of a test sends: SQL statements (SQLAlchemy's before_cursor_execute) and Redis round trips."""
import contextlib
import functools

import sqlalchemy as sa

from patient_api.extensions import db


@contextlib.contextmanager
def statements(target, with_transaction=False):
    """The statements sent while the block runs, in order, on `target`: an engine, or an app (its engine).

    with_transaction: also "BEGIN", "COMMIT" and "ROLLBACK" where the block's transactions begin and end — each its
    own round trip on PostgreSQL (psycopg sends BEGIN before the first statement), so the list counts round trips.
    """
    engine = target
    if not isinstance(target, sa.engine.Engine):
        with target.app_context():
            engine = db.engine
    sent = []

    def record(_conn, _cursor, statement, *_args, **_kwargs):
        sent.append(statement)
    listeners = [("before_cursor_execute", record)]
    if with_transaction:
        listeners += [(name, functools.partial(_mark, sent, word)) for name, word in TRANSACTION_EVENTS]
    for name, listener in listeners:
        sa.event.listen(engine, name, listener)
    try:
        yield sent
    finally:
        for name, listener in listeners:
            sa.event.remove(engine, name, listener)


TRANSACTION_EVENTS = (("begin", "BEGIN"), ("commit", "COMMIT"), ("rollback", "ROLLBACK"))


def _mark(sent, word, conn, *_args):
    """BEGIN, COMMIT or ROLLBACK as the driver sends it: a connection in autocommit sends none of them."""
    if getattr(conn.connection.dbapi_connection, "autocommit", False) is not True:
        sent.append(word)


def redis_round_trips(monkeypatch):
    """A list that gains one entry per Redis round trip (a command or a whole pipeline) from now on in the test."""
    import redis.connection
    sent, original = [], redis.connection.AbstractConnection.send_packed_command

    def counted(conn, command, check_health=True):
        sent.append(1)
        return original(conn, command, check_health)
    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    return sent
