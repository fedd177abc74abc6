"""The sensitive-result hold: counted from receipt, applied to stand-alone observations and to HL7 v2 results, by
the city's code list and by the sender's own flag."""
import json
from datetime import timedelta

import sqlalchemy as sa

from patient_api.accounts.models import Patient
from patient_api.common.clock import now
from patient_api.extensions import db
from patient_api.results.models import Observation, Report

from . import fhir_samples as s
from .factories import hospital_key
from .test_hl7v2_ingest import by_id_number, message, obr, obx, pid, seg
from .test_hl7v2_ingest import post as post_hl7

VIRAL_LOAD = "20447-9"  # HIV-1 RNA (viral load): on RESULT_SENSITIVE_CODES


def resident(app, make):
    headers, patient_id = make.resident(verified=True)
    with app.app_context():
        return headers, patient_id, db.session.get(Patient, patient_id).id_number


def push_fhir(client, key, *entries):
    body = json.dumps(s.bundle(*entries), ensure_ascii=False).encode()
    response = client.post("/api/v1/integration/fhir", data=body,
                           headers={**key, "Content-Type": "application/fhir+json"})
    assert response.status_code == 200, response.json


def standalone(key_suffix, loinc, security=None):
    item = s.lab_item(key_suffix, loinc, "HIV-1 RNA" if loinc == VIRAL_LOAD else "血糖", 1200, "copies/mL", 0, 20)
    if security:
        item["resource"]["meta"] = {"security": security}
    return item


def trend(client, headers, patient_id, code):
    response = client.get(f"/api/v1/patients/{patient_id}/trends", query_string={"code": code}, headers=headers)
    assert response.status_code == 200, response.json
    return response.json["points"] if "points" in response.json else response.json["items"]


def age_receipts(app, days):
    with app.app_context():
        db.session.execute(sa.update(Observation).values(received_at=now() - timedelta(days=days)))
        db.session.execute(sa.update(Report).values(created_at=now() - timedelta(days=days)))
        db.session.commit()


def test_a_standalone_observation_with_a_sensitivity_label_is_held_in_trends_and_the_record(app, client, make):
    headers, patient_id, number = resident(app, make)
    key = hospital_key(app)
    push_fhir(client, key, s.patient(number), standalone("L1", "2345-7", security=[{"code": "HIV"}]))
    assert trend(client, headers, patient_id, "2345-7") == []
    record = client.get(f"/api/v1/patients/{patient_id}/record", headers=headers)
    assert record.status_code == 200 and "2345-7" not in record.get_data(as_text=True)
    age_receipts(app, app.config["RESULT_SENSITIVE_HOLD_DAYS"] + 1)
    assert len(trend(client, headers, patient_id, "2345-7")) == 1


def test_a_standalone_result_on_the_code_list_is_held_without_a_label(app, client, make):
    headers, patient_id, number = resident(app, make)
    push_fhir(client, hospital_key(app), s.patient(number), standalone("L2", VIRAL_LOAD))
    with app.app_context():
        assert db.session.scalars(sa.select(Observation.sensitive)).all() == [True]
    assert trend(client, headers, patient_id, VIRAL_LOAD) == []


def reports(client, headers):
    response = client.get("/api/v1/reports", headers=headers)
    assert response.status_code == 200
    return [r["title"] for r in response.json["items"]]


def test_hl7_results_are_held_by_code_list_and_by_the_senders_flag(app, client, make):
    headers, _, number = resident(app, make)
    key = hospital_key(app)
    viral = [obr(1, "LAB1", "HIVVL^HIV病毒载量^L"),
             obx(1, "NM", f"HIVRNA^HIV-1 RNA^L^{VIRAL_LOAD}^HIV1 RNA^LN", "1200")]
    flagged = [obr(2, "LAB2", "TPPA^梅毒抗体^L"), seg("ARV", f1="1", f2="A", f3="STD"),
               obx(1, "ST", "TP^抗体^L", "阳性")]
    plain = [obr(3, "LAB3", "GLU^血糖^L"), obx(1, "NM", "GLU^葡萄糖^L", "5.1", "mmol/L", "3.9-6.1")]
    answer = post_hl7(client, key, message(pid(by_id_number(number)), *viral, *flagged, *plain))
    assert answer.status_code == 200 and b"MSA|AA" in answer.data
    assert reports(client, headers) == ["血糖"]
    protected = message(pid(by_id_number(number)), seg("PD1", f12="Y"), obr(1, "LAB4", "CBC^血常规^L"),
                        obx(1, "NM", "WBC^白细胞^L", "6.1"), control="LIS2")
    assert b"MSA|AA" in post_hl7(client, key, protected).data
    assert reports(client, headers) == ["血糖"]
    age_receipts(app, app.config["RESULT_SENSITIVE_HOLD_DAYS"] + 1)
    assert sorted(reports(client, headers)) == sorted(["血糖", "HIV病毒载量", "梅毒抗体", "血常规"])
