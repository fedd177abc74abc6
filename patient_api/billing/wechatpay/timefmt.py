"""Time on the wire: WeChat Pay speaks RFC 3339 with +08:00 and dates in China Standard Time."""
from datetime import datetime, timedelta, timezone

# China has had no daylight saving since 1991, so a fixed offset equals Asia/Shanghai and needs no tzdata.
CST = timezone(timedelta(hours=8), "Asia/Shanghai")


def rfc3339(epoch):
    """Epoch seconds as WeChat's RFC 3339 form, e.g. 2026-11-23T08:00:00+08:00."""
    return datetime.fromtimestamp(int(epoch), CST).isoformat(timespec="seconds")


def datetime_rfc3339(moment):
    """An aware datetime (naive means UTC, as the project stores it) in WeChat's RFC 3339 form."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(CST).replace(microsecond=0).isoformat(timespec="seconds")


def epoch_of(moment):
    """Epoch seconds of a datetime (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def parse_rfc3339(text):
    """Epoch seconds of an RFC 3339 timestamp."""
    return datetime.fromisoformat(text).timestamp()


def bill_time(epoch):
    """The trade bill's time column: local wall clock, 2026-11-23 08:00:00."""
    return datetime.fromtimestamp(int(epoch), CST).strftime("%Y-%m-%d %H:%M:%S")


def local_date(epoch):
    """The China Standard Time calendar date of an instant (bills are cut at local midnight)."""
    return datetime.fromtimestamp(int(epoch), CST).date()


def compact(epoch):
    """yyyyMMddHHmmss in local time, used inside generated WeChat-style ids."""
    return datetime.fromtimestamp(int(epoch), CST).strftime("%Y%m%d%H%M%S")

