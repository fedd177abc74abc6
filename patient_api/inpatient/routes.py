"""The family's view of a stay: admissions, the 一日清单, deposit top-ups, the settlement and its receipt."""
from flask.views import MethodView

from ..accounts.links import clinical_patients
from ..common.auth import BEARER_DOC, current_account_id, resident_required
from ..common.blueprint import Blueprint
from ..common.idempotency import idempotent
from ..errors import NotFound
from . import deposits, settlement, views
from .access import resident_admission
from .schemas import (
    AdmissionList,
    AdmissionOut,
    AdmissionQuery,
    DailyChargesOut,
    DayQuery,
    DepositIn,
    DepositOut,
    SettlementOut,
)

blp = Blueprint("inpatient", __name__, description="Inpatient stays for residents and families (住院服务)")


@blp.route("/admissions")
class Admissions(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(AdmissionQuery(), location="query")
    @blp.response(200, AdmissionList)
    def get(self, query):
        """Admissions of the account's patients (or of one of them)."""
        return {"items": views.for_patients(clinical_patients(current_account_id(), query.get("patient_id")))}


@blp.route("/admissions/<id:admission_id>")
class AdmissionItem(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, AdmissionOut)
    def get(self, admission_id):
        """One admission: deposits, charges, what is left, flags."""
        return views.render(resident_admission(current_account_id(), admission_id))


@blp.route("/admissions/<id:admission_id>/daily-charges")
class DailyCharges(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(DayQuery(), location="query")
    @blp.response(200, DailyChargesOut)
    def get(self, query, admission_id):
        """The 一日清单 of a day by category (today when no date is given), and the days that have charges."""
        return views.daily_charges(resident_admission(current_account_id(), admission_id), query.get("date"))


@blp.route("/admissions/<id:admission_id>/deposits")
class Deposits(MethodView):
    @resident_required
    @idempotent(current_account_id)
    @blp.doc(**BEARER_DOC)
    @blp.arguments(DepositIn())
    @blp.response(201, DepositOut)
    def post(self, body, admission_id):
        """Top up the deposit by WeChat Pay; 409 deposit_cap_exceeded over the hospital's cap, 409 admission_closed."""
        return deposits.top_up(current_account_id(), admission_id, body["amount_fen"], body["method"])


@blp.route("/admissions/<id:admission_id>/settlement")
class AdmissionSettlement(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, SettlementOut)
    def get(self, admission_id):
        """The discharge settlement as the family sees it: balance due or refunds, and the receipt once paid."""
        found = settlement.settlement_of(resident_admission(current_account_id(), admission_id).id)
        if found is None:
            raise NotFound("尚未出院结算", code="settlement_not_found")
        return settlement.render(found)
