"""A report shared with a referral, read by the receiving side: the results view, and a row in the patient's
access log with channel `referral` (the resident reads "XX医院 因转诊查看了您的报告")."""
import sqlalchemy as sa

from ..accounts.models import Patient
from ..extensions import db
from ..records.access import log_read
from ..results import queries, rules
from ..results.access import report_not_found
from ..results.models import Report
from .access import audited, require_side
from .models import ReferralReport

CHANNEL = "referral"


def read(staff, referral, report_id):
    """The shared report as the results API shows it; 404 report_not_found unless shared with this referral (and
    still visible)."""
    require_side(staff, referral, "receiving")
    shared = db.session.scalar(sa.select(ReferralReport.report_id).where(
        ReferralReport.referral_id == referral.id, ReferralReport.report_id == report_id))
    report = db.session.get(Report, shared) if shared else None
    if report is None or not rules.visible(report):
        raise report_not_found()
    patient = db.session.get(Patient, referral.patient_id)
    log_read("staff", staff.id, CHANNEL, patient.id_number_index, "report", report.id, patient.id)
    audited(staff, "referral.report_read", referral, report_id=report.id)
    return queries.detail(report, patient.id)
