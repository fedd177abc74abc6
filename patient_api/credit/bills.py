"""HIS bills taken on credit: flagged when billing publishes bill.issued, held from being paid on their own, and
let go when HIS voids them. Billing never imports this module (docs/events.md)."""
import logging

from ..billing import kinds
from ..common import events
from ..common.clock import now
from ..common.locking import lock_row
from ..extensions import db
from . import enrolment, policy
from .models import CreditBill, CreditEnrolment
from .settlement import cancel

log = logging.getLogger(__name__)
PENDING_MESSAGE = "该账单已计入先诊疗后付费，待结算时统一支付"


@events.subscribe("bill.issued")
def take_on_credit(bill):
    """An outpatient bill of an enrolled patient goes on credit while open credit plus this bill stays within the
    limit; otherwise (or when anything forbids credit) it stays payable as any bill."""
    if bill.kind != "outpatient":
        return None
    found = enrolment.covering(bill.patient_id, bill.hospital_id)
    if found is None or not policy.terms(bill.hospital_id)["enabled"]:
        return None
    lock_row(CreditEnrolment, found.id)  # bills of one enrolment are weighed against its limit one at a time
    db.session.refresh(found)
    if found.status != "active" or policy.refusal(bill.patient_id, bill.hospital_id, now()) is not None:
        return None
    if enrolment.open_fen(found.id) + bill.total_fen > found.limit_fen:
        log.info("bill %s over the credit limit of %s: payable as usual", bill.id, found.id)
        return None
    row = CreditBill(bill_id=bill.id, enrolment_id=found.id, patient_id=bill.patient_id,
                     hospital_id=bill.hospital_id, amount_fen=bill.total_fen)
    db.session.add(row)
    db.session.flush()
    return row


@kinds.hold
def pending_settlement(bill):
    """A bill on credit is paid with its settlement, never on its own (409 credit_bill_pending_settlement)."""
    if bill.kind != "outpatient":
        return None
    row = db.session.get(CreditBill, bill.id)
    if row is not None and row.status in ("open", "settling"):
        return "credit_bill_pending_settlement", PENDING_MESSAGE
    return None


@events.subscribe("bill.closed")
def bill_closed(bill):
    """HIS voided a bill on credit: it no longer counts; a settlement not yet paid that covered it is cancelled (its
    other bills wait for the next one). Closing a settlement's own bill is the settlement's business."""
    if bill.kind == "credit_settlement":
        return None
    row = db.session.get(CreditBill, bill.id)
    if row is None or row.status not in ("open", "settling"):
        return None
    if row.status == "settling":
        cancel(row.settlement_id, "covered bill voided")
        db.session.refresh(row)
    row.status = "void"
    db.session.flush()
    return row
