"""先诊疗后付费 at the hospital's window: a cashier or admin finds the patient by ID card, reads, pre-settles,
settles, suspends and lifts (all audited)."""
from flask.views import MethodView

from ..common import audit
from ..common.auth import BEARER_DOC, current_staff_id
from ..common.blueprint import Blueprint
from ..errors import Conflict
from ..extensions import db
from . import counter, lookup, settlement, staff, views
from .schemas import CreditBlockOut, CreditSettlementOut, CreditSuspendIn
from .staff_schemas import (
    CreditCounterQuoteOut,
    CreditCounterSettleIn,
    CreditLookupIn,
    CreditLookupOut,
    StaffCreditOut,
)

blp = Blueprint("credit_staff", __name__, description="先诊疗后付费 at the window (收费处), cashier and admin")
BASE = "/staff/credit/patients/<id:patient_id>"


@blp.before_request
def _signed_in():
    """A staff session before anything else: without one the answer is 401, never a 422 about the body."""
    current_staff_id()


@blp.route("/staff/credit/lookup")
class Lookup(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(CreditLookupIn())
    @blp.response(200, CreditLookupOut)
    def post(self, body):
        """The patient at the window by the ID card read there (POST: the number stays out of URLs and logs).
        404 patient_not_found (no bill or credit here, or unknown: the same answer), 422 invalid_id_number,
        429 rate_limited (CREDIT_LOOKUP_LIMIT per staff member per 10 minutes), 403 role_forbidden."""
        return lookup.find(staff.current_credit_staff(), body["id_number"])


@blp.route(BASE)
class StaffCredit(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, StaffCreditOut)
    def get(self, patient_id):
        """The patient's credit at this hospital: who (masked), enrolment, 待结算, unpaid settlements, contract,
        suspensions. 403 role_forbidden (nurses), 404 patient_not_found (no bill or enrolment here)."""
        member = staff.current_credit_staff()
        patient = staff.staff_patient(member, patient_id, "credit.view")
        return {**views.overview(patient_id, member.hospital_id), "patient": lookup.identity(patient),
                "suspension": staff.staff_suspension(member, patient_id)}


@blp.route(f"{BASE}/pre-settlement")
class CounterQuote(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, CreditCounterQuoteOut)
    def post(self, patient_id):
        """预结算 at the window: what 窗口结算 would cover now and the self-pay the cashier collects; nothing is
        stored but the audit row. 409 credit_nothing_to_settle."""
        member = staff.current_credit_staff()
        staff.staff_patient(member, patient_id, "credit.presettle")
        return counter.presettle(patient_id, member.hospital_id)


@blp.route(f"{BASE}/settlements")
class CounterSettlement(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(CreditCounterSettleIn())
    @blp.response(201, CreditSettlementOut)
    def post(self, body, patient_id):
        """窗口结算: the cashier took the self-pay part (cash or card) and the settlement is paid, method counter.
        With self_pay_fen (the amount confirmed on screen) nothing is settled unless it is the settlement's
        self-pay: 409 credit_amount_changed. 409 credit_nothing_to_settle, credit_deduction_in_progress."""
        member = staff.current_credit_staff()
        staff.staff_patient(member, patient_id, "credit.view")
        paid = settlement.settle_at_counter(member, patient_id)
        expected = body.get("self_pay_fen")
        if expected is not None and expected != paid.self_pay_fen:
            found = paid.self_pay_fen
            db.session.rollback()  # nothing settled: the cashier took another amount than this settlement's
            audit.record("staff", member.id, "credit.settle_refused", patient_id=patient_id,
                         resource=member.hospital_id, confirmed_fen=expected, self_pay_fen=found)
            db.session.commit()  # the refusal is kept although the answer is an error
            raise Conflict("应收金额已变化，请重新预结算核对后再收费", code="credit_amount_changed")
        return views.settlement_view(paid)


@blp.route(f"{BASE}/suspension")
class Suspension(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(CreditSuspendIn())
    @blp.response(201, CreditBlockOut)
    def post(self, body, patient_id):
        """暂停: no new credit for the patient at this hospital until lifted (bills already on credit stay)."""
        member = staff.current_credit_staff()
        staff.staff_patient(member, patient_id, "credit.view")
        return views.block_view(staff.suspend(member, patient_id, body.get("note")))

    @blp.doc(**BEARER_DOC)
    @blp.response(200, CreditBlockOut)
    def delete(self, patient_id):
        """解除暂停 of this hospital's suspension. 404 credit_block_not_found."""
        member = staff.current_credit_staff()
        staff.staff_patient(member, patient_id, "credit.view")
        return views.block_view(staff.lift(member, patient_id))
