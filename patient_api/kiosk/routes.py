"""Kiosk endpoints: every request signed by the device; all but the card read also carry the session token."""
from flask import Response, g
from flask.views import MethodView
from sqlalchemy import select

from ..accounts.models import Patient
from ..billing import payments
from ..billing.models import Bill
from ..billing.schemas import BillList, PayOut
from ..billing.services import with_names as bill_names
from ..booking import lifecycle, pools, services
from ..booking.eligibility import ELDER_AGE, age_on
from ..booking.models import ACTIVE, Appointment, with_names
from ..booking.schemas import AppointmentList, AppointmentOut
from ..common import audit
from ..common.blueprint import Blueprint
from ..common.clock import now, today_local
from ..common.masking import mask_name
from ..directory.models import Hospital
from ..errors import NotFound
from ..extensions import db
from ..records.access import log_read
from ..results import queries, rules
from ..results.models import Report
from ..results.schemas import ReportList
from . import printing, sessions
from .schemas import CardReadIn, KioskBookIn, KioskSessionOut, PrintQuery
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
                "patient": {"id": patient.id, "name": mask_name(patient.name), "gender": patient.gender,
                            "elder": age_on(patient.birth_date, today_local()) >= ELDER_AGE}}


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
            .options(*with_names()).order_by(Appointment.visit_start).limit(50)).all()}

    @kiosk_required
    @blp.doc(**KIOSK_DOC)
    @blp.arguments(KioskBookIn())
    @blp.response(201, AppointmentOut)
    def post(self, body):
        """Book for the session's patient (same rules as the official account)."""
        patient_id = sessions.current_patient_id()
        via = f"kiosk:{g.kiosk.id}"
        # Same rate limit and sold-out flag as WeChat, except for an elder, who may still have the elder pool.
        pools.admit(via, body["schedule_id"], lambda: pools.eligible_pools(patient_id, body["schedule_id"], None, via),
                    body["slot_start"])
        return services.book(None, patient_id, body["schedule_id"], via=via, slot_start=body["slot_start"])


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
            .options(*bill_names()).order_by(Bill.created_at.desc()).limit(50)).all()}


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


@blp.route("/kiosk/reports")
class KioskReports(MethodView):
    @kiosk_required
    @blp.doc(**KIOSK_DOC)
    @blp.response(200, ReportList)
    def get(self):
        """The patient's visible reports from every hospital, newest first (the 20 latest)."""
        patient = db.session.get(Patient, sessions.current_patient_id())
        items, paging = queries.list_reports({patient.id_number_index: patient.id}, None, {"limit": 20})
        log_read("kiosk", g.kiosk.id, "kiosk", patient.id_number_index, "report_list", patient.id, patient.id)
        return {"items": items, **paging}


@blp.route("/kiosk/reports/<id:report_id>/print")
class KioskReportPrint(MethodView):
    @kiosk_required
    @blp.doc(**KIOSK_DOC)
    @blp.arguments(PrintQuery(), location="query")
    @blp.response(200, description="text/html for an 80 mm thermal printer or A4")
    def get(self, query, report_id):
        """A print-ready rendering of one of the patient's reports."""
        patient = db.session.get(Patient, sessions.current_patient_id())
        report = db.session.get(Report, report_id)
        if report is None or report.person_index != patient.id_number_index or not rules.visible(report):
            raise NotFound("未找到该报告", code="report_not_found")
        log_read("kiosk", g.kiosk.id, "kiosk", patient.id_number_index, "report_print", report.id, patient.id)
        html = printing.render(report, db.session.get(Hospital, report.hospital_id).name, patient.name,
                               query["format"], now())
        return Response(html, mimetype="text/html")
