"""Who hears what about an order: the family through accounts.notices, staff through their own outbox channel.

Staff have no WeChat account here: their messages are outbox rows on STAFF_CHANNEL (destination: the staff id),
written in the transaction that caused them, and what a dispatcher must act on is also an alert row, listed by
GET /staff/homecare/alerts (the nurse-station screen polls it). Until a push channel for staff exists
(企业微信), the worker marks staff rows delivered; the rows keep who was told what, and when.
"""
import logging

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..accounts.notices import tell_accounts
from ..accounts.staff import Staff
from ..common import outbox
from ..common.clock import now
from ..extensions import db
from .models import HomecareAlert

log = logging.getLogger(__name__)
STAFF_CHANNEL = "staff_message"


def tell_family(order, event, **payload):
    """`event` to the patient's verified accounts and the account that asked (ids and amounts only)."""
    return tell_accounts(order.patient_id, event, {"homecare_order_id": order.id, **payload},
                         booker=order.account_id)


def tell_staff(staff_id, event, order, **payload):
    """One message to one staff member."""
    outbox.enqueue(STAFF_CHANNEL, staff_id, event, {"homecare_order_id": order.id, **payload})


def dispatchers(hospital_id):
    """The hospital's home-care dispatchers."""
    return db.session.scalars(sa.select(Staff.id).where(Staff.hospital_id == hospital_id,
                                                        Staff.role == "dispatcher").order_by(Staff.id)).all()


def tell_dispatchers(order, event, **payload):
    """`event` to every dispatcher of the order's hospital; returns how many."""
    staff_ids = dispatchers(order.hospital_id)
    for staff_id in staff_ids:
        tell_staff(staff_id, event, order, **payload)
    return len(staff_ids)


def alert(order, kind, instant=None, **payload):
    """Raise the (order, kind) alert once and tell the dispatchers; None when it was raised before."""
    instant = instant or now()
    row = HomecareAlert(hospital_id=order.hospital_id, order_id=order.id, kind=kind, created_at=instant)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:  # a second run of the job, or two at once: the first one told them
        return None
    tell_dispatchers(order, f"homecare.{kind}", alert_id=row.id, **payload)
    return row


def deliver(instant=None, batch=50):
    """Worker job: staff messages have no push channel yet; mark them delivered (the alert list shows them)."""
    def send(staff_id, event, payload):
        log.debug("staff message %s to %s (no push channel for staff)", event, staff_id)
    return outbox.drain(STAFF_CHANNEL, send, instant, batch)
