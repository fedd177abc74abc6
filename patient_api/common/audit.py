"""Append-only audit trail of staff actions: who did what, to which patient, when."""
import json
from datetime import datetime

import sqlalchemy as sa
from flask import g, request
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .clock import UtcDateTime, now


class AuditEntry(db.Model):
    """One audited action; rows are only ever inserted."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_actor", "actor_type", "actor_id", "at"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, index=True)
    actor_type: Mapped[str] = mapped_column(sa.String(12))  # staff | hospital | system
    actor_id: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(60))
    patient_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    resource: Mapped[str | None] = mapped_column(sa.String(120))
    detail: Mapped[str | None] = mapped_column(sa.Text)
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
    ip: Mapped[str | None] = mapped_column(sa.String(45))


def record(actor_type, actor_id, action, patient_id=None, resource=None, **detail):
    """Add an audit row to the current transaction (it is kept only if the action commits)."""
    entry = AuditEntry(actor_type=actor_type, actor_id=actor_id, action=action, patient_id=patient_id,
                       resource=resource, detail=json.dumps(detail, ensure_ascii=False) if detail else None,
                       request_id=g.get("request_id") if g else None, ip=_client_ip())
    db.session.add(entry)
    return entry


def _client_ip():
    try:
        return request.remote_addr
    except RuntimeError:  # outside a request (CLI, worker)
        return None
