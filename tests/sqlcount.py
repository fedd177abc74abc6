"""The SQL statements a block of a test sends (SQLAlchemy's before_cursor_execute), for tests that bound them."""
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
