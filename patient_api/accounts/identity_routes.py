"""Real-name verification of links and the person's control over proxies (实名认证与授权)."""
from flask.views import MethodView

from ..common.auth import BEARER_DOC, current_account_id, resident_required
from ..common.blueprint import Blueprint
from . import proxies, verification
from .schemas import LinkListOut, LinkOut, PatientOut, VerificationConfirmIn, VerificationIn, VerificationStarted

blp = Blueprint("identity", __name__, description=(
    "Verification and proxies. Typing an ID number makes a claimed link (book, pay its own registration "
    "fees); reports, records, stays and HIS bills need a verified link (403 verification_required). Verify by an "
    "SMS code to the phone hospitals hold for the person, or by a binding code from a kiosk ID-card read or a "
    "counter. A second account adding a person who verified themselves waits pending for their consent."))


@blp.route("/me/patients/<id:patient_id>/verification")
class Verification(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(VerificationIn())
    @blp.response(202, VerificationStarted)
    def post(self, body, patient_id):
        """Send a 6-digit code to the phone on file (masked in the answer); 409 no_phone_on_file, 429 rate_limited."""
        return verification.start(current_account_id(), patient_id, body["method"])


@blp.route("/me/patients/<id:patient_id>/verification/confirm")
class VerificationConfirm(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(VerificationConfirmIn())
    @blp.response(200, PatientOut)
    def post(self, body, patient_id):
        """Enter the SMS code or a binding code; 422 code_invalid, 409 code_expired, 429 after 5 wrong codes."""
        return verification.confirm(current_account_id(), patient_id, body)


@blp.route("/me/patients/<id:patient_id>/links")
class Links(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, LinkListOut)
    def get(self, patient_id):
        """Every account linked to this person (the person's own verified link only)."""
        return {"items": proxies.all_links(current_account_id(), patient_id)}


def _decision(action):
    class Decision(MethodView):
        @resident_required
        @blp.doc(**BEARER_DOC)
        @blp.response(200, LinkOut)
        def post(self, patient_id, link_id):
            return proxies.decide(current_account_id(), patient_id, link_id, action)
    Decision.post.__doc__ = {"approve": "Let a pending proxy act for you.", "decline": "Refuse a pending proxy.",
                             "revoke": "End another account's link at once."}[action]
    Decision.__name__ = f"Link{action.title()}"
    return Decision


for _action in ("approve", "decline", "revoke"):
    blp.route(f"/me/patients/<id:patient_id>/links/<id:link_id>/{_action}", endpoint=f"link_{_action}")(
        _decision(_action))
