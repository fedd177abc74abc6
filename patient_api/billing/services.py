"""Bill life cycle shared by booking and HIS: create, close while unpaid, read for an account."""
from sqlalchemy import select, update

from ..accounts.models import PatientLink
from ..common.clock import now
from ..errors import NotFound
from ..extensions import db
from . import ledger
from .models import Bill, BillItem


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


def bills_for(account_id, status=None):
    """Bills of every patient linked to the account, newest first."""
    linked = select(PatientLink.patient_id).where(PatientLink.account_id == account_id)
    query = select(Bill).where(Bill.patient_id.in_(linked))
    if status:
        query = query.where(Bill.status == status)
    return db.session.scalars(query.order_by(Bill.created_at.desc(), Bill.id).limit(200)).all()


def bill_for(account_id, bill_id):
    """One bill of a linked patient; 404 for anyone else's."""
    bill = db.session.get(Bill, bill_id)
    linked = bill is not None and db.session.scalars(select(PatientLink.id).filter_by(
        account_id=account_id, patient_id=bill.patient_id)).first()
    if not linked:
        raise NotFound("未找到该账单", code="bill_not_found")
    return bill
