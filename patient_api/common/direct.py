"""The hottest statements sent straight through psycopg on PostgreSQL, past SQLAlchemy's execution layer.

A report read's query costs 0.40 ms of CPU through `Connection.execute` and 0.12 ms through the driver's cursor
(measured in process, docs/performance.md). A `Direct` statement is built once at import on the tables; SQLAlchemy
compiles it once per process, constant lists included, and each request then binds its values through the same
bind processors, runs it on the session's own connection (same transaction) and passes each column through the
same result processor (aware UTC times). Any other database — the embedded SQLite — takes SQLAlchemy's path, and
tests/test_direct.py checks both paths answer alike.
"""
import psycopg
import sqlalchemy as sa
from psycopg.rows import namedtuple_row

from ..extensions import db


class Direct:
    """A prebuilt Core statement whose values are named bind parameters (no lists bound per request)."""

    def __init__(self, stmt):
        self.stmt = stmt
        # For PostgreSQL: (sql, {name: bind processor}, constants, [(column index, result processor)]).
        self._plan = None

    def rows(self, params, alone=False):
        """The statement's rows for these values (attribute access by column name, as SQLAlchemy's rows).

        `alone`: the request's only statement. On PostgreSQL, when the session has begun no transaction, it runs on a
        pooled connection in autocommit — its own transaction in one round trip, instead of BEGIN, it and COMMIT —
        and that connection goes back to the pool at once; the session stays untouched for whatever comes next."""
        if alone and not (db.session.registry.has() and db.session().in_transaction()) and on_postgresql():
            return self._alone(params)
        connection = db.session.connection()
        if connection.dialect.name != "postgresql":
            return connection.execute(self.stmt, params).all()
        return self._fetch(connection.engine, connection, connection.connection, params)

    def _alone(self, params):
        """The rows on a pooled connection switched to autocommit for this one statement. The pool's own connection,
        not an engine Connection with an isolation-level option: that option's set and reset cost more CPU than the
        read's rows (docs/performance.md, tenth round)."""
        engine = db.engine
        pooled = engine.raw_connection()  # the pool's checkout events run (liveness.py)
        driver = pooled.driver_connection
        try:
            driver.autocommit = True
            return self._fetch(engine, engine, pooled, params)
        finally:
            if not driver.closed:
                driver.autocommit = False  # back to the pool as every other checkout expects it
            pooled.close()

    def _fetch(self, engine, events, pooled, params):
        """Run on `pooled` (a pool connection), firing `events`' statement listeners; rows with times converted."""
        sql, binds, constants, results = self._plan or self._compile(engine.dialect)
        values = _bound(binds, constants, params)
        with pooled.driver_connection.cursor(row_factory=namedtuple_row) as cursor:
            _announce(events, cursor, sql, values, False)
            try:
                cursor.execute(sql, values)
                rows = cursor.fetchall()
            except psycopg.Error as exc:
                holder = events if isinstance(events, sa.engine.Connection) else pooled
                raise _translated(engine, holder, pooled.dbapi_connection, sql, values, exc) from exc
        if not rows or not results:
            return rows
        make = type(rows[0])._make
        converted = []
        for row in rows:  # only the columns whose type converts (the times): a list row has 21, 3 of them times
            values = list(row)
            for index, convert in results:
                if values[index] is not None:
                    values[index] = convert(values[index])
            converted.append(make(values))
        return converted

    def run(self, params):
        """Execute a statement that returns nothing, once or (a list of value sets) for each in one round trip."""
        connection = db.session.connection()
        if connection.dialect.name != "postgresql":
            connection.execute(self.stmt, params)
            return
        sql, binds, constants, _ = self._plan or self._compile(connection.dialect)
        many = isinstance(params, list)
        values = [_bound(binds, constants, each) for each in params] if many else _bound(binds, constants, params)
        with connection.connection.driver_connection.cursor() as cursor:
            _announce(connection, cursor, sql, values, many)
            try:
                (cursor.executemany if many else cursor.execute)(sql, values)
            except psycopg.Error as exc:
                raise _translated(connection.engine, connection, connection.connection.dbapi_connection, sql, values,
                                  exc) from exc

    def _compile(self, dialect):
        """The statement's SQL for psycopg, with its constant lists spelled out, compiled once."""
        first = self.stmt.compile(dialect=dialect)
        named = [name for name, bind in first.binds.items() if bind.value is None and not bind.expanding]
        compiled = first
        if any(bind.expanding for bind in first.binds.values()):
            # The values each request binds have none yet: give them one so the constant lists can be rendered.
            compiled = self.stmt.params({name: None for name in named}).compile(
                dialect=dialect, compile_kwargs={"render_postcompile": True})
        binds = {name: compiled.binds[name].type.bind_processor(dialect) for name in named}
        constants = {name: value for name, value in compiled.params.items() if name not in binds}
        columns = getattr(self.stmt, "selected_columns", ())
        results = [(index, convert) for index, convert in
                   enumerate(column.type.result_processor(dialect, None) for column in columns) if convert]
        self._plan = (compiled.string, binds, constants, results)
        return self._plan


def on_postgresql():
    """Whether the app's database is PostgreSQL (statements only it runs are chosen by this). Asked of the engine, not
    the session: asking the session would create one, which the request's end would then commit for nothing."""
    return db.engine.dialect.name == "postgresql"


def _announce(source, cursor, sql, values, many):
    """SQLAlchemy's before_cursor_execute, as its own path fires it: whatever counts or traces statements sees these.
    `source` is the Connection, or for a statement run alone the engine (its listeners are given no Connection)."""
    listeners = source.dispatch.before_cursor_execute
    if listeners:
        listeners(source if isinstance(source, sa.engine.Connection) else None, cursor, sql, values, None, many)


def _translated(engine, holder, dbapi_connection, sql, values, exc):
    """The driver's error as SQLAlchemy's path would raise it (OperationalError, IntegrityError, …), the connection
    invalidated through its holder (the Connection, or the pool's for a statement alone) when the server is gone — so
    a lost database is a 503 here too, never a 500."""
    gone = engine.dialect.is_disconnect(exc, dbapi_connection, None)
    if gone:
        holder.invalidate(exc)
    # hide_parameters as the engine was made: the values (an account, a person's blind index) stay out of the log.
    return sa.exc.DBAPIError.instance(sql, values, exc, psycopg.Error, hide_parameters=engine.hide_parameters,
                                      connection_invalidated=gone, dialect=engine.dialect)


def _bound(binds, constants, params):
    """The values psycopg is given: the constants, then each value through its column type's bind processor."""
    values = dict(constants)
    for name, convert in binds.items():
        value = params.get(name)
        values[name] = value if convert is None or value is None else convert(value)
    return values
