"""Lab and imaging reports, documents, trends (resident view); every successful read is access-logged."""
from flask import current_app
from flask.views import MethodView

from ..common import fastdump
from ..common.auth import BEARER_DOC, current_account_id, resident_required
from ..common.blueprint import Blueprint
from ..records.access import linked_patient, log_resident_read
from . import queries
from .access import resident_report
from .schemas import ReportDetail, ReportHistory, ReportList, ReportQuery, TrendOut, TrendQuery

blp = Blueprint("results", __name__, description="Lab and imaging reports, documents, trends (resident view)")
# The two most read answers skip marshmallow's per-field work (equal output: tests/test_fastdump.py).
LIST_BODY, DETAIL_BODY = fastdump.dumper(ReportList), fastdump.dumper(ReportDetail)


@blp.route("/reports")
class Reports(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(ReportQuery(), location="query")
    @blp.response(200, ReportList)
    def get(self, query):
        """Visible reports of the account's patients (or of one; of a kind, of a hospital), newest first, paged."""
        account_id = current_account_id()
        items, paging = queries.resident_list(account_id, query.get("patient_id"), query.get("kind"), query,
                                              query.get("hospital_id"))
        return current_app.json.response(LIST_BODY({"items": items, **paging}))


@blp.route("/reports/<id:report_id>")
class ReportItem(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, ReportDetail)
    def get(self, report_id):
        """One report with its results, findings or text; a held or withdrawn report is 404 report_not_found."""
        account_id = current_account_id()
        report, items, patient, hospital_name = resident_report(account_id, report_id, "report", alone=True)
        return current_app.json.response(DETAIL_BODY(queries.detail(report, patient.id, hospital_name, items)))


@blp.route("/reports/<id:report_id>/history")
class ReportVersions(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, ReportHistory)
    def get(self, report_id):
        """The versions an amended or corrected report replaced, newest first."""
        account_id = current_account_id()
        report, _, _, _ = resident_report(account_id, report_id, "report_history", with_items=False)
        return {"report_id": report.id, "version": report.version, "items": queries.history(report)}


@blp.route("/patients/<id:patient_id>/trends")
class Trends(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(TrendQuery(), location="query")
    @blp.response(200, TrendOut)
    def get(self, query, patient_id):
        """One test's values across every hospital over time (visible reports and stand-alone results), oldest first."""
        account_id = current_account_id()
        patient = linked_patient(account_id, patient_id)
        points = queries.trend(patient.id_number_index, query["code"])
        log_resident_read(account_id, patient, "trend", query["code"])
        return {"patient_id": patient.id, "code": query["code"], "items": points}
