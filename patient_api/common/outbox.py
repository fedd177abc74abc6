"""Outbox: messages to send after the transaction that produced them commits (hospital webhooks, WeChat).

Rows are written in the caller's transaction; the worker leases due rows (SKIP LOCKED), commits,
sends with no transaction open, then records the result. After the last retry a row is `dead` and
shows in the dead-letter list (`flask --app wsgi outbox dead`).
"""
import json
import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .clock import UtcDateTime, now
from .ids import new_id

log = logging.getLogger(__name__)
# Seconds to wait after the 1st, 2nd, … failed attempt; one past the end → dead.
BACKOFF = (10, 30, 60, 300, 900, 3600, 3 * 3600, 6 * 3600)
LEASE_SECONDS = 120


class OutboxMessage(db.Model):
    """One message to deliver at least once."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_due", "status", "next_attempt_at"),
                      sa.Index("ix_outbox_destination", "channel", "destination", "created_at"))  # 消息 inbox

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("obx"))
    channel: Mapped[str] = mapped_column(sa.String(30))  # hospital_webhook | wechat_message | …
    destination: Mapped[str] = mapped_column(sa.String(64))  # e.g. a hospital id
    event: Mapped[str] = mapped_column(sa.String(40))
    payload: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(10), default="pending")  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


def enqueue(channel, destination, event, payload):
    """Add a message in the current transaction; it is sent only if that transaction commits."""
    message = OutboxMessage(channel=channel, destination=destination, event=event,
                            payload=json.dumps(payload, ensure_ascii=False, sort_keys=True))
    db.session.add(message)
    return message


def lease_due(channel, instant, batch=50):
    """Take up to `batch` due messages for LEASE_SECONDS and commit, so sending happens outside any transaction."""
    rows = db.session.scalars(sa.select(OutboxMessage).where(
        OutboxMessage.channel == channel, OutboxMessage.status == "pending",
        OutboxMessage.next_attempt_at <= instant).order_by(OutboxMessage.next_attempt_at)
        .limit(batch).with_for_update(skip_locked=True)).all()
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = instant + timedelta(seconds=LEASE_SECONDS)
    leased = [(row.id, row.destination, row.event, row.payload, row.attempts) for row in rows]
    db.session.commit()
    return leased


def record(message_id, attempts, error, instant):
    """Store the outcome of one attempt: sent, retry later with backoff, or dead after the last try."""
    row = db.session.get(OutboxMessage, message_id)
    if error is None:
        row.status, row.sent_at, row.last_error = "sent", instant, None
    elif attempts > len(BACKOFF):
        row.status, row.last_error = "dead", error[:500]
        log.warning("outbox message %s dead after %s attempts", message_id, attempts)
    else:
        row.next_attempt_at, row.last_error = instant + timedelta(seconds=BACKOFF[attempts - 1]), error[:500]
    db.session.commit()


def drain(channel, send, instant=None, batch=50):
    """Deliver due messages of one channel with `send(destination, event, payload_text)`; returns (sent, failed)."""
    instant = instant or now()
    sent = failed = 0
    for message_id, destination, event, payload, attempts in lease_due(channel, instant, batch):
        try:
            send(destination, event, payload)
            error = None
        except Exception as exc:  # any failure of the far side is retried; the reason is kept
            error = f"{type(exc).__name__}: {exc}"
        record(message_id, attempts, error, instant)
        sent, failed = sent + (error is None), failed + (error is not None)
    return sent, failed


def dead_letters(limit=100):
    """Messages that used up their retries, newest first."""
    return db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.status == "dead")
                              .order_by(OutboxMessage.created_at.desc()).limit(limit)).all()


def retry(message_id, instant=None):
    """Put a dead message back in line."""
    row = db.session.get(OutboxMessage, message_id)
    if row is None or row.status != "dead":
        return False
    row.status, row.attempts, row.next_attempt_at = "pending", 0, instant or now()
    return True
