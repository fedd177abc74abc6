"""The resident's 立即结算 tap: settle now, and pay by the 委托代扣 contract when there is one, else by JSAPI."""
from ..accounts import links
from ..accounts.models import Account
from ..billing import payments
from ..billing.models import Bill
from ..common.clock import now
from ..errors import ApiError, Conflict
from ..extensions import db
from . import deductions, views
from .enrolment import hospital_or_404
from .models import CreditSettlement
from .settlement import NOTHING, active_contract, open_settlement


def settle_now(account_id, patient_id, hospital_id, instant=None):
    """{"result": deducted | deducting | jsapi | paid, "settlement", "payment"}; 409 credit_nothing_to_settle."""
    instant = instant or now()
    links.verified_link(account_id, patient_id)
    hospital_or_404(hospital_id)
    settlement = open_settlement(patient_id, hospital_id, instant, "resident")
    if settlement is None:
        raise Conflict(NOTHING, code="credit_nothing_to_settle")
    settlement_id = settlement.id
    contract = active_contract(patient_id)
    db.session.commit()  # the settlement stands whatever WeChat answers next
    result, payment = _state(settlement_id), None
    if result == "pending" and contract is not None and not settlement.deduction_failed:
        deductions.attempt(settlement_id, instant)
        result = _state(settlement_id)
    if result == "pending":
        try:
            payment = payments.open_order(db.session.get(Bill, settlement.bill_id), "wechat_jsapi",
                                          db.session.get(Account, account_id).openid)
            result = "paid" if _state(settlement_id) == "paid" else "jsapi"
        except ApiError as exc:
            if exc.code != "credit_deduction_in_progress":
                raise
            result = "deducting"  # the worker started the deduction a moment ago: that one pays
    return {"result": result, "settlement": views.settlement_view(db.session.get(CreditSettlement, settlement_id)),
            "payment": payment}


def _state(settlement_id):
    """pending | deducting | deducted (paid by 委托代扣) | paid | cancelled, read afresh."""
    settlement = db.session.get(CreditSettlement, settlement_id, populate_existing=True)
    if settlement.status == "paid" and settlement.method == "wechat_papay":
        return "deducted"
    return settlement.status
