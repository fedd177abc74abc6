"""Binding codes at the kiosk: after the ID card's chip was read, the resident gets a code to verify on the phone."""
from flask import g
from flask.views import MethodView

from ..accounts.models import Patient
from ..accounts.schemas import BindingCodeOut
from ..accounts.verification import issue_binding_code
from ..common import audit
from ..common.blueprint import Blueprint
from ..errors import Forbidden
from ..extensions import db
from . import sessions
from .signing import KIOSK_DOC, kiosk_required

blp = Blueprint("kiosk_binding", __name__, description="Kiosk binding codes for 实名认证 on the phone")


@blp.route("/kiosk/binding-codes")
class KioskBindingCodes(MethodView):
    @kiosk_required
    @blp.doc(**KIOSK_DOC)
    @blp.response(201, BindingCodeOut)
    def post(self):
        """A one-time code (5 minutes) for the session's patient; only after an ID-card chip read."""
        patient_id, method = sessions.current_session()
        if method != "id_card":  # an insurance card carries no chip-read name: not proof enough
            raise Forbidden("请刷身份证后获取绑定码", code="id_card_required")
        patient = db.session.get(Patient, patient_id)
        code, ttl = issue_binding_code(patient.id_number_index, patient.name, "kiosk", g.kiosk.id)
        audit.record("kiosk", g.kiosk.id, "binding_code.issue", patient_id=patient.id)
        return {"binding_code": code, "expires_in": ttl}
