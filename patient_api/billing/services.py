"""Bill life cycle shared by booking and HIS: create, close while unpaid, read for an account."""
from sqlalchemy import or_, select, update
from sqlalchemy.orm import selectinload

from ..accounts import links
from ..booking.models import Appointment
from ..booking.models import with_names as appointment_names
from ..common.clock import now
from ..errors import NotFound
from ..extensions import db
from . import ledger
from .models import Bill, BillItem


def with_names():
    """Loader options for a list's hospital, department and doctor names (see booking.models.with_names)."""
    return selectinload(Bill.hospital), selectinload(Bill.appointment).options(*appointment_names())


def create_registration_bill(appointment, schedule):
    """An unpaid registration (挂号费) bill for a held appointment."""
    bill = Bill(patient_id=appointment.patient_id, hospital_id=appointment.hospital_id,
                kind="registration", total_fen=appointment.fee_fen, appointment_id=appointment.id)
    bill.items.append(BillItem(code="REG-" + schedule.fee_kind, name=f"挂号费（{schedule.fee_kind}）",
                               category="registration", quantity=1, unit_price_fen=schedule.fee_fen,
                               amount_fen=schedule.fee_fen))
    db.session.add(bill)
    db.session.flush()
    ledger.issue(bill)
    return bill


def close_unpaid_bill(bill_id):
    """Close a bill that was never paid (hold expired, cancelled, voided); False if money has moved."""
    if bill_id is None:
        return False
    closed = db.session.execute(update(Bill).where(Bill.id == bill_id, Bill.status.in_(("unpaid", "paying")))
                                .values(status="closed", closed_at=now())
                                .execution_options(synchronize_session="fetch")).rowcount == 1
    if closed:
        ledger.closed(db.session.get(Bill, bill_id))
    return closed


def _own_registrations(account_id):
    """SELECT of the appointments this account booked: their fees are its to pay even on a claimed link."""
    return select(Appointment.id).where(Appointment.account_id == account_id,
                                        Appointment.patient_id.in_(links.active_patient_ids(account_id)))


def bills_for(account_id, status=None):
    """Bills of the account's verified patients, and the registration fees of its own bookings; newest first."""
    query = select(Bill).where(or_(Bill.patient_id.in_(links.verified_patient_ids(account_id)),
                                   Bill.appointment_id.in_(_own_registrations(account_id))))
    if status:
        query = query.where(Bill.status == status)
    return db.session.scalars(query.options(*with_names()).order_by(Bill.created_at.desc(), Bill.id).limit(200)).all()


def bill_for(account_id, bill_id, clinical=False):
    """One bill the account may see: any bill of a verified patient, or (unless `clinical`, e.g. a receipt)
    the fee of its own booking; 403 verification_required for the rest of a claimed patient's, 404 otherwise."""
    bill = db.session.get(Bill, bill_id)
    link = bill and links.link_of(account_id, bill.patient_id)
    if link is None or not link.active:
        raise NotFound("未找到该账单", code="bill_not_found")
    if link.verified:
        return bill
    own = bill.appointment_id is not None and db.session.scalar(
        select(Appointment.account_id).where(Appointment.id == bill.appointment_id)) == account_id
    if clinical or not own:
        raise links.verification_required()
    return bill
