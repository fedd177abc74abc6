"""The stay or report a requester shared with consent: the assigned nurse reads it through the order, in her
address window only, and the read is in the patient's access log like any other."""
from ..accounts.models import Patient
from ..common.clock import now
from ..directory.models import Hospital
from ..errors import NotFound
from ..extensions import db
from ..inpatient.models import Admission
from ..records.access import log_read
from ..results import queries, rules
from ..results.models import Report
from .access import address_open, audited

CHANNEL = "homecare"


def read(nurse, order, instant=None):
    """{"kind", "admission" | "report"} for the assigned nurse; 404 shared_record_not_found otherwise."""
    missing = NotFound("该订单没有可查看的分享记录", code="shared_record_not_found")
    if not order.share_consent or not address_open(order, nurse, instant or now()):
        raise missing
    patient = db.session.get(Patient, order.patient_id)
    audited(nurse, "homecare.shared_record_view", order, kind=order.shared_kind)
    if order.shared_kind == "report":
        report = db.session.get(Report, order.shared_id)
        if report is None or report.person_index != patient.id_number_index or not rules.visible(report):
            raise missing  # withdrawn since it was shared
        log_read("staff", nurse.id, CHANNEL, patient.id_number_index, "report", report.id, patient.id)
        return {"kind": "report", "admission": None, "report": queries.detail(report, patient.id)}
    admission = db.session.get(Admission, order.shared_id)
    log_read("staff", nurse.id, CHANNEL, patient.id_number_index, "admission", admission.id, patient.id)
    return {"kind": "admission", "report": None, "admission": {
        "id": admission.id, "hospital_name": db.session.get(Hospital, admission.hospital_id).name,
        "department": admission.department, "ward": admission.ward, "admitted_at": admission.admitted_at,
        "discharge_at": admission.discharge_at, "status": admission.status}}
