"""双向转诊 for staff (role referrer, or the hospital's admin): find the patient, choose where, book a kept ticket,
send; the receiving side receives, accepts, declines, completes and reads the shared reports. A referral of other
hospitals is a plain 404."""
from flask.views import MethodView

from ..common.auth import BEARER_DOC, current_staff_id
from ..common.blueprint import Blueprint
from ..common.idempotency import idempotent
from ..results.schemas import ReportDetail
from . import destinations, lookup, receiving, reports, sending, views
from .access import current_staff, staff_referral
from .schemas import (
    ReferralBookingIn,
    ReferralBoxQuery,
    ReferralDestinationList,
    ReferralDestinationQuery,
    ReferralIn,
    ReferralLookupIn,
    ReferralLookupOut,
    ReferralOut,
    ReferralPage,
    ReferralReasonIn,
    ReferralTicketList,
    ReferralTicketQuery,
)

blp = Blueprint("referrals_staff", __name__, description="双向转诊 for referring doctors (staff)")


@blp.before_request
def _signed_in():
    """A staff session before anything else: without one the answer is 401, never a 422 about the body."""
    current_staff_id()


@blp.route("/staff/referrals/patient")
class Patient(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(ReferralLookupIn())
    @blp.response(200, ReferralLookupOut)
    def post(self, body):
        """The patient by ID number (422 invalid_id_number, 404 patient_not_found, 429 past REFERRAL_LOOKUP_LIMIT
        per 10 minutes) and the reports the staff member's own hospital issued for them (what may be shared)."""
        found = lookup.find(current_staff(), body["id_number"])
        return {"patient": views.patient_view(found["patient"]), "reports": found["reports"]}


@blp.route("/staff/referrals/destinations")
class Destinations(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(ReferralDestinationQuery(), location="query")
    @blp.response(200, ReferralDestinationList)
    def get(self, query):
        """Where a referral may go: up, hospitals of level 2 or 3; down, level-1 clinics; never one's own."""
        return {"items": destinations.destinations(current_staff(), query["direction"])}


@blp.route("/staff/referrals/tickets")
class Tickets(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(ReferralTicketQuery(), location="query")
    @blp.response(200, ReferralTicketList)
    def get(self, query):
        """Open schedules of an up destination over the next 8 days: tickets kept for referrals and public ones
        (404 hospital_not_found / department_not_found)."""
        return {"items": destinations.tickets(current_staff(), query["hospital_id"], query.get("department_id"))}


@blp.route("/staff/referrals")
class Referrals(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(ReferralBoxQuery(), location="query")
    @blp.response(200, ReferralPage)
    def get(self, query):
        """The hospital's outgoing or incoming referrals, newest first (paged)."""
        return views.box(current_staff(), query)

    @idempotent(lambda: f"staff:{current_staff_id()}")
    @blp.doc(**BEARER_DOC)
    @blp.arguments(ReferralIn())
    @blp.response(201, ReferralOut)
    def post(self, body):
        """Send a referral. 422 consent_required, report_not_shareable, invalid_destination, invalid_department,
        invalid_schedule, invalid_id_number; 404 patient_not_found. With schedule_id (up) the ticket kept for
        referrals is booked at once: 409 referral_tickets_gone when none is left (nothing stored), other booking
        errors as POST /appointments."""
        return views.render(sending.create(current_staff(), body))


@blp.route("/staff/referrals/<id:referral_id>")
class Referral(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, ReferralOut)
    def get(self, referral_id):
        """One referral of the staff member's hospital (sending or receiving)."""
        return views.render(staff_referral(current_staff(), referral_id))


def _step(referral_id, act, *args):
    """Run a step on the referral under its row lock and answer the referral."""
    staff = current_staff()
    return views.render(act(staff, staff_referral(staff, referral_id, lock=True), *args))


@blp.route("/staff/referrals/<id:referral_id>/booking")
class Booking(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(ReferralBookingIn())
    @blp.response(200, ReferralOut)
    def post(self, body, referral_id):
        """Book the up-referral's ticket from the referral pool (sending side, status sent → booked)."""
        return _step(referral_id, sending.book, body)


@blp.route("/staff/referrals/<id:referral_id>/receive")
class Receive(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, ReferralOut)
    def post(self, referral_id):
        """The patient arrived (receiving side, up, booked → received)."""
        return _step(referral_id, receiving.receive)


@blp.route("/staff/referrals/<id:referral_id>/accept")
class Accept(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, ReferralOut)
    def post(self, referral_id):
        """The clinic takes the down-referral on (sent → accepted); a signed family-doctor team gets the
        follow-up plan."""
        return _step(referral_id, receiving.accept)


@blp.route("/staff/referrals/<id:referral_id>/decline")
class Decline(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(ReferralReasonIn())
    @blp.response(200, ReferralOut)
    def post(self, body, referral_id):
        """Decline (receiving side) with a reason; a booked appointment is cancelled, its ticket back to the pool."""
        return _step(referral_id, receiving.decline, body["reason"])


@blp.route("/staff/referrals/<id:referral_id>/cancel")
class Cancel(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(ReferralReasonIn())
    @blp.response(200, ReferralOut)
    def post(self, body, referral_id):
        """Cancel (sending side) with a reason; a booked appointment is cancelled, its ticket back to the pool."""
        return _step(referral_id, sending.cancel, body["reason"])


@blp.route("/staff/referrals/<id:referral_id>/complete")
class Complete(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, ReferralOut)
    def post(self, referral_id):
        """Done (receiving side: up from received, down from accepted)."""
        return _step(referral_id, receiving.complete)


@blp.route("/staff/referrals/<id:referral_id>/reports/<id:report_id>")
class SharedReport(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, ReportDetail)
    def get(self, referral_id, report_id):
        """A report shared with the referral (receiving side only), as the results API shows it; the read is in
        the patient's access log (转诊)."""
        staff = current_staff()
        return reports.read(staff, staff_referral(staff, referral_id), report_id)
