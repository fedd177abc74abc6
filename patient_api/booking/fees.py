"""The registration fee (挂号费) as a bill kind: what billing asks booking, through hooks registered here.

Billing never imports booking. When a resident pays, billing asks this kind until when the order may run
(the hold's end), then, once money arrives, to claim the ticket (False when it is gone: billing refunds the
money); once the bill is paid, booking.confirmed goes to the family. create_app imports this module.
"""
import sqlalchemy as sa

from ..billing import kinds
from ..billing.models import Bill
from ..errors import Conflict
from ..extensions import db
from . import lifecycle, notices
from .models import Appointment


def _pay_until(bill, instant):
    """A fee is payable only while its appointment is held; the WeChat order ends with the hold."""
    appointment = db.session.get(Appointment, bill.appointment_id)
    if appointment is None or appointment.hold_expired(instant) or appointment.status != "pending_payment":
        raise Conflict("号源保留已超时，请重新预约", code="hold_expired")
    return appointment.hold_expires_at


def _claim(bill, instant):
    return lifecycle.confirm_paid(bill.appointment_id, instant)


def _booker(bill):
    return notices.booker_of(bill.appointment_id)


def _booked_by(account_id):
    return sa.select(Bill.id).join(Appointment, Appointment.id == Bill.appointment_id).where(
        Appointment.account_id == account_id)


kinds.register("registration", pay_until=_pay_until, claim=_claim, on_paid=notices.fee_paid, booker=_booker,
               booked_by=_booked_by, paid_message=False)
