"""先诊疗后付费 for residents: terms, enrolment, 待结算, settle now, 无感支付 contract, history (verified link)."""
from flask.views import MethodView

from ..accounts import links
from ..accounts.models import Patient
from ..common.auth import BEARER_DOC, current_account_id, resident_required
from ..common.blueprint import Blueprint
from ..common.idempotency import idempotent
from ..extensions import db
from . import contracts, enrolment, paying, views
from .schemas import (
    CreditContractOut,
    CreditEnrolIn,
    CreditEnrolmentOut,
    CreditHospitalQuery,
    CreditOut,
    CreditSettleIn,
    CreditSettlementList,
    CreditSettleOut,
    CreditTermsOut,
)

blp = Blueprint("credit", __name__, description="先诊疗后付费 and 无感支付 (docs/credit.md), residents")
BASE = "/me/patients/<id:patient_id>/credit"


def _verified(patient_id):
    """The patient, for an account with a verified link (403 verification_required, 404 patient_not_found)."""
    links.verified_link(current_account_id(), patient_id)
    return db.session.get(Patient, patient_id)


@blp.route(BASE)
class Credit(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, CreditOut)
    def get(self, patient_id):
        """Limits and use per enrolment, 待结算 bills by hospital with items and running totals, unpaid settlements,
        the 委托代扣 contract and any suspension. 403 verification_required, 404 patient_not_found."""
        return views.overview(_verified(patient_id).id)


@blp.route(f"{BASE}/policy")
class Policy(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(CreditHospitalQuery(), location="query")
    @blp.response(200, CreditTermsOut)
    def get(self, query, patient_id):
        """The hospital's terms (city-wide without hospital_id) as they apply to this patient — limit, and why
        (base, family_doctor: 家庭医生签约, insured) — and the consent text to accept. 404 hospital_not_found."""
        patient = _verified(patient_id)
        enrolment.hospital_or_404(query.get("hospital_id"))
        return views.terms_for(patient, query.get("hospital_id"))


@blp.route(f"{BASE}/enrolments")
class Enrolments(MethodView):
    @resident_required
    @idempotent(current_account_id)
    @blp.doc(**BEARER_DOC)
    @blp.arguments(CreditEnrolIn())
    @blp.response(201, CreditEnrolmentOut)
    def post(self, body, patient_id):
        """Opt in (or renew) at a hospital or city-wide, accepting consent_version. 403 verification_required;
        409 consent_outdated, credit_not_eligible (the hospital does not offer it), credit_blocked (suspended),
        credit_overdue_elsewhere (an overdue settlement anywhere); 404 hospital_not_found."""
        row = enrolment.enrol(current_account_id(), patient_id, body["hospital_id"], body["consent_version"])
        return views.enrolment_view(row)


@blp.route(f"{BASE}/enrolments/<id:enrolment_id>")
class Enrolment(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, CreditEnrolmentOut)
    def delete(self, patient_id, enrolment_id):
        """Leave: only with nothing on credit unpaid (409 credit_open_bills); 404 credit_not_enrolled."""
        return views.enrolment_view(enrolment.leave(current_account_id(), patient_id, enrolment_id))


@blp.route(f"{BASE}/settlements")
class Settlements(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, CreditSettlementList)
    def get(self, patient_id):
        """History: every settlement, newest first."""
        return {"items": views.settlements(_verified(patient_id).id)}

    @resident_required
    @idempotent(current_account_id)
    @blp.doc(**BEARER_DOC)
    @blp.arguments(CreditSettleIn())
    @blp.response(201, CreditSettleOut)
    def post(self, body, patient_id):
        """立即结算 at a hospital: every open bill there in one settlement. With a signed contract it is deducted
        (result deducted, or deducting while WeChat works); otherwise result jsapi with the parameters for
        WeixinJSBridge getBrandWCPayRequest (read the settlement again until paid), or paid when insurance
        covers it. 409 credit_nothing_to_settle, presettlement_unavailable; 502 wechatpay_unavailable."""
        return paying.settle_now(current_account_id(), patient_id, body["hospital_id"])


@blp.route(f"{BASE}/contract")
class Contract(MethodView):
    @resident_required
    @idempotent(current_account_id)
    @blp.doc(**BEARER_DOC)
    @blp.response(201, CreditContractOut)
    def post(self, patient_id):
        """开通无感支付: a WeChat Pay 委托代扣 signing session for this account's wallet; open redirect_url. The
        contract is `signing` until WeChat's notification makes it `active`. 409 credit_not_enrolled,
        credit_contract_exists; 502 wechatpay_unavailable."""
        contract, session = contracts.sign(current_account_id(), patient_id)
        return views.contract_view(contract, session.get("redirect_url"))

    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, CreditContractOut)
    def delete(self, patient_id):
        """关闭无感支付 (解约); `terminated` once WeChat confirms. 404 credit_contract_not_found; 502
        wechatpay_unavailable."""
        return views.contract_view(contracts.terminate(current_account_id(), patient_id))
