"""Referrals as staff and residents read them: names and ID numbers masked, staff names only for staff."""
import sqlalchemy as sa

from ..accounts.models import Patient
from ..accounts.staff import Staff
from ..booking.lifecycle import effective_status
from ..booking.models import Appointment
from ..common.clock import now
from ..common.paging import page
from ..directory.models import Department, Hospital
from ..extensions import db
from ..results.models import Report
from .lookup import age_of
from .models import Referral, ReferralEvent, ReferralReport

PATIENT_SIDE = "就诊人"  # "by" of a history line no staff member made (the appointment cancelled in the app)


def staff_name(staff):
    """The name colleagues read (the login name when none was given)."""
    return staff.name or staff.username if staff else None


def patient_view(patient):
    """Who, masked in the schema; age instead of the birth date."""
    return {"id": patient.id, "name": patient.name, "id_number": patient.id_number, "sex": patient.gender,
            "age": age_of(patient)}


def appointment_view(appointment, instant):
    """The booked ticket: when, where, which number, its state."""
    if appointment is None:
        return None
    return {"id": appointment.id, "visit_date": appointment.visit_date, "visit_start": appointment.visit_start,
            "visit_end": appointment.visit_end, "queue_no": appointment.queue_no,
            "doctor_name": appointment.schedule.doctor.name, "doctor_title": appointment.schedule.doctor.title,
            "department_name": appointment.department.name, "hospital_name": appointment.hospital.name,
            "hospital_address": appointment.hospital.address, "status": effective_status(appointment, instant),
            "fee_fen": appointment.fee_fen, "bill_id": appointment.bill_id, "pool": appointment.pool}


def shared_reports(referral):
    """Titles of the reports shared with the receiving side, in the order chosen."""
    rows = db.session.execute(sa.select(Report, Hospital.name).join(
        ReferralReport, ReferralReport.report_id == Report.id).join(Hospital, Hospital.id == Report.hospital_id)
        .where(ReferralReport.referral_id == referral.id).order_by(ReferralReport.position)).all()
    return [{"id": report.id, "title": report.title, "hospital_name": name, "reported_at": report.issued_at}
            for report, name in rows]


def history(referral, staff_names):
    """Every step, oldest first: the status reached, when, by whom (hospital, and the staff member for staff)."""
    rows = db.session.execute(sa.select(ReferralEvent, Hospital.name, Staff).join(
        Hospital, Hospital.id == ReferralEvent.hospital_id).outerjoin(Staff, Staff.id == ReferralEvent.staff_id)
        .where(ReferralEvent.referral_id == referral.id).order_by(ReferralEvent.at, ReferralEvent.id)).all()
    return [{"status": event.status, "at": event.at, "note": event.note,
             "by": PATIENT_SIDE if member is None else f"{hospital} {staff_name(member)}" if staff_names else hospital}
            for event, hospital, member in rows]


def render(referral, for_staff=True, instant=None):
    """The referral object of the API (docs/referrals.md); residents get no summary and no staff names."""
    instant = instant or now()
    patient = db.session.get(Patient, referral.patient_id)
    hospitals = {h.id: h for h in db.session.scalars(sa.select(Hospital).where(
        Hospital.id.in_((referral.from_hospital_id, referral.to_hospital_id)))).all()}
    department = db.session.get(Department, referral.to_department_id) if referral.to_department_id else None
    sender = hospitals[referral.from_hospital_id]
    body = {
        "id": referral.id, "direction": referral.direction, "status": referral.status, "urgency": referral.urgency,
        "priority": referral.priority,
        "patient": patient_view(patient),
        "from": {"hospital_id": sender.id, "hospital_name": sender.name},
        "to": {"hospital_id": referral.to_hospital_id, "hospital_name": hospitals[referral.to_hospital_id].name,
               "department_id": department.id if department else None,
               "department_name": department.name if department else None},
        "reason": referral.reason, "diagnosis": referral.diagnosis, "plan": referral.plan,
        "followup": {"kind": referral.followup_kind, "every_days": referral.followup_every_days}
        if referral.followup_kind else None,
        "shared_reports": shared_reports(referral),
        "consent": {"by": referral.consent_by, "method": referral.consent_method,
                    "recorded_at": referral.consent_recorded_at},
        "appointment": appointment_view(db.session.get(Appointment, referral.appointment_id)
                                        if referral.appointment_id else None, instant),
        "decline_reason": referral.decline_reason, "cancel_reason": referral.cancel_reason,
        "created_at": referral.created_at, "updated_at": referral.updated_at,
        "history": history(referral, for_staff),
    }
    if for_staff:
        body["summary"] = referral.summary
        body["from"]["staff_name"] = staff_name(db.session.get(Staff, referral.from_staff_id))
    return body


def box(staff, query):
    """The hospital's outgoing or incoming referrals, newest first (paged), of one status when asked."""
    column = Referral.from_hospital_id if query["box"] == "outgoing" else Referral.to_hospital_id
    stmt = sa.select(Referral).where(column == staff.hospital_id)
    if query.get("status"):
        stmt = stmt.where(Referral.status == query["status"])
    if query.get("direction"):
        stmt = stmt.where(Referral.direction == query["direction"])
    rows, paging = page(stmt, Referral.created_at, Referral.id, query)
    instant = now()
    return {"items": [render(row[0], instant=instant) for row in rows], **paging}
