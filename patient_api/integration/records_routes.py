"""Hospital systems: read back their own reports, release held ones, push family-doctor contracts."""
import sqlalchemy as sa
from flask.views import MethodView

from ..accounts.models import Patient
from ..common import audit
from ..common.blueprint import Blueprint
from ..common.idempotency import idempotent
from ..common.locking import lock_row
from ..common.schemas import CONTROL
from ..errors import Invalid
from ..extensions import db
from ..family.pushes import save_pushed
from ..records.access import log_read
from ..records.schemas import ContractIn, ContractOut
from ..records.summary import CONTRACT_FIELDS
from ..results import queries, rules, store
from ..results.access import report_not_found
from ..results.matching import InvalidIdNumber, index_for_id_number
from ..results.models import Report
from ..results.schemas import HospitalReport, ReleaseOut
from .auth import HOSPITAL_DOC, current_hospital, hospital_required

blp = Blueprint("integration_records", __name__, description="Hospital systems: reports read-back and release, "
                                                              "family-doctor contracts")
SOURCE_ID = "<path:source_id>"  # the sender's own report id, as it was pushed


def own_report(source_id):
    """A report this hospital sent; another hospital's (or none) is 404 report_not_found."""
    if CONTROL.search(source_id):  # cannot have been stored; PostgreSQL would refuse a NUL in the query
        raise report_not_found()
    report = db.session.scalars(sa.select(Report).filter_by(hospital_id=current_hospital().id,
                                                            source_id=source_id)).first()
    if report is None:
        raise report_not_found()
    return report


@blp.route(f"/integration/reports/{SOURCE_ID}")
class HospitalReportItem(MethodView):
    @hospital_required
    @blp.doc(**HOSPITAL_DOC)
    @blp.response(200, HospitalReport)
    def get(self, source_id):
        """The report as stored from this hospital (whatever its release state); the read is access-logged."""
        report = own_report(source_id)
        log_read("hospital", current_hospital().id, "integration", report.person_index, "report", report.id)
        return {**queries.detail(report, _patient_id(report)), "source_id": report.source_id,
                "sensitive": report.sensitive, "released_at": report.released_at, "visible": rules.visible(report)}


def _patient_id(report):
    """The registered patient the report is about, or None before anyone has added them."""
    return db.session.scalar(sa.select(Patient.id).filter_by(id_number_index=report.person_index))


@blp.route(f"/integration/reports/{SOURCE_ID}/release")
class ReleaseReport(MethodView):
    @hospital_required
    @blp.doc(**HOSPITAL_DOC)
    @blp.response(200, ReleaseOut)
    def post(self, source_id):
        """A clinician releases a held (sensitive) report: residents see it now; releasing again changes nothing."""
        report = own_report(source_id)
        lock_row(Report, report.id)  # two releases at once announce the report once
        db.session.refresh(report)
        if report.released_at is None:
            store.release(report)
            audit.record("hospital", current_hospital().id, "report.released", patient_id=_patient_id(report),
                         resource=report.id)
        return {"id": report.id, "source_id": report.source_id, "released_at": report.released_at,
                "visible": rules.visible(report)}


@blp.route("/integration/family-doctor-contracts")
class FamilyDoctorContracts(MethodView):
    @hospital_required
    @idempotent(lambda: current_hospital().id)
    @blp.doc(**HOSPITAL_DOC)
    @blp.arguments(ContractIn())
    @blp.response(201, ContractOut)
    @blp.alt_response(200, schema=ContractOut, description="Known contract_no: updated")
    def post(self, body):
        """Create (201) or update (200) a family-doctor contract by contract_no. The same contracts residents sign
        online: one in force per person — 409 already_signed while another institution's is in force (this clinic's
        earlier one gives way: `renewed` with the same team, else `ended`); 422 unknown_team / unknown_package for
        codes the clinic does not have."""
        hospital = current_hospital()
        try:
            person_index = index_for_id_number(body["patient"]["id_number"])
        except InvalidIdNumber as exc:  # the schema checked it already; kept for a clear 422 if rules differ
            raise Invalid(errors={"patient": {"id_number": [str(exc)]}}) from None
        contract, created = save_pushed(hospital, person_index, body)
        db.session.flush()
        return {**{name: getattr(contract, name) for name in ("id", "contract_no", "hospital_id") + CONTRACT_FIELDS},
                "hospital_name": hospital.name}, 201 if created else 200
