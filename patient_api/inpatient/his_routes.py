"""HIS pushes about inpatients (hospital key): admissions, charges, orders complete, discharge orders."""
from flask.views import MethodView

from ..common.blueprint import Blueprint
from ..integration.auth import HOSPITAL_DOC, current_hospital, hospital_required
from . import his, views
from .schemas import AdmissionIn, AdmissionOut, ChargesIn, ChargesResult, DischargeIn

blp = Blueprint("integration_inpatient", __name__, description="Hospital systems: inpatient data (HIS)")


@blp.route("/integration/admissions")
class HisAdmissions(MethodView):
    @hospital_required
    @blp.doc(**HOSPITAL_DOC)
    @blp.arguments(AdmissionIn())
    @blp.response(201, AdmissionOut)
    @blp.alt_response(200, schema=AdmissionOut, description="Already known: unchanged, or moved to a new bed")
    def post(self, body):
        """Admit (201); re-sending admission_no answers 200 and applies a ward/bed transfer while the stay is open."""
        admission, created = his.push_admission(current_hospital(), body)
        return views.render(admission), 201 if created else 200


@blp.route("/integration/admissions/<id:admission_no>/charges")
class HisCharges(MethodView):
    @hospital_required
    @blp.doc(**HOSPITAL_DOC)
    @blp.arguments(ChargesIn())
    @blp.response(200, ChargesResult)
    def post(self, body, admission_no):
        """Add charge lines; a re-sent source_id with the same content is skipped, with other content 409."""
        return his.push_charges(current_hospital(), admission_no, body["items"])


@blp.route("/integration/admissions/<id:admission_no>/orders-complete")
class HisOrdersComplete(MethodView):
    @hospital_required
    @blp.doc(**HOSPITAL_DOC)
    @blp.response(200, AdmissionOut)
    def post(self, admission_no):
        """Every order of the stay is executed or stopped: discharge review may go ahead."""
        return views.render(his.orders_complete(current_hospital(), admission_no))


@blp.route("/integration/admissions/<id:admission_no>/discharge-order")
class HisDischargeOrder(MethodView):
    @hospital_required
    @blp.doc(**HOSPITAL_DOC)
    @blp.arguments(DischargeIn())
    @blp.response(200, AdmissionOut)
    def post(self, body, admission_no):
        """The doctor's discharge order (出院医嘱); an empty body means now."""
        return views.render(his.discharge_order(current_hospital(), admission_no, body.get("discharge_at")))
