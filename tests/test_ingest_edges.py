"""Ingest edges found in review: a corrected subject moves the report, far-future times are refused, and
source ids with slashes can be addressed by the hospital."""
import sqlalchemy as sa

from patient_api.extensions import db
from patient_api.results.models import Report

from .factories import resident_id
from .fhir_samples import bundle, cbc, diabetes, patient
from .test_fhir_ingest import in_db as query
from .test_fhir_ingest import key, person, post  # noqa: F401  (fixture)


def test_the_same_report_resent_for_the_right_person_moves_to_them(app, client, key):  # noqa: F811
    wrong, right = resident_id(8801), resident_id(8802)
    assert post(client, bundle(patient(wrong), cbc("LIS-MOVE")), key).json["created"] >= 1
    moved = post(client, bundle(patient(right), cbc("LIS-MOVE")), key).json
    assert moved["updated"] >= 1
    stored = query(app, lambda: db.session.scalar(
        sa.select(Report.person_index).filter_by(source_id="urn:lis:h1|LIS-MOVE")))
    assert stored == person(app, 8802)


def test_far_future_times_are_refused_not_stored(app, client, key):  # noqa: F811
    report = cbc("LIS-FUTURE")
    report[0]["resource"]["issued"] = "9999-12-31T23:00:00Z"
    refused = post(client, bundle(patient(resident_id(8803)), report), key)
    assert refused.status_code == 422, refused.json
    assert list(refused.json["errors"]) == ["entry[1].resource"], refused.json  # the report entry
    condition = diabetes()
    condition["resource"]["onsetDateTime"] = "9999-12-31T23:00:00Z"
    assert post(client, bundle(patient(resident_id(8803)), condition), key).status_code == 422


def test_a_hospital_reads_back_and_releases_a_report_whose_id_has_slashes(app, client, key):  # noqa: F811
    report = cbc("LIS-SLASH", security=[{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                                         "code": "R"}])
    report[0]["resource"]["identifier"] = [{"system": "http://lis.h1.example/report", "value": "2026/03/X-1"}]
    assert post(client, bundle(patient(resident_id(8804)), report), key).status_code == 200
    source_id = "http://lis.h1.example/report|2026/03/X-1"
    read = client.get(f"/api/v1/integration/reports/{source_id}", headers=key)
    assert read.status_code == 200 and read.json["sensitive"] is True
    released = client.post(f"/api/v1/integration/reports/{source_id}/release", headers=key)
    assert released.status_code == 200
