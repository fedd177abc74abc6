"""Appointments: book, list, cancel, check in."""
import functools

from flask import g, request
from flask.views import MethodView
from marshmallow import ValidationError

from ..common import idempotency, inputs
from ..common.auth import BEARER_DOC, current_account_id, resident_required
from ..common.blueprint import Blueprint
from ..common.idempotency import idempotent
from ..errors import ApiError
from . import lifecycle, pools, services, shedding, waitlist
from .schemas import (
    AppointmentList,
    AppointmentOut,
    AppointmentQuery,
    BookIn,
    WaitlistIn,
    WaitlistList,
    WaitlistOut,
    slot_start_field,
)

blp = Blueprint("booking", __name__, description="Outpatient appointments (预约挂号)")


def resident_with_flags(view):
    """resident_required, reading the sold-out flags of the schedule (and window) being booked in the session's own
    Redis round trip: in a rush most attempts are then refused after that one round trip, before the body is even
    validated (a sold-out schedule is sold out whatever else the body says). A flag naming pools that still keep
    tickets back is left to the view, which knows whether this booking may take from them."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        target = target_of(request)
        looked = request.environ.pop(shedding.LOOKED, None)
        if looked is not None and target is not None:  # booking/edge.py read them in this request's round trip
            g.account_id, g.session_also = looked
        else:
            key = idempotency.usable_key(request.headers.get("Idempotency-Key"))
            current_account_id(also=shedding.first_look(target, key) if target else None)
            if target is not None:
                g.session_also = shedding.judge(target, key, g.session_also)
        g.shed_target = target
        return view(*args, **kwargs)
    return wrapper


def target_of(req):
    """(schedule_id, slot_start) from the raw body, or None when it does not read cleanly (the schema then decides)."""
    try:
        body = inputs.request_json(req) if req.is_json and req.get_data(cache=True) else None
    except ApiError:  # the schema's parser answers it in its own words
        return None
    if not isinstance(body, dict) or not isinstance(body.get("schedule_id"), str):
        return None
    if body.get("slot_start") is None:
        return body["schedule_id"], None
    try:
        return body["schedule_id"], slot_start_field().deserialize(body["slot_start"])
    except ValidationError:
        return None


def flags_for(body):
    """The flags read with the session when they were read for what the validated body books, else None."""
    if g.get("shed_target") is None or g.shed_target != (body["schedule_id"], body["slot_start"]):
        return None
    return g.get("session_also")


@blp.route("/appointments")
class Appointments(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(AppointmentQuery(), location="query")
    @blp.response(200, AppointmentList)
    def get(self, query):
        """Appointments of all the account's patients."""
        return {"items": services.appointments_for(current_account_id(), query.get("status"))}

    @resident_with_flags
    @idempotent(current_account_id)
    @blp.doc(**BEARER_DOC)
    @blp.arguments(BookIn())
    @blp.response(201, AppointmentOut)
    def post(self, body):
        """Book the next free ticket of a schedule, or one of the window `slot_start`; `pending_payment` until paid."""
        account_id = current_account_id()
        pools.admit(account_id, body["schedule_id"],  # a proxy booking for an elder may still have the elder pool
                    lambda: pools.eligible_pools(body["patient_id"], body["schedule_id"], account_id, "wechat"),
                    body["slot_start"], flags_for(body))
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
