"""What a block of a test sends: SQL statements (SQLAlchemy's before_cursor_execute) and Redis round trips."""
import contextlib

import sqlalchemy as sa

from patient_api.extensions import db


@contextlib.contextmanager
def statements(target):
    """The statements sent while the block runs, in order, on `target`: an engine, or an app (its engine)."""
    engine = target
    if not isinstance(target, sa.engine.Engine):
        with target.app_context():
            engine = db.engine
    sent = []

    def record(_conn, _cursor, statement, *_args, **_kwargs):
        sent.append(statement)
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def redis_round_trips(monkeypatch):
    """A list that gains one entry per Redis round trip (a command or a whole pipeline) from now on in the test."""
    import redis.connection
    sent, original = [], redis.connection.AbstractConnection.send_packed_command

    def counted(conn, command, check_health=True):
        sent.append(1)
        return original(conn, command, check_health)
    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    return sent
