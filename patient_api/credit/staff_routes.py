"""先诊疗后付费 at the hospital's window: a cashier or admin reads, settles, suspends and lifts (all audited)."""
from flask.views import MethodView

from ..common.auth import BEARER_DOC, current_staff_id
from ..common.blueprint import Blueprint
from . import settlement, staff, views
from .schemas import CreditBlockOut, CreditOut, CreditSettlementOut, CreditSuspendIn

blp = Blueprint("credit_staff", __name__, description="先诊疗后付费 at the window (收费处), cashier and admin")
BASE = "/staff/credit/patients/<id:patient_id>"


@blp.before_request
def _signed_in():
    """A staff session before anything else: without one the answer is 401, never a 422 about the body."""
    current_staff_id()


@blp.route(BASE)
class StaffCredit(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, CreditOut)
    def get(self, patient_id):
        """The patient's credit at this hospital: enrolment, 待结算, unpaid settlements, suspensions. 403
        role_forbidden (nurses), 404 patient_not_found (no bill or enrolment here)."""
        member = staff.current_credit_staff()
        staff.staff_patient(member, patient_id, "credit.view")
        return views.overview(patient_id, member.hospital_id)


@blp.route(f"{BASE}/settlements")
class CounterSettlement(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(201, CreditSettlementOut)
    def post(self, patient_id):
        """窗口结算: the cashier took the self-pay part (cash or card) and the settlement is paid, method counter.
        409 credit_nothing_to_settle, credit_deduction_in_progress."""
        member = staff.current_credit_staff()
        staff.staff_patient(member, patient_id, "credit.view")
        return views.settlement_view(settlement.settle_at_counter(member, patient_id))


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
