"""Which report a resident may open: a visible one of a patient the account verified."""
import sqlalchemy as sa

from ..accounts import links
from ..accounts.models import Patient, PatientLink
from ..errors import NotFound
from ..extensions import db
from . import rules
from .models import Report


def report_not_found():
    """The same answer for a missing, withdrawn, held or someone else's report: its existence is not revealed."""
    return NotFound("未找到该报告", code="report_not_found")


def resident_report(account_id, report_id):
    """(report, patient) for a visible report of a verified patient; 404 report_not_found when not theirs."""
    report = db.session.get(Report, report_id)
    link = report and db.session.scalars(
        sa.select(PatientLink).join(Patient, PatientLink.patient_id == Patient.id)
        .where(PatientLink.account_id == account_id, PatientLink.status.in_(links.ACTIVE_LINK),
               Patient.id_number_index == report.person_index)).first()
    if link is None or not rules.visible(report):
        raise report_not_found()
    if not link.verified:
        raise links.verification_required()
    return report, link.patient
