"""双向转诊 for residents: the referrals of their verified patients (no summary, no staff names)."""
from flask.views import MethodView

from ..common.auth import BEARER_DOC, current_account_id, resident_required
from ..common.blueprint import Blueprint
from . import views
from .access import for_patients, resident_patients, resident_referral
from .schemas import ReferralList, ReferralMineQuery, ReferralOut

blp = Blueprint("referrals", __name__, description="双向转诊 (resident view)")


@blp.route("/me/referrals")
class MyReferrals(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(ReferralMineQuery(), location="query")
    @blp.response(200, ReferralList)
    def get(self, query):
        """Referrals of a linked patient (else of every verified one), newest first; 403 verification_required for
        an unverified link, 404 patient_not_found for no link."""
        patients = resident_patients(current_account_id(), query.get("patient_id"))
        return {"items": [views.render(row, for_staff=False) for row in for_patients(patients)]}


@blp.route("/me/referrals/<id:referral_id>")
class MyReferral(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, ReferralOut)
    def get(self, referral_id):
        """One referral of a verified patient (404 referral_not_found otherwise)."""
        return views.render(resident_referral(current_account_id(), referral_id), for_staff=False)
