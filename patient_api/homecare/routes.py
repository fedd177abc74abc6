"""互联网+护理 for residents: the catalogue (no sign-in), requesting a visit, following, cancelling and rating it."""
from flask.views import MethodView

from ..common.auth import BEARER_DOC, current_account_id, resident_required
from ..common.blueprint import Blueprint
from ..common.idempotency import idempotent
from . import catalogue, requests, views
from .access import resident_order
from .schemas import (
    CatalogueQuery,
    ComplaintIn,
    OrderIn,
    OrderList,
    OrderOut,
    OrderQuery,
    RatingIn,
    ServiceList,
    ServiceOut,
)

blp = Blueprint("homecare", __name__, description="互联网+护理: home nursing booked online (网约护士)")


@blp.route("/homecare/services")
class Services(MethodView):
    @blp.arguments(CatalogueQuery(), location="query")
    @blp.response(200, ServiceList)
    def get(self, query):
        """The published catalogue: services, prices (service fee + travel fee by distance band), duration, who may be
        served, consumables and the districts covered; of one hospital and covering one district when asked."""
        return {"items": catalogue.published(query.get("hospital_id"), query.get("area_code"))}


@blp.route("/homecare/services/<id:service_id>")
class Service(MethodView):
    @blp.response(200, ServiceOut)
    def get(self, service_id):
        """One published service; 404 homecare_service_not_found for an unknown or withdrawn one."""
        return catalogue.published_one(service_id)


@blp.route("/me/homecare/orders")
class Orders(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(OrderQuery(), location="query")
    @blp.response(200, OrderList)
    def get(self, query):
        """The visits this account requested, newest first (paged)."""
        return views.for_account(current_account_id(), query)

    @resident_required
    @idempotent(current_account_id)
    @blp.doc(**BEARER_DOC)
    @blp.arguments(OrderIn())
    @blp.response(201, OrderOut)
    def post(self, body):
        """Request a home visit for a patient on a verified link (403 verification_required otherwise). Refusals:
        404 homecare_service_not_found, 404 shared_record_not_found (not the patient's own stay or report);
        422 invalid_window, area_not_covered, unknown_distance_band, not_eligible (the message names who the
        service is for), consent_required; 409 already_requested (an open request for the same service)."""
        return views.render(requests.request_visit(current_account_id(), body))


@blp.route("/me/homecare/orders/<id:order_id>")
class Order(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, OrderOut)
    def get(self, order_id):
        """One visit this account requested (404 homecare_order_not_found for anyone else's)."""
        return views.render(resident_order(current_account_id(), order_id))


@blp.route("/me/homecare/orders/<id:order_id>/cancel")
class Cancel(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, OrderOut)
    def post(self, order_id):
        """Cancel before the nurse checks in: free until `free_cancel_until` (and always before a nurse is assigned),
        later the cancellation fee is billed (`bill_id`, pay it like any bill); 409 not_cancellable after check-in,
        409 order_closed once declined, lapsed or cancelled."""
        return views.render(requests.cancel(current_account_id(), order_id))


@blp.route("/me/homecare/orders/<id:order_id>/rating")
class Rating(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(RatingIn())
    @blp.response(201, OrderOut)
    def post(self, body, order_id):
        """Rate a finished visit 1–5, once (409 already_rated; 409 not_finished before check-out)."""
        return views.render(requests.rate(current_account_id(), order_id, body["score"], body["comment"]))


@blp.route("/me/homecare/orders/<id:order_id>/complaint")
class Complaint(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(ComplaintIn())
    @blp.response(201, OrderOut)
    def post(self, body, order_id):
        """Complain about a finished visit, once (409 already_complained); the hospital's dispatchers are alerted."""
        return views.render(requests.complain(current_account_id(), order_id, body["text"]))
