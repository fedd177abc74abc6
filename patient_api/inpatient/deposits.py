"""Deposit top-ups (住院预交金) by WeChat Pay, within the hospital's cap; deposits exist only for admissions."""
import sqlalchemy as sa

from ..accounts.models import Account
from ..billing import kinds, ledger, payments
from ..billing.models import Bill, BillItem
from ..billing.services import close_unpaid_bill
from ..common.clock import now
from ..common.locking import lock_row
from ..directory.models import Hospital
from ..errors import Conflict
from ..extensions import db
from .access import resident_admission
from .models import OPEN_FOR_DEPOSITS, Admission
from .money import DEPOSIT, deposit_payments, open_deposit_fen

# A deposit is not a charge: all of it goes through WeChat and it gets no medical receipt.
kinds.register(DEPOSIT, description="泰安健康-住院预交金", split=lambda bill: {"amount_fen": bill.total_fen},
               receipt=False)


def create_deposit_bill(admission, amount_fen, instant=None):
    """Reserve a top-up under the admission's lock: 409 once settled, 409 deposit_cap_exceeded over the cap."""
    instant = instant or now()
    lock_row(Admission, admission.id)  # top-ups and settlement of one admission take turns
    db.session.refresh(admission)
    if admission.status not in OPEN_FOR_DEPOSITS:
        raise Conflict("该住院已结算，不能再缴预交金", code="admission_closed")
    retried = db.session.scalars(sa.select(Bill).where(
        Bill.admission_id == admission.id, Bill.kind == DEPOSIT, Bill.total_fen == amount_fen,
        Bill.status.in_(("unpaid", "paying")))).first()
    if retried is not None:  # the same top-up again (e.g. WeChat failed the first time): pay that bill
        return retried
    _drop_abandoned(admission.id)
    held = sum(p.amount_fen - p.refunded_fen for p in deposit_payments(admission.id))
    cap = db.session.get(Hospital, admission.hospital_id).deposit_cap_fen
    room = cap - held - open_deposit_fen(admission.id)
    if amount_fen > room:
        raise Conflict(f"预交金不能超过医院上限 {cap / 100:.2f} 元，本次最多可缴 {max(room, 0) / 100:.2f} 元",
                       code="deposit_cap_exceeded")
    bill = Bill(patient_id=admission.patient_id, hospital_id=admission.hospital_id, kind=DEPOSIT,
                total_fen=amount_fen, admission_id=admission.id, insurance_type="self_pay",
                department=admission.department, order_no=None)
    bill.items.append(BillItem(code="DEPOSIT", name="住院预交金", category="deposit", quantity=1,
                               unit_price_fen=amount_fen, amount_fen=amount_fen))
    db.session.add(bill)
    db.session.flush()
    ledger.issue(bill)
    return bill


def _drop_abandoned(admission_id):
    """Close top-ups nobody is paying any more (their order lapsed), so they stop counting against the cap."""
    for bill_id in db.session.scalars(sa.select(Bill.id).where(
            Bill.admission_id == admission_id, Bill.kind == DEPOSIT, Bill.status == "unpaid")).all():
        close_unpaid_bill(bill_id)


def top_up(account_id, admission_id, amount_fen, method):
    """A resident (or family member) pays a deposit: the bill and its WeChat order."""
    admission = resident_admission(account_id, admission_id)
    bill = create_deposit_bill(admission, amount_fen)
    order = payments.open_order(bill, method, db.session.get(Account, account_id).openid)
    return {"bill": db.session.get(Bill, bill.id), "payment": order}
