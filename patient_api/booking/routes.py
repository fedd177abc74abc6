"""Appointments: book, list, cancel, check in."""
from flask.views import MethodView

from ..common.auth import BEARER_DOC, current_account_id, resident_required
from ..common.blueprint import Blueprint
from ..common.idempotency import idempotent
from . import lifecycle, pools, services, waitlist
from .schemas import AppointmentList, AppointmentOut, AppointmentQuery, BookIn, WaitlistIn, WaitlistList, WaitlistOut

blp = Blueprint("booking", __name__, description="Outpatient appointments (预约挂号)")


@blp.route("/appointments")
class Appointments(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(AppointmentQuery(), location="query")
    @blp.response(200, AppointmentList)
    def get(self, query):
        """Appointments of all the account's patients."""
        return {"items": services.appointments_for(current_account_id(), query.get("status"))}

    @resident_required
    @idempotent(current_account_id)
    @blp.doc(**BEARER_DOC)
    @blp.arguments(BookIn())
    @blp.response(201, AppointmentOut)
    def post(self, body):
        """Book the next free ticket of a schedule, or one of the window `slot_start`; `pending_payment` until paid."""
        account_id = current_account_id()
        pools.admit(account_id, body["schedule_id"],  # a proxy booking for an elder may still have the elder pool
                    lambda: pools.eligible_pools(body["patient_id"], body["schedule_id"], account_id, "wechat"),
                    body["slot_start"])
        return services.book(current_account_id(), body["patient_id"], body["schedule_id"],
                             slot_start=body["slot_start"])


@blp.route("/appointments/<id:appointment_id>")
class AppointmentItem(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, AppointmentOut)
    def get(self, appointment_id):
        """One appointment of a linked patient."""
        return services.appointment_for(current_account_id(), appointment_id)


@blp.route("/appointments/<id:appointment_id>/cancel")
class Cancel(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, AppointmentOut)
    def post(self, appointment_id):
        """Cancel (until 15:00 the day before); the ticket goes back to the pool."""
        return lifecycle.cancel(services.appointment_for(current_account_id(), appointment_id))


@blp.route("/appointments/<id:appointment_id>/check-in")
class CheckIn(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, AppointmentOut)
    def post(self, appointment_id):
        """报到 on arrival, within the check-in window."""
        return lifecycle.check_in(services.appointment_for(current_account_id(), appointment_id))


@blp.route("/waitlist")
class Waitlist(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, WaitlistList)
    def get(self):
        """候补: the account's waitlist entries with their place in the queue."""
        return {"items": waitlist.with_positions(waitlist.entries_for(current_account_id()))}

    @resident_required
    @idempotent(current_account_id)
    @blp.doc(**BEARER_DOC)
    @blp.arguments(WaitlistIn())
    @blp.response(201, WaitlistOut)
    def post(self, body):
        """Wait for a sold-out schedule; a freed ticket is offered as a 15-minute hold (409 tickets_available)."""
        entry = waitlist.join(current_account_id(), body["patient_id"], body["schedule_id"])
        return waitlist.with_positions([entry])[0]


@blp.route("/waitlist/<id:entry_id>")
class WaitlistItem(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, WaitlistOut)
    def delete(self, entry_id):
        """Stop waiting (409 once a ticket was offered: cancel that appointment instead)."""
        return waitlist.with_positions([waitlist.leave(waitlist.entry_for(current_account_id(), entry_id))])[0]
