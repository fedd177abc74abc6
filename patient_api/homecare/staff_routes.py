"""互联网+护理 for staff: admins keep the catalogue and nurses' qualifications, dispatchers review requests and
see alerts, the assigned nurse runs the visit. Another hospital's (or another nurse's) order is a plain 404."""
from flask.views import MethodView

from ..common.auth import BEARER_DOC, current_staff_id
from ..common.blueprint import Blueprint
from ..common.idempotency import idempotent
from . import alerts, catalogue, refunds, shared, views, visits
from .access import assigned_order, audited, current_staff, hospital_service, require_right, staff_order
from .schemas import (
    AlertList,
    AlertOut,
    AlertQuery,
    AssignIn,
    CheckInIn,
    DeclineIn,
    NurseList,
    NurseOut,
    NurseQuery,
    OrderList,
    OrderOut,
    OrderQuery,
    QualificationsIn,
    ReassignIn,
    RecordIn,
    RefundIn,
    ServiceIn,
    ServiceList,
    ServiceOut,
    SharedRecordDetail,
)

blp = Blueprint("homecare_staff", __name__,
                description="互联网+护理 for staff: catalogue (admin), dispatch (dispatcher), visits (nurse)")


@blp.before_request
def _signed_in():
    """A staff session before anything else: without one the answer is 401, never a 422 about the body."""
    current_staff_id()


@blp.route("/staff/homecare/services")
class Services(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, ServiceList)
    def get(self):
        """Every service of the admin's hospital, withdrawn ones too (403 role_forbidden for other roles)."""
        staff = current_staff()
        require_right(staff, "catalogue")
        return {"items": catalogue.of_hospital(staff.hospital_id)}

    @blp.doc(**BEARER_DOC)
    @blp.arguments(ServiceIn())
    @blp.response(201, ServiceOut)
    def post(self, body):
        """Publish a service (admin); 409 service_code_taken for a code the hospital already uses."""
        staff = current_staff()
        require_right(staff, "catalogue")
        return catalogue.create(staff, body)


@blp.route("/staff/homecare/services/<id:service_id>")
class Service(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, ServiceOut)
    def get(self, service_id):
        """One service of the admin's hospital."""
        staff = current_staff()
        require_right(staff, "catalogue")
        return hospital_service(staff, service_id)

    @blp.doc(**BEARER_DOC)
    @blp.arguments(ServiceIn())
    @blp.response(200, ServiceOut)
    def put(self, body, service_id):
        """Replace a service's definition (`active: false` withdraws it); orders keep the prices they were given."""
        staff = current_staff()
        require_right(staff, "catalogue")
        return catalogue.update(staff, hospital_service(staff, service_id), body)


@blp.route("/staff/homecare/nurses")
class Nurses(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(NurseQuery(), location="query")
    @blp.response(200, NurseList)
    def get(self, query):
        """The hospital's nurses and the services each may do (dispatchers: only those qualified for `service_id`)."""
        staff = current_staff()
        require_right(staff, "dispatch")
        return {"items": catalogue.nurses(staff.hospital_id, query.get("service_id"))}


@blp.route("/staff/homecare/nurses/<id:nurse_id>/qualifications")
class Qualifications(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(QualificationsIn())
    @blp.response(200, NurseOut)
    def put(self, body, nurse_id):
        """Set which catalogue services a nurse may do (admin); 404 nurse_not_found, 422 unknown_service."""
        staff = current_staff()
        require_right(staff, "qualify")
        nurse = catalogue.hospital_nurse(staff.hospital_id, nurse_id)
        return catalogue.set_qualifications(staff, nurse, body["service_ids"])


@blp.route("/staff/homecare/orders")
class Orders(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(OrderQuery(), location="query")
    @blp.response(200, OrderList)
    def get(self, query):
        """Orders newest first (paged, addresses masked): a nurse's own assignments, a dispatcher's whole hospital."""
        staff = current_staff()
        require_right(staff, "list")
        return views.for_staff(staff, query)


@blp.route("/staff/homecare/orders/<id:order_id>")
class Order(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, OrderOut)
    def get(self, order_id):
        """One order; the assigned nurse reads the full address from her acceptance until 24 h after check-out
        (each such read is audited), everyone else masked."""
        staff = current_staff()
        order = staff_order(staff, order_id)
        audited(staff, "homecare.view", order)
        return views.render(order, staff, reveal=True)


@blp.route("/staff/homecare/orders/<id:order_id>/assign")
class Assign(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(AssignIn())
    @blp.response(200, OrderOut)
    def post(self, body, order_id):
        """Dispatcher: accept the request with a qualified nurse of the hospital (404 nurse_not_found, 422
        nurse_not_qualified, distance_band_required, unknown_distance_band; 409 request_lapsed past the review
        deadline, 409 invalid_order_state once reviewed)."""
        staff = current_staff()
        order = staff_order(staff, order_id, "dispatch")
        return views.render(visits.assign(staff, order, body["nurse_id"], body["distance_band"]), staff)


@blp.route("/staff/homecare/orders/<id:order_id>/reassign")
class Reassign(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(ReassignIn())
    @blp.response(200, OrderOut)
    def post(self, body, order_id):
        """Dispatcher: 改派 an assigned or accepted order to another qualified nurse, with a reason; the old nurse
        loses it at once, the new one must accept it; both nurses and the family are told. 409 visit_started once
        checked in, 409 invalid_order_state before assignment or once closed; 404 nurse_not_found, 422
        nurse_not_qualified, same_nurse."""
        staff = current_staff()
        order = staff_order(staff, order_id, "dispatch")
        return views.render(visits.reassign(staff, order, body["nurse_id"], body["reason"]), staff)


@blp.route("/staff/homecare/orders/<id:order_id>/refunds")
class Refunds(MethodView):
    @idempotent(current_staff_id)
    @blp.doc(**BEARER_DOC)
    @blp.arguments(RefundIn())
    @blp.response(201, OrderOut)
    def post(self, body, order_id):
        """Dispatcher or admin: refund the order's paid bill (the visit, or a late cancellation's fee) in full or in
        part, with a reason the family reads (send an Idempotency-Key). Audited; the family hears refund.done when
        WeChat returns the money. 409 homecare_not_paid, refund_exceeds_paid, refund_limit_reached."""
        staff = current_staff()
        order = staff_order(staff, order_id, "dispatch")
        refunds.refund(staff, order, body["amount_fen"], body["reason"])
        return views.render(order, staff)


@blp.route("/staff/homecare/orders/<id:order_id>/decline")
class Decline(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(DeclineIn())
    @blp.response(200, OrderOut)
    def post(self, body, order_id):
        """Dispatcher: decline the request with a reason the family reads (409 as for assign)."""
        staff = current_staff()
        order = staff_order(staff, order_id, "dispatch")
        return views.render(visits.decline(staff, order, body["reason"]), staff)


@blp.route("/staff/homecare/orders/<id:order_id>/accept")
class Accept(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, OrderOut)
    def post(self, order_id):
        """The assigned nurse takes the visit (409 invalid_order_state unless assigned)."""
        staff = current_staff()
        return views.render(visits.accept(staff, assigned_order(staff, order_id)), staff, reveal=True)


@blp.route("/staff/homecare/orders/<id:order_id>/depart")
class Depart(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, OrderOut)
    def post(self, order_id):
        """The assigned nurse sets out; the family hears she is on the way (once)."""
        staff = current_staff()
        return views.render(visits.depart(staff, assigned_order(staff, order_id)), staff, reveal=True)


@blp.route("/staff/homecare/orders/<id:order_id>/check-in")
class CheckIn(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(CheckInIn())
    @blp.response(200, OrderOut)
    def post(self, body, order_id):
        """Arrival: the visit starts (time, and lat/lng when given); the resident can no longer cancel."""
        staff = current_staff()
        order = visits.check_in(staff, assigned_order(staff, order_id), body["lat"], body["lng"])
        return views.render(order, staff, reveal=True)


@blp.route("/staff/homecare/orders/<id:order_id>/record")
class Record(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(RecordIn())
    @blp.response(200, OrderOut)
    def post(self, body, order_id):
        """What was done and the consumables used (codes of the service's catalogue; 422 unknown_consumable);
        recording again replaces it until check-out."""
        staff = current_staff()
        order = visits.record(staff, assigned_order(staff, order_id), body["notes"], body["consumables"])
        return views.render(order, staff, reveal=True)


@blp.route("/staff/homecare/orders/<id:order_id>/check-out")
class CheckOut(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, OrderOut)
    def post(self, order_id):
        """The visit ends (409 record_missing without a record): the bill (service + travel + consumables) is issued
        and the family asked to pay it (`bill_id`)."""
        staff = current_staff()
        return views.render(visits.check_out(staff, assigned_order(staff, order_id)), staff, reveal=True)


@blp.route("/staff/homecare/orders/<id:order_id>/shared-record")
class SharedRecord(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, SharedRecordDetail)
    def get(self, order_id):
        """The stay or report the requester shared, for the assigned nurse in her address window only (access-logged
        for the patient); 404 shared_record_not_found otherwise."""
        staff = current_staff()
        return shared.read(staff, assigned_order(staff, order_id))


@blp.route("/staff/homecare/alerts")
class Alerts(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(AlertQuery(), location="query")
    @blp.response(200, AlertList)
    def get(self, query):
        """Dispatcher: the hospital's alerts newest first (paged): requests that lapsed, visits not checked out in
        time, complaints; `open=true` for the unacknowledged ones."""
        staff = current_staff()
        require_right(staff, "dispatch")
        return alerts.listed(staff, query)


@blp.route("/staff/homecare/alerts/<id:alert_id>/acknowledge")
class Acknowledge(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, AlertOut)
    def post(self, alert_id):
        """Dispatcher: mark an alert seen (again: no change)."""
        staff = current_staff()
        require_right(staff, "dispatch")
        return alerts.acknowledge(staff, alert_id)
