"""Kiosk endpoints: every request signed by the device; all but the card read also carry the session token."""
from flask import g
from flask.views import MethodView
from sqlalchemy import select

from ..billing import payments
from ..billing.models import Bill
from ..billing.schemas import BillList, PayOut
from ..booking import lifecycle, services
from ..booking.models import ACTIVE, Appointment
from ..booking.schemas import AppointmentList, AppointmentOut
from ..common import audit
from ..common.blueprint import Blueprint
from ..common.masking import mask_name
from ..errors import NotFound
from ..extensions import db
from . import sessions
from .schemas import CardReadIn, KioskBookIn, KioskSessionOut
from .signing import KIOSK_DOC, kiosk_required

blp = Blueprint("kiosk", __name__, description="Hospital kiosks (自助机): signed requests, one patient per session")


def _own(model, row_id, patient_id, code, message):
    """A row of the session's patient; 404 for anything else (a kiosk session never reaches a second patient)."""
    row = db.session.get(model, row_id)
    if row is None or row.patient_id != patient_id:
        raise NotFound(message, code=code)
    return row


@blp.route("/kiosk/sessions")
class KioskSessions(MethodView):
    @kiosk_required
    @blp.doc(**KIOSK_DOC)
    @blp.arguments(CardReadIn())
    @blp.response(201, KioskSessionOut)
    def post(self, body):
        """A card was read: open a 5-minute (idle) session for that one patient."""
        token, idle, patient = sessions.open_session(g.kiosk, body)
        return {"token": token, "expires_in": idle,
                "patient": {"id": patient.id, "name": mask_name(patient.name), "gender": patient.gender}}


@blp.route("/kiosk/sessions/current")
class KioskCurrentSession(MethodView):
    @kiosk_required
    @blp.doc(**KIOSK_DOC)
    @blp.response(204)
    def delete(self):
        """The card was removed: end the session at once."""
        sessions.end()


@blp.route("/kiosk/appointments")
class KioskAppointments(MethodView):
    @kiosk_required
    @blp.doc(**KIOSK_DOC)
    @blp.response(200, AppointmentList)
    def get(self):
        """The patient's active appointments, soonest first."""
        patient_id = sessions.current_patient_id()
        return {"items": db.session.scalars(select(Appointment).where(
            Appointment.patient_id == patient_id, Appointment.status.in_(ACTIVE))
            .order_by(Appointment.visit_start).limit(50)).all()}

    @kiosk_required
    @blp.doc(**KIOSK_DOC)
    @blp.arguments(KioskBookIn())
    @blp.response(201, AppointmentOut)
    def post(self, body):
        """Book for the session's patient (same rules as the official account)."""
        patient_id = sessions.current_patient_id()
        return services.book(None, patient_id, body["schedule_id"], via=f"kiosk:{g.kiosk.id}")


@blp.route("/kiosk/appointments/<id:appointment_id>/check-in")
class KioskCheckIn(MethodView):
    @kiosk_required
    @blp.doc(**KIOSK_DOC)
    @blp.response(200, AppointmentOut)
    def post(self, appointment_id):
        """报到 at the kiosk."""
        appointment = _own(Appointment, appointment_id, sessions.current_patient_id(), "appointment_not_found",
                           "未找到该预约")
        return lifecycle.check_in(appointment)


@blp.route("/kiosk/bills")
class KioskBills(MethodView):
    @kiosk_required
    @blp.doc(**KIOSK_DOC)
    @blp.response(200, BillList)
    def get(self):
        """The patient's unpaid bills."""
        patient_id = sessions.current_patient_id()
        return {"items": db.session.scalars(select(Bill).where(
            Bill.patient_id == patient_id, Bill.status.in_(("unpaid", "paying")))
            .order_by(Bill.created_at.desc()).limit(50)).all()}


@blp.route("/kiosk/bills/<id:bill_id>/payments")
class KioskPayment(MethodView):
    @kiosk_required
    @blp.doc(**KIOSK_DOC)
    @blp.response(201, PayOut)
    def post(self, bill_id):
        """Pay by scanning a Native QR shown on the kiosk screen."""
        bill = _own(Bill, bill_id, sessions.current_patient_id(), "bill_not_found", "未找到该账单")
        audit.record("kiosk", g.kiosk.id, "kiosk.pay", patient_id=bill.patient_id, resource=bill.id)
        return payments.open_order(bill, "wechat_native")
