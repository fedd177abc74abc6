"""Bill life cycle shared by booking and HIS: create, close while unpaid, read for an account."""
from sqlalchemy import and_, false, or_, select, update
from sqlalchemy.orm import selectinload

from ..accounts import links
from ..common import events
from ..common.clock import now
from ..directory.models import Department
from ..errors import NotFound
from ..extensions import db
from . import kinds, ledger
from .models import Bill, BillItem


def with_names():
    """Loader options for a list's hospital names (department and doctor names are on the bill itself)."""
    return (selectinload(Bill.hospital),)


def create_registration_bill(appointment, schedule):
    """An unpaid registration (挂号费) bill for a held appointment."""
    department = db.session.get(Department, schedule.department_id)
    bill = Bill(patient_id=appointment.patient_id, hospital_id=appointment.hospital_id,
                kind="registration", total_fen=appointment.fee_fen, appointment_id=appointment.id,
                department=department.name if department else None,  # the names a resident reads on the bill
                doctor=schedule.doctor.name if schedule.doctor else None)
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
        bill = db.session.get(Bill, bill_id)
        ledger.closed(bill)
        events.publish("bill.closed", bill=bill)
    return closed


def _made_by(account_id):
    """Bills this account made itself (the fees of its own bookings): its to pay even on a claimed link."""
    made = [Bill.id.in_(kind.booked_by(account_id)) for kind in kinds.registered() if kind.booked_by]
    return and_(or_(false(), *made), Bill.patient_id.in_(links.active_patient_ids(account_id)))


def bills_for(account_id, status=None):
    """Bills of the account's verified patients, and the registration fees of its own bookings; newest first."""
    query = select(Bill).where(or_(Bill.patient_id.in_(links.verified_patient_ids(account_id)), _made_by(account_id)))
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
    if clinical or kinds.of(bill.kind).booker(bill) != account_id:
        raise links.verification_required()
    return bill
