"""Bill services used by booking; payment flows come with the payments issue."""
from sqlalchemy import update

from ..common.clock import now
from ..extensions import db
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
    return bill


def close_unpaid_bill(bill_id):
    """Close a bill that was never paid (hold expired or cancelled); a no-op otherwise."""
    if bill_id is None:
        return False
    result = db.session.execute(update(Bill).where(Bill.id == bill_id, Bill.status == "unpaid")
                                .values(status="closed", closed_at=now()))
    return result.rowcount == 1
