"""Finding the patient to refer by ID number (rate-limited, audited) and the reports the sender may share."""

import sqlalchemy as sa
from flask import current_app

from ..accounts.identity import InvalidIdNumber, parse_resident_id
from ..accounts.people import patient_by_id_number
from ..common import audit, ratelimit
from ..common.clock import now, to_local
from ..errors import Invalid, NotFound
from ..extensions import db
from ..results import rules
from ..results.models import Report

WINDOW_SECONDS = 600
MAX_REPORTS = 50


def patient_of(raw_number):
    """The registered patient with that ID number; 422 invalid_id_number, 404 patient_not_found."""
    try:
        resident = parse_resident_id("".join(raw_number.split()))
    except InvalidIdNumber as exc:
        raise Invalid(str(exc), code="invalid_id_number", errors={"id_number": [str(exc)]}) from None
    patient = patient_by_id_number(resident.number)
    if patient is None:
        raise NotFound("未找到该就诊人，请先让居民在公众号或医院登记", code="patient_not_found")
    return patient


def find(staff, raw_number):
    """The patient and the reports the staff member's hospital issued for them (what they may share)."""
    ratelimit.hit("referral-lookup", staff.id, current_app.config["REFERRAL_LOOKUP_LIMIT"], WINDOW_SECONDS)
    patient = patient_of(raw_number)
    audit.record("staff", staff.id, "referral.patient_lookup", patient_id=patient.id, resource=staff.hospital_id)
    return {"patient": patient, "reports": shareable(staff.hospital_id, patient)}


def shareable(hospital_id, patient):
    """Visible reports of the patient issued by this hospital, newest first."""
    rows = db.session.scalars(sa.select(Report).where(
        Report.person_index == patient.id_number_index, Report.hospital_id == hospital_id)
        .order_by(Report.issued_at.desc(), Report.id).limit(MAX_REPORTS * 2)).all()
    return [report for report in rows if rules.visible(report)][:MAX_REPORTS]


def shared(hospital_id, patient, report_ids):
    """The reports to share, in the order given; 422 report_not_shareable naming any that is not one of the
    patient's visible reports of the sender's hospital."""
    wanted = list(dict.fromkeys(report_ids))
    found = {report.id: report for report in db.session.scalars(sa.select(Report).where(
        Report.id.in_(wanted), Report.person_index == patient.id_number_index,
        Report.hospital_id == hospital_id)).all() if rules.visible(report)}
    bad = [report_id for report_id in wanted if report_id not in found]
    if bad:
        raise Invalid("只能共享本院为该患者出具的报告", code="report_not_shareable",
                      errors={"report_ids": [f"不可共享：{', '.join(bad[:5])}"]})
    return [found[report_id] for report_id in wanted]


def age_of(patient, instant=None):
    """Full years of age today."""
    today = to_local(instant or now()).date()
    born = patient.birth_date
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))

