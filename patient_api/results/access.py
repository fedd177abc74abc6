"""Which report a resident may open: a visible one of a patient the account verified."""
import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, joinedload

from ..accounts import links
from ..accounts.models import Patient, PatientLink
from ..directory.models import Hospital
from ..errors import NotFound
from ..extensions import db
from . import rules
from .models import Report


def report_not_found():
    """The same answer for a missing, withdrawn, held or someone else's report: its existence is not revealed."""
    return NotFound("未找到该报告", code="report_not_found")


def resident_report(account_id, report_id):
    """(report, patient, hospital name) for a visible report of a verified patient; 404 report_not_found when not
    theirs. One query: the report, its results, its hospital's name and the account's link to its person."""
    rows = db.session.execute(
        sa.select(Report, Hospital.name, PatientLink)
        .join(Hospital, Hospital.id == Report.hospital_id)
        .outerjoin(Patient, Patient.id_number_index == Report.person_index)
        .outerjoin(PatientLink, sa.and_(PatientLink.patient_id == Patient.id, PatientLink.account_id == account_id,
                                        PatientLink.status.in_(links.ACTIVE_LINK)))
        .where(Report.id == report_id)
        # The results come in the same query (not a second SELECT); the link's patient is the row joined above.
        .options(joinedload(Report.items), contains_eager(PatientLink.patient))).unique().all()
    report, hospital_name = (rows[0][0], rows[0][1]) if rows else (None, None)
    link = next((row[2] for row in rows if row[2] is not None), None)
    if link is None or not rules.visible(report):
        raise report_not_found()
    if not link.verified:
        raise links.verification_required()
    return report, link.patient, hospital_name


def resident_patients(account_id, patient_id=None):
    """The patients whose reports a list shows (accounts.links.clinical_patients decides who, and answers 403/404),
    loaded without a second query when one patient was asked for: the verified link brings its patient along."""
    if patient_id:
        return [links.verified_link(account_id, patient_id).patient]
    ids = links.clinical_patients(account_id)
    found = {p.id: p for p in db.session.scalars(sa.select(Patient).where(Patient.id.in_(ids)))} if ids else {}
    return [found[pid] for pid in ids]
