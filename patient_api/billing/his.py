"""Bills pushed by hospital systems (HIS): create once per order number, void while unpaid."""
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..accounts import cards, people
from ..accounts.identity import InvalidIdNumber, parse_resident_id
from ..common import events
from ..common.locking import lock_row
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..results.matching import index_for_mrn
from . import kinds, ledger
from .models import Bill, BillItem, Payment
from .refunds import request_refund
from .services import close_unpaid_bill


def _patient(hospital, ref):
    """The person the bill is for (by ID number, or an MRN the hospital linked before); someone not registered
    yet is created from the hospital's data when it sends the name. 422 unknown_patient otherwise."""
    patient = None
    if ref.get("id_number"):
        try:
            resident = parse_resident_id(ref["id_number"])
        except InvalidIdNumber as exc:
            raise Invalid(str(exc), errors={"patient": {"id_number": [str(exc)]}}) from None
        patient = people.from_hospital(resident, ref["name"]) if ref.get("name") else \
            people.patient_by_id_number(resident.number)
    elif index_for_mrn(hospital, ref["mrn"]):
        patient = people.patient_by_index(index_for_mrn(hospital, ref["mrn"]))
    if patient is None:
        raise Invalid("未找到该患者：首次推送未登记的患者时请提供身份证号和姓名", code="unknown_patient",
                      errors={"patient": ["未找到该患者"]})
    people.record_phone(patient.id_number_index, ref.get("phone"), "his_bill", hospital.id)
    cards.record_card(patient.id_number_index, ref.get("insurance_card_no"), "his_bill", hospital.id)
    return patient


def push_bill(hospital, body):
    """Create the bill for `order_no`, or return the one already created for it (re-sends are safe)."""
    existing = _by_order_no(hospital.id, body["order_no"])
    if existing is not None:
        return existing, False
    patient = _patient(hospital, body["patient"])
    items = [BillItem(code=i["code"], name=i["name"], category=i["category"], quantity=i["quantity"],
                      unit_price_fen=i["unit_price_fen"], amount_fen=i["quantity"] * i["unit_price_fen"],
                      insurance_class=i["insurance_class"]) for i in body["items"]]
    bill = Bill(patient_id=patient.id, hospital_id=hospital.id, kind="outpatient", order_no=body["order_no"],
                department=body["department"], doctor=body["doctor"], insurance_type=body["insurance_type"],
                total_fen=sum(item.amount_fen for item in items), items=items)
    try:
        with db.session.begin_nested():
            db.session.add(bill)
    except IntegrityError:  # the same order arrived twice at once: the first one wins
        return _by_order_no(hospital.id, body["order_no"]), False
    ledger.issue(bill)
    events.publish("bill.issued", bill=bill)  # e.g. 先诊疗后付费 takes it on credit
    return bill, True


def _by_order_no(hospital_id, order_no):
    return db.session.scalars(select(Bill).filter_by(hospital_id=hospital_id, order_no=order_no)).first()


def void_bill(hospital, order_no):
    """HIS cancels an unpaid bill; 409 bill_already_paid once money has moved."""
    bill = _by_order_no(hospital.id, order_no)
    if bill is None:
        raise NotFound("未找到该账单", code="bill_not_found")
    lock_row(Bill, bill.id)
    db.session.refresh(bill)
    if bill.status == "closed":
        return bill
    if not close_unpaid_bill(bill.id):
        raise Conflict("账单已支付，不能作废", code="bill_already_paid")
    db.session.refresh(bill)
    return bill


def refund_bill(hospital, order_no, out_refund_no, amount_fen, reason=None):
    """Reserve a refund of a paid HIS bill; the worker sends it to WeChat. A bill paid through another bill's payment
    (先诊疗后付费: its settlement's) is refunded from that payment, up to its own share of the self-pay."""
    bill = _by_order_no(hospital.id, order_no)
    # The bill's own payment: an overpayment (a second order paid for the same bill) is refunded whole on its own.
    payment = bill and db.session.scalars(select(Payment).filter_by(
        bill_id=bill.id, status="paid", overpaid=False)).first()
    if payment is None and bill is not None and bill.status in ("paid", "partially_refunded", "refunded"):
        through = kinds.payer(bill)  # may refuse: a settlement paid at the window is refunded there
        if through is not None:
            return request_refund(through["payment_id"], amount_fen, None, reason or "医院退费",
                                  hospital_refund_no=out_refund_no, bill_id=bill.id, share_fen=through["share_fen"])
    if payment is None:
        raise NotFound("未找到已支付的账单", code="bill_not_paid")
    return request_refund(payment.id, amount_fen, None, reason or "医院退费", hospital_refund_no=out_refund_no)
