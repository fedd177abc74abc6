"""Ward staff read the results of the patients in their beds (all hospitals' visible reports: 互认), access-logged."""
from flask.views import MethodView

from ..accounts.models import Patient
from ..common.auth import BEARER_DOC, current_staff_id
from ..common.blueprint import Blueprint
from ..common.paging import PageQuery
from ..errors import NotFound
from ..extensions import db
from ..records.access import log_read
from ..results import queries, rules
from ..results.access import report_not_found
from ..results.models import Report
from ..results.schemas import ReportDetail, ReportList
from .access import current_staff, staff_admission

blp = Blueprint("nurse_station_results", __name__, description="Nurse station: results of the ward's inpatients")
CHANNEL = "nurse_station"


@blp.before_request
def _signed_in():
    """A staff session before the query is read: without one the answer is 401."""
    current_staff_id()


def _inpatient(admission_id):
    """(staff, patient) for an open stay in the staff member's wards; a settled stay's results are no longer theirs."""
    staff = current_staff()
    admission = staff_admission(staff, admission_id)
    if admission.status == "settled":
        raise NotFound("未找到该住院记录", code="admission_not_found")
    return staff, db.session.get(Patient, admission.patient_id)


@blp.route("/staff/admissions/<id:admission_id>/reports")
class StaffReports(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(PageQuery(), location="query")
    @blp.response(200, ReportList)
    def get(self, query, admission_id):
        """The inpatient's visible reports from every hospital of the city, newest first."""
        staff, patient = _inpatient(admission_id)
        items, paging = queries.list_reports({patient.id_number_index: patient.id}, None, query)
        log_read("staff", staff.id, CHANNEL, patient.id_number_index, "report_list", admission_id, patient.id)
        return {"items": items, **paging}


@blp.route("/staff/admissions/<id:admission_id>/reports/<id:report_id>")
class StaffReport(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, ReportDetail)
    def get(self, admission_id, report_id):
        """One of the inpatient's reports."""
        staff, patient = _inpatient(admission_id)
        report = db.session.get(Report, report_id)
        if report is None or report.person_index != patient.id_number_index or not rules.visible(report):
            raise report_not_found()
        log_read("staff", staff.id, CHANNEL, patient.id_number_index, "report", report.id, patient.id)
        return queries.detail(report, patient.id)
