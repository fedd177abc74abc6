"""Health record, vitals and access log (resident view); every successful read of the record is access-logged."""
from flask.views import MethodView

from ..common.auth import BEARER_DOC, current_account_id, resident_required
from ..common.blueprint import Blueprint
from ..common.idempotency import idempotent
from ..common.paging import PageQuery, page
from . import summary, vitals
from .access import access_log_query, linked_patient, log_resident_read, render_log
from .models import AccessLogEntry, Encounter, Vital
from .schemas import AccessLogList, EncounterList, EntryList, RecordOut, VitalIn, VitalList, VitalOut, VitalQuery

blp = Blueprint("records", __name__, description="Health record, vitals and access log (resident view)")
ENTRY_PATHS = {"conditions": "condition", "allergies": "allergy", "immunizations": "immunization"}


@blp.route("/patients/<id:patient_id>/record")
class Record(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, RecordOut)
    def get(self, patient_id):
        """The health-record summary: encounters, conditions, allergies, immunizations, latest vitals, family doctor."""
        patient = linked_patient(current_account_id(), patient_id)
        log_resident_read(current_account_id(), patient, "record", patient.id)
        return summary.record(patient)


@blp.route("/patients/<id:patient_id>/encounters")
class Encounters(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(PageQuery(), location="query")
    @blp.response(200, EncounterList)
    def get(self, query, patient_id):
        """Visits and stays at every hospital, newest first, paged."""
        patient = linked_patient(current_account_id(), patient_id)
        rows, paging = page(summary.encounter_query(patient), summary.ENCOUNTER_SORT, Encounter.id, query)
        log_resident_read(current_account_id(), patient, "encounters", patient.id)
        return {"items": summary.render_encounters([row[0] for row in rows]), **paging}


def _entries(patient_id, path):
    """One kind of record entry of a linked patient, logged as read."""
    patient = linked_patient(current_account_id(), patient_id)
    log_resident_read(current_account_id(), patient, path, patient.id)
    return {"items": summary.entries(patient, ENTRY_PATHS[path])}


@blp.route("/patients/<id:patient_id>/conditions")
class Conditions(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, EntryList)
    def get(self, patient_id):
        """Diagnoses (诊断) from every hospital, most recent first."""
        return _entries(patient_id, "conditions")


@blp.route("/patients/<id:patient_id>/allergies")
class Allergies(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, EntryList)
    def get(self, patient_id):
        """Allergies (过敏) from every hospital, most recent first."""
        return _entries(patient_id, "allergies")


@blp.route("/patients/<id:patient_id>/immunizations")
class Immunizations(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, EntryList)
    def get(self, patient_id):
        """Immunizations (预防接种) from every hospital, most recent first."""
        return _entries(patient_id, "immunizations")


@blp.route("/patients/<id:patient_id>/vitals")
class Vitals(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(VitalQuery(), location="query")
    @blp.response(200, VitalList)
    def get(self, query, patient_id):
        """Uploaded measurements (of one kind), newest first, paged."""
        patient = linked_patient(current_account_id(), patient_id)
        rows, paging = page(vitals.query(patient, query.get("kind")), Vital.measured_at, Vital.id, query)
        log_resident_read(current_account_id(), patient, "vitals", query.get("kind") or patient.id)
        return {"items": [row[0] for row in rows], **paging}

    @resident_required
    @idempotent(current_account_id)
    @blp.doc(**BEARER_DOC)
    @blp.arguments(VitalIn())
    @blp.response(201, VitalOut)
    def post(self, body, patient_id):
        """Upload a measurement; an implausible one is 422 naming the field (ranges in the API description)."""
        return vitals.add(linked_patient(current_account_id(), patient_id), current_account_id(), body)


@blp.route("/patients/<id:patient_id>/access-log")
class AccessLog(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(PageQuery(), location="query")
    @blp.response(200, AccessLogList)
    def get(self, query, patient_id):
        """Who read this patient's reports and record, when, through which channel (this read is not logged)."""
        patient = linked_patient(current_account_id(), patient_id)
        rows, paging = page(access_log_query(patient), AccessLogEntry.at, AccessLogEntry.id, query)
        return {"items": render_log([row[0] for row in rows], patient, current_account_id()), **paging}
