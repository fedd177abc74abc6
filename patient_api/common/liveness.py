"""PostgreSQL connections checked for life on checkout from the pool, without a round trip.

SQLAlchemy's pool_pre_ping sends SELECT 1 before every request's first statement (with psycopg that also opens the
transaction early): one database round trip in four of a report read, on every request. An idle connection the
server closed (restart, idle timeout, pg_terminate_backend) has its FATAL notice and EOF waiting on the socket, so a
zero-timeout poll of the socket tells the same without asking the server. A connection that is not idle, or whose
socket has anything to read, is thrown away and the pool opens a fresh one (it retries a checkout that raises
DisconnectionError). What this cannot see, a peer that vanished without closing (no FIN), pre_ping would have waited
out a TCP timeout on anyway.
"""
import select

from psycopg import pq
from sqlalchemy import event, exc


def stale(dbapi_connection):
    """True when a pooled psycopg connection must not be handed out: closed, mid-transaction, or spoken to."""
    if dbapi_connection.closed or dbapi_connection.info.transaction_status != pq.TransactionStatus.IDLE:
        return True
    poller = select.poll()  # poll, not select: no limit on the descriptor's number
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def watch(engine):
    """Check every checkout of a PostgreSQL engine's pool (SQLite has no server to lose)."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine.pool, "checkout")
    def _checkout(dbapi_connection, _record, _proxy):
        if stale(dbapi_connection):
            raise exc.DisconnectionError("the server closed this pooled connection")
