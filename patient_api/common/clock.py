"""Time helpers: stored in UTC, shown in Asia/Shanghai with the offset."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa

LOCAL = ZoneInfo("Asia/Shanghai")


def now():
    """The current instant, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def today_local():
    """Today's date in Asia/Shanghai."""
    return now().astimezone(LOCAL).date()


def local_dt(day: date, at: time):
    """A local wall-clock date and time as an aware UTC instant."""
    return datetime.combine(day, at, tzinfo=LOCAL).astimezone(timezone.utc)


def to_local(instant):
    """Show an instant in Asia/Shanghai (None stays None)."""
    return instant.astimezone(LOCAL) if instant else None


def days(n):
    """A timedelta of n days."""
    return timedelta(days=n)


class UtcDateTime(sa.TypeDecorator):
    """Stores naive UTC (SQLite has no time zones) and returns aware UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to UtcDateTime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=timezone.utc) if value is not None else None
