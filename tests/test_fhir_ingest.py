"""FHIR R4 ingest (POST /api/v1/integration/fhir): mapping, idempotency, subjects, errors with paths, volume."""
import copy
import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timezone

import carebundle
import pytest
import sqlalchemy as sa

from patient_api.accounts.models import Patient
from patient_api.common.audit import AuditEntry
from patient_api.extensions import db
from patient_api.records.models import Encounter, RecordEntry
from patient_api.results import matching
from patient_api.results.models import MrnLink, Observation, Report, ReportVersion

from . import fhir_samples as s
from .conftest import is_postgres
from .factories import hospital_key, resident_id

FHIR = "/api/v1/integration/fhir"
MODELS = (Report, ReportVersion, Observation, Encounter, RecordEntry, MrnLink)


@pytest.fixture
def key(app):
    """H1's integration key headers."""
    return hospital_key(app)


def post(client, body, key, content_type="application/fhir+json"):
    """POST a bundle (a dict, or raw bytes/text as given)."""
    data = body if isinstance(body, (bytes, str)) else json.dumps(body, ensure_ascii=False).encode()
    return client.post(FHIR, data=data, headers={**key, "Content-Type": content_type})


def in_db(app, query):
    """Run a query function inside an app context."""
    with app.app_context():
        return query()


def row_counts(app):
    """Rows in every table ingest writes to."""
    return in_db(app, lambda: {model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
                               for model in MODELS})


def person(app, n):
    """The person index of resident n."""
    return in_db(app, lambda: matching.index_for_id_number(resident_id(n)))


def utc(text):
    """An ISO instant as aware UTC."""
    return datetime.fromisoformat(text).astimezone(timezone.utc)


# --- carebundle: volume, exact counts by type, re-send ------------------------------------------------------------

CARE = [(11 + n, profile, 500 + n) for n, profile in enumerate(list(carebundle.PROFILES) * 2)][:8]


def expected_counts(bundle):
    """What ingest must create from a carebundle bundle, counted independently of the code under test."""
    entries = bundle["entry"]
    types = Counter(e["resource"]["resourceType"] for e in entries)
    items = {r["reference"] for e in entries if e["resource"]["resourceType"] == "DiagnosticReport"
             for r in e["resource"]["result"]}
    standalone = sum(1 for e in entries if e["resource"]["resourceType"] == "Observation" and e["fullUrl"] not in items)
    created = {"Patient": 1, "DiagnosticReport": types["DiagnosticReport"], "Observation": standalone,
               "Encounter": types["Encounter"], "Condition": types["Condition"],
               "AllergyIntolerance": types["AllergyIntolerance"]}
    return {k: v for k, v in created.items() if v}, len(items), types["MedicationRequest"] + types["Practitioner"]


def test_carebundle_patients_are_stored_with_exact_counts_and_a_resend_creates_nothing(app, client, key):
    bundles = [s.care_bundle(seed, profile, resident_id(n), f"MR{n}") for seed, profile, n in CARE]
    assert sum(len(b["entry"]) for b in bundles) >= 300
    totals, item_total = Counter(), 0
    for bundle in bundles:
        created, items, ignored = expected_counts(bundle)
        response = post(client, bundle, key)
        assert response.status_code == 200, response.json
        assert {t: c["created"] for t, c in response.json["by_type"].items()} == created
        assert (response.json["created"], response.json["updated"], response.json["skipped"]) == \
            (sum(created.values()), 0, 0)
        assert response.json["ignored"] == ignored
        totals.update(created)
        item_total += items
    counts = row_counts(app)
    assert counts["reports"] == totals["DiagnosticReport"]
    assert counts["observations"] == totals["Observation"] + item_total
    assert counts["encounters"] == totals["Encounter"] == 8
    assert counts["mrn_links"] == 8
    assert in_db(app, lambda: dict(db.session.execute(sa.select(RecordEntry.kind, sa.func.count())
                                                      .group_by(RecordEntry.kind)).all())) == {
        k: v for k, v in {"condition": totals["Condition"], "allergy": totals["AllergyIntolerance"]}.items() if v}
    standalone = in_db(app, lambda: db.session.scalar(sa.select(sa.func.count()).select_from(Observation).where(
        Observation.report_id.is_(None))))
    assert standalone == totals["Observation"]

    for bundle in bundles:
        again = post(client, bundle, key)
        assert again.status_code == 200
        assert (again.json["created"], again.json["updated"]) == (0, 0)
        assert again.json["skipped"] == sum(expected_counts(bundle)[0].values())
    assert row_counts(app) == counts


def test_carebundle_values_are_kept_as_sent(app, client, key):
    seed, profile, n = CARE[1]
    bundle = s.care_bundle(seed, profile, resident_id(n))
    assert post(client, bundle, key).status_code == 200
    rows = in_db(app, lambda: {o.source_id: o for o in db.session.scalars(sa.select(Observation))})
    sent = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert len(rows) == len(sent)
    for item in sent:
        row, resource = rows[item["fullUrl"]], item["resource"]
        assert row.person_index == person(app, n)
        assert row.code == resource["code"]["coding"][0]["code"]
        if "valueQuantity" in resource:
            assert row.value_num == resource["valueQuantity"]["value"]
            assert row.unit == resource["valueQuantity"]["unit"]
        else:  # blood pressure: the components, systolic/diastolic
            assert row.value == "/".join(str(c["valueQuantity"]["value"]) for c in resource["component"])


# --- hand-built Chinese content mapped exactly --------------------------------------------------------------------

def test_blood_count_maps_values_units_ranges_and_flags(app, client, key):
    response = post(client, s.bundle(s.patient(resident_id(21), "MZ0021"), s.cbc()), key)
    assert response.status_code == 200, response.json
    assert response.json["by_type"]["DiagnosticReport"]["created"] == 1
    report = in_db(app, lambda: db.session.scalars(sa.select(Report)).one())
    assert (report.kind, report.title, report.code, report.category, report.status) == \
        ("lab", "血常规", "58410-2", "LAB", "final")
    assert (report.source_id, report.source_format, report.person_index) == \
        ("urn:lis:h1|LIS-1001", "fhir", person(app, 21))
    assert report.issued_at == utc(s.ISSUED) and report.effective_at == utc("2026-03-02T08:00:00+08:00")
    assert (report.performer, report.impression, report.sensitive) == ("检验科 李四", "白细胞偏高，请结合临床", False)
    assert report.mutually_recognised  # a 三级 hospital, every item on the city's 互认 list
    items = in_db(app, lambda: [
        (o.position, o.source_id, o.code, o.code_system, o.name, o.value, o.value_num, o.unit, o.ref_low, o.ref_high,
         o.reference_range, o.flag, o.critical, o.status, o.observed_at, o.report_id == report.id)
        for o in db.session.scalars(sa.select(Observation).order_by(Observation.position))])
    at = utc("2026-03-02T08:00:00+08:00")
    assert items == [
        (0, "urn:lis:h1|LIS-1001-WBC", "6690-2", s.LOINC, "白细胞计数", "11.2", 11.2, "10*9/L", 3.5, 9.5, "3.5-9.5",
         "H", False, "final", at, True),
        (1, "urn:lis:h1|LIS-1001-RBC", "789-8", s.LOINC, "红细胞计数", "3.9", 3.9, "10*12/L", 4.3, 5.8, "4.3-5.8",
         "L", False, "final", at, True),
        (2, "urn:lis:h1|LIS-1001-HGB", "718-7", s.LOINC, "血红蛋白", "140", 140.0, "g/L", 130.0, 175.0, "130-175",
         "N", False, "final", at, True),
        (3, "urn:lis:h1|LIS-1001-PLT", "777-3", s.LOINC, "血小板计数", "1200", 1200.0, "10*9/L", 125.0, 350.0,
         "125-350", "HH", True, "final", at, True),
    ]


def test_chest_ct_keeps_findings_and_impression(app, client, key):
    assert post(client, s.bundle(s.patient(resident_id(22)), s.chest_ct()), key).status_code == 200
    report = in_db(app, lambda: db.session.scalars(sa.select(Report)).one())
    assert (report.kind, report.title, report.code, report.category) == ("imaging", "胸部CT平扫", "24627-2", "RAD")
    assert (report.findings, report.impression, report.items) == (s.FINDINGS, s.IMPRESSION, [])


def test_imaging_findings_from_the_narrative_when_there_is_no_presented_form(app, client, key):
    ct = s.chest_ct()
    del ct["resource"]["presentedForm"]
    ct["resource"]["text"] = {"status": "generated",
                              "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>检查所见：双肺未见异常&lt;5mm</p></div>'}
    assert post(client, s.bundle(s.patient(resident_id(23)), ct), key).status_code == 200
    assert in_db(app, lambda: db.session.scalars(sa.select(Report.findings)).one()) == "检查所见：双肺未见异常<5mm"


@pytest.mark.parametrize("label", [
    {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"},
    {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "V"},
    {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HIV"},
    {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PSY"},
])
def test_restricted_or_sensitive_labels_mark_the_report_sensitive(app, client, key, label):
    assert post(client, s.bundle(s.patient(resident_id(24)), s.cbc(security=[label])), key).status_code == 200
    assert in_db(app, lambda: db.session.scalars(sa.select(Report.sensitive)).one()) is True


@pytest.mark.parametrize("category, kind", [
    ({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}, "lab"),
    ({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]},
     "lab"),
    ({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}, "imaging"),
    ({"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"}]}, "imaging"),
    ({"text": "Radiology"}, "imaging"),
    ({"text": "病理"}, "lab"),
])
def test_report_kind_follows_the_category(app, client, key, category, kind):
    ct = s.chest_ct()
    ct["resource"]["category"] = [category]
    assert post(client, s.bundle(s.patient(resident_id(28)), ct), key).status_code == 200
    assert in_db(app, lambda: db.session.scalars(sa.select(Report.kind)).one()) == kind


def test_findings_from_an_extension_and_a_pdf_alongside_is_no_problem(app, client, key):
    ct = s.chest_ct()
    ct["resource"]["presentedForm"] = [{"contentType": "application/pdf", "data": "JVBERi0xLjQK"}]
    ct["resource"]["extension"] = [{"url": "http://his.h1.example/fhir/StructureDefinition/imaging-findings",
                                    "valueString": s.FINDINGS}]
    assert post(client, s.bundle(s.patient(resident_id(29)), ct), key).status_code == 200
    assert in_db(app, lambda: db.session.scalars(sa.select(Report.findings)).one()) == s.FINDINGS


@pytest.mark.parametrize("code, expected", [("AMB", "outpatient"), ("IMP", "inpatient"), ("ACUTE", "inpatient"),
                                            ("EMER", "emergency"), ("HH", "other")])
def test_encounter_classes(app, client, key, code, expected):
    visit = s.outpatient_visit()
    visit["resource"]["class"]["code"] = code
    assert post(client, s.bundle(s.patient(resident_id(30)), visit), key).status_code == 200
    assert in_db(app, lambda: db.session.scalars(sa.select(Encounter.encounter_class)).one()) == expected


def test_a_document_with_a_pdf_and_a_text_rendering_keeps_the_text(app, client, key):
    document = s.discharge_summary()
    pdf = {"attachment": {"contentType": "application/pdf", "data": "JVBERi0xLjQK"}}
    document["resource"]["content"].insert(0, pdf)
    assert post(client, s.bundle(s.patient(resident_id(30)), document), key).status_code == 200
    assert in_db(app, lambda: db.session.scalars(sa.select(Report.body)).one()) == s.DISCHARGE_TEXT


def test_a_performer_is_named_from_the_practitioner_in_the_bundle(app, client, key):
    doctor = s.entry({"resourceType": "Practitioner", "name": [{"family": "李", "given": ["建国"]}]}, "urn:uuid:dr")
    report = s.cbc()
    report[0]["resource"]["performer"] = [{"reference": "urn:uuid:dr"}]
    assert post(client, s.bundle(s.patient(resident_id(30)), doctor, report), key).json["ignored"] == 1
    assert in_db(app, lambda: db.session.scalars(sa.select(Report.performer)).one()) == "李建国"


def test_a_changed_vital_sign_is_updated(app, client, key):
    first = s.bundle(s.patient(resident_id(30)), s.lab_item("VS-1", "8867-4", "心率", 72, "/min", 60, 100))
    assert post(client, first, key).json["by_type"]["Observation"]["created"] == 1
    again = s.bundle(s.patient(resident_id(30)), s.lab_item("VS-1", "8867-4", "心率", 108, "/min", 60, 100))
    assert post(client, again, key).json["by_type"]["Observation"] == {"created": 0, "updated": 1, "skipped": 0}
    row = in_db(app, lambda: db.session.scalars(sa.select(Observation)).one())
    assert (row.value, row.flag, row.report_id) == ("108", "H", None)


def test_documents_and_health_record_entries_are_mapped(app, client, key):
    outpatient = s.discharge_summary("EMR-3002", content_type="text/html", text="<p>门诊病历：血糖控制尚可</p>")
    outpatient["resource"]["type"] = {"text": "门诊病历"}
    bundle = s.bundle(s.patient(resident_id(25), "MZ0025"), s.discharge_summary(), outpatient, s.penicillin_allergy(),
                      s.hepatitis_b_vaccine(), s.diabetes(), s.outpatient_visit())
    response = post(client, bundle, key)
    assert response.status_code == 200, response.json
    assert (response.json["created"], response.json["updated"], response.json["skipped"]) == (7, 0, 0)
    who = person(app, 25)
    documents = in_db(app, lambda: {r.source_id: (r.kind, r.title, r.code, r.status, r.body, r.performer, r.issued_at,
                                                  r.person_index) for r in db.session.scalars(sa.select(Report))})
    assert documents == {
        "urn:emr:h1|EMR-3001": ("inpatient", "出院小结", "18842-5", "final", s.DISCHARGE_TEXT, "王医生", utc(s.ISSUED),
                                who),
        "urn:emr:h1|EMR-3002": ("outpatient", "门诊病历", None, "final", "<p>门诊病历：血糖控制尚可</p>", "王医生",
                                utc(s.ISSUED), who)}
    entries = in_db(app, lambda: {e.kind: (e.source_id, e.display, e.code, e.code_system, e.status, e.recorded_on,
                                           json.loads(e.detail) if e.detail else None, e.person_index)
                                  for e in db.session.scalars(sa.select(RecordEntry))})
    assert entries == {
        "allergy": ("urn:emr:h1|ALG-1", "青霉素", "764146007", "http://snomed.info/sct", "active", date(2026, 3, 1),
                    {"type": "allergy", "category": ["medication"], "criticality": "high",
                     "reactions": [{"manifestation": ["皮疹"], "severity": "moderate"}]}, who),
        "immunization": ("urn:vacc:h1|IMM-1", "乙肝疫苗", "0201", "urn:oid:2.16.156.10011.2.3.3.11", "completed",
                         date(2026, 2, 15), {"lot_number": "B20260101", "dose_number": 1}, who),
        "condition": ("urn:emr:h1|DX-1", "2型糖尿病", "E11.900", "http://hl7.org/fhir/sid/icd-10", "active",
                      date(2020, 5, 1), None, who)}
    visit = in_db(app, lambda: db.session.scalars(sa.select(Encounter)).one())
    assert (visit.source_id, visit.encounter_class, visit.status, visit.department, visit.reason, visit.started_at,
            visit.ended_at, visit.person_index) == (
        "urn:his:h1|MZ-1", "outpatient", "finished", "内分泌科", "血糖控制复诊", utc("2026-03-02T08:30:00+08:00"),
        utc("2026-03-02T09:00:00+08:00"), who)


def test_contained_observations_become_the_reports_items(app, client, key):
    report = s.cbc()[0]
    report["resource"]["contained"] = [
        {"resourceType": "Observation", "id": "glu", "status": "final",
         "code": {"coding": [{"system": s.LOINC, "code": "2345-7"}], "text": "葡萄糖"},
         "valueQuantity": s.quantity(7.8, "mmol/L"), "referenceRange": [{"text": "3.9-6.1 mmol/L",
                                                                         "low": s.quantity(3.9, "mmol/L"),
                                                                         "high": s.quantity(6.1, "mmol/L")}]},
        {"resourceType": "Observation", "id": "hbsag", "status": "final", "code": {"text": "乙肝表面抗原"},
         "valueCodeableConcept": {"text": "阴性"}, "interpretation": [{"coding": [{"code": "N"}]}]}]
    report["resource"]["result"] = [{"reference": "#glu"}, {"reference": "#hbsag"}]
    assert post(client, s.bundle(s.patient(resident_id(26)), report), key).status_code == 200
    items = in_db(app, lambda: [(o.source_id, o.code, o.name, o.value, o.unit, o.reference_range, o.flag)
                                for o in db.session.scalars(sa.select(Observation).order_by(Observation.position))])
    assert items == [("urn:lis:h1|LIS-1001#glu", "2345-7", "葡萄糖", "7.8", "mmol/L", "3.9-6.1 mmol/L", "H"),
                     ("urn:lis:h1|LIS-1001#hbsag", "乙肝表面抗原", "乙肝表面抗原", "阴性", None, None, "N")]


def test_an_amended_report_replaces_the_old_one_and_keeps_it_in_history(app, client, key):
    patient = s.patient(resident_id(27), "MZ0027")
    assert post(client, s.bundle(patient, s.cbc()), key).json["created"] == 2
    amended = post(client, s.bundle(patient, s.cbc(status="amended", wbc=8.4)), key)
    assert amended.status_code == 200
    assert (amended.json["created"], amended.json["updated"], amended.json["skipped"]) == (0, 1, 1)  # patient known
    report = in_db(app, lambda: db.session.scalars(sa.select(Report)).one())
    assert (report.status, report.version) == ("amended", 2)
    wbc = in_db(app, lambda: db.session.scalars(sa.select(Observation).filter_by(code="6690-2")).one())
    assert (wbc.value, wbc.flag) == ("8.4", "N")
    history = in_db(app, lambda: db.session.scalars(sa.select(ReportVersion)).all())
    assert [(v.version, v.status) for v in history] == [(1, "final")]
    old_items = {item["code"]: item["value"] for item in json.loads(history[0].snapshot)["items"]}
    assert old_items["6690-2"] == "11.2"
    assert post(client, s.bundle(patient, s.cbc(status="amended", wbc=8.4)), key).json["updated"] == 0


# --- who the data is about ----------------------------------------------------------------------------------------

def mrn_subject(mrn):
    """A logical reference by the hospital's MRN."""
    return {"identifier": {"type": s.MR_TYPE, "system": s.MRN_SYSTEM, "value": mrn}}


def test_subject_by_an_mrn_learnt_from_an_earlier_bundle(app, client, key):
    assert post(client, s.bundle(s.patient(resident_id(31), "MZ0031")), key).json["by_type"] == {
        "Patient": {"created": 1, "updated": 0, "skipped": 0}}
    later = s.bundle(s.diabetes(subject=mrn_subject("MZ0031")),
                     s.patient(None, "MZ0031", full_url="urn:uuid:later-patient"),
                     s.penicillin_allergy(subject={"reference": "urn:uuid:later-patient"}))
    response = post(client, later, key)
    assert response.status_code == 200, response.json
    assert (response.json["created"], response.json["skipped"]) == (2, 1)
    assert set(in_db(app, lambda: db.session.scalars(sa.select(RecordEntry.person_index)).all())) == {person(app, 31)}


def test_subject_by_the_id_number_identifier_without_a_patient_resource(app, client, key):
    subject = {"identifier": {"system": s.ID_SYSTEM, "value": resident_id(32)}}
    assert post(client, s.bundle(s.outpatient_visit(subject=subject)), key).json["created"] == 1
    assert in_db(app, lambda: db.session.scalars(sa.select(Encounter.person_index)).one()) == person(app, 32)


def test_data_for_an_unregistered_person_shows_once_the_patient_is_added(app, client, key, make):
    bundle = s.bundle(s.patient(resident_id(33), "MZ0033"), s.cbc(), s.chest_ct(), s.discharge_summary())
    assert post(client, bundle, key).json["created"] == 4
    # The hospital's Patient registers the person with the hospital's name (a resident's later typing is a claim).
    assert in_db(app, lambda: db.session.scalars(sa.select(Patient.name_source)).all()) == ["hospital"]
    patient_id = make.patient(make.login(), n=33)
    index = in_db(app, lambda: db.session.get(Patient, patient_id).id_number_index)
    titles = in_db(app, lambda: sorted(db.session.scalars(sa.select(Report.title).filter_by(person_index=index))))
    assert titles == ["出院小结", "胸部CT平扫", "血常规"]


def test_an_mrn_already_linked_to_someone_else_is_a_conflict(app, client, key):
    assert post(client, s.bundle(s.patient(resident_id(34), "MZ0034")), key).status_code == 200
    before = row_counts(app)
    response = post(client, s.bundle(s.cbc(), s.patient(resident_id(35), "MZ0034")), key)
    assert response.status_code == 409
    assert response.json["code"] == "mrn_conflict"
    assert "entry[5].resource.identifier[1].value" in response.json["errors"]
    assert row_counts(app) == before


def test_an_mrn_is_per_hospital(app, client, key):
    assert post(client, s.bundle(s.patient(resident_id(36), "MZ0036")), key).status_code == 200
    other = hospital_key(app, "H2")
    assert post(client, s.bundle(s.patient(resident_id(37), "MZ0036")), other).json["created"] == 1
    assert row_counts(app)["mrn_links"] == 2


# --- refused input: 4xx naming the path, nothing stored -----------------------------------------------------------

def bad_value():
    body = s.bundle(s.patient(resident_id(41)), s.cbc())
    body["entry"][2]["resource"]["valueQuantity"]["value"] = "十一点二"
    return body, "invalid_fhir", "entry[2].resource.valueQuantity.value"


def bad_value_type():
    body = s.bundle(s.patient(resident_id(41)), s.cbc())
    body["entry"][3]["resource"]["valueQuantity"]["value"] = True
    return body, "invalid_fhir", "entry[3].resource.valueQuantity.value"


def unknown_type():
    return (s.bundle(s.patient(resident_id(41)), s.cbc(), {"resource": {"resourceType": "Foo", "id": "x"}}),
            "invalid_fhir", "entry[6].resource.resourceType")


def bad_checksum():
    number = resident_id(41)
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    return s.bundle(s.patient(wrong), s.cbc()), "invalid_id_number", "entry[0].resource.identifier[0].value"


def missing_subject():
    body = s.bundle(s.patient(resident_id(41)), s.cbc())
    del body["entry"][1]["resource"]["subject"]  # optional in FHIR for a report, required by us
    return body, "unknown_subject", "entry[1].resource.subject"


def condition_without_subject():
    condition = s.diabetes()
    del condition["resource"]["subject"]  # required by FHIR itself
    return s.bundle(s.patient(resident_id(41)), s.cbc(), condition), "invalid_fhir", "entry[6].resource.subject"


def subject_not_in_bundle():
    return (s.bundle(s.patient(resident_id(41)), s.diabetes(subject={"reference": "Patient/999"})),
            "unknown_subject", "entry[1].resource.subject.reference")


def unknown_mrn():
    return s.bundle(s.diabetes(subject=mrn_subject("NOPE"))), "unknown_subject", "entry[0].resource.subject.identifier"


def patient_without_identity():
    return (s.bundle(s.patient(None, "NEW-MRN"), s.diabetes()), "unknown_subject",
            "entry[1].resource.subject.reference")


def impossible_date():
    condition = s.diabetes()
    condition["resource"]["onsetDateTime"] = "2020-02-30"
    return s.bundle(s.patient(resident_id(41)), condition), "invalid_fhir", "entry[1].resource.onsetDateTime"


def bad_contained_value():
    report = s.cbc()[0]
    report["resource"]["contained"] = [{"resourceType": "Observation", "id": "x", "status": "final",
                                        "code": {"text": "x"}, "valueQuantity": {"value": "abc"}}]
    return s.bundle(s.patient(resident_id(41)), report), "invalid_fhir", \
        "entry[1].resource.contained[0].valueQuantity.value"


def pdf_document():
    document = s.discharge_summary()
    document["resource"]["content"][0]["attachment"]["contentType"] = "application/pdf"
    return s.bundle(s.patient(resident_id(41)), document), "invalid_fhir", \
        "entry[1].resource.content[0].attachment.contentType"


def huge_document():
    return (s.bundle(s.patient(resident_id(41)), s.discharge_summary(text="出" * 400_000)), "invalid_fhir",
            "entry[1].resource.content[0].attachment.data")


def report_without_a_time():
    report = s.cbc()
    del report[0]["resource"]["issued"], report[0]["resource"]["effectiveDateTime"]
    return s.bundle(s.patient(resident_id(41)), report), "invalid_fhir", "entry[1].resource.issued"


def missing_status():
    body = s.bundle(s.patient(resident_id(41)), s.cbc())
    del body["entry"][4]["resource"]["status"]
    return body, "invalid_fhir", "entry[4].resource.status"


def nul_in_text():
    condition = s.diabetes()
    condition["resource"]["code"]["text"] = "2型糖尿病\u0000"
    return s.bundle(s.patient(resident_id(41)), condition), "invalid_fhir", "entry[1].resource.code.text"


def lone_surrogate():
    text = json.dumps(s.bundle(s.patient(resident_id(41)), s.diabetes())).replace("E11.900", "E11\\ud800")
    return text.encode(), "invalid_fhir", "entry[1].resource.code.coding[0].code"


def time_out_of_range():
    report = s.cbc()
    report[0]["resource"]["issued"] = "0001-01-01T00:00:00+08:00"
    return s.bundle(s.patient(resident_id(41)), report), "invalid_fhir", "entry[1].resource"


def mrn_too_long():
    body = s.bundle(s.patient(resident_id(41), "M" * 65), s.cbc())
    return body, "invalid_fhir", "entry[0].resource.identifier[1].value"


def bad_entry_list():
    return {"resourceType": "Bundle", "type": "transaction", "entry": {"resource": {}}}, "invalid_fhir", "entry"


def searchset():
    return s.bundle(s.patient(resident_id(41)), kind="searchset"), "invalid_fhir", "type"


def not_a_bundle():
    return s.patient(resident_id(41))["resource"], "invalid_fhir", "resourceType"


def not_json():
    return b"{\"resourceType\": \"Bundle\", ", "invalid_fhir", "$"


def nan_value():
    text = json.dumps(s.bundle(s.patient(resident_id(41)), s.cbc())).replace("11.2", "NaN")
    return text.encode(), "invalid_fhir", "$"


INVALID = [bad_value, bad_value_type, unknown_type, bad_checksum, missing_subject, condition_without_subject,
           subject_not_in_bundle, unknown_mrn, patient_without_identity, impossible_date, bad_contained_value,
           pdf_document, huge_document, report_without_a_time, missing_status, bad_entry_list, searchset,
           not_a_bundle, not_json, nan_value, nul_in_text, lone_surrogate, time_out_of_range, mrn_too_long]


@pytest.mark.parametrize("case", INVALID)
def test_invalid_input_names_the_path_and_stores_nothing(app, client, key, case):
    good = s.bundle(s.patient(resident_id(40), "MZ0040", full_url="urn:uuid:good"), s.chest_ct(
        "PACS-0", subject={"reference": "urn:uuid:good"}))
    assert post(client, good, key).status_code == 200
    before = row_counts(app)
    body, code, path = case()
    response = post(client, body, key)
    assert response.status_code == 422, response.json
    assert response.json["code"] == code
    assert path in response.json["errors"], response.json["errors"]
    assert response.json["message"]
    assert row_counts(app) == before


def test_every_problem_of_a_bundle_is_reported_at_once(client, key):
    body = s.bundle(s.patient(resident_id(42)), s.cbc())
    for position in (2, 3):
        body["entry"][position]["resource"]["valueQuantity"]["value"] = "高"
    body["entry"][4]["resource"]["effectiveDateTime"] = "yesterday"
    errors = post(client, body, key).json["errors"]
    assert set(errors) == {"entry[2].resource.valueQuantity.value", "entry[3].resource.valueQuantity.value",
                           "entry[4].resource.effectiveDateTime"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer hk_wrong"}])
def test_a_missing_or_wrong_hospital_key_is_refused(client, key, headers):
    response = client.post(FHIR, json=s.bundle(s.patient(resident_id(43)), s.cbc()), headers=headers)
    assert response.status_code == 401
    assert response.json["code"] == "invalid_hospital_key"


def test_a_body_over_20_mb_is_refused_before_it_is_read(app, client, key):
    response = post(client, b"{" + b" " * (20 * 1024 * 1024) + b"}", key)
    assert response.status_code == 413
    assert response.json["code"] == "payload_too_large"
    assert row_counts(app)["reports"] == 0


def test_a_bundle_over_the_app_wide_1_mb_limit_is_accepted(client, key):
    bundle = s.bundle(s.patient(resident_id(44)), [s.cbc(f"BIG-{n}") for n in range(400)])
    assert len(json.dumps(bundle)) > 1024 * 1024
    response = post(client, bundle, key)
    assert (response.json["created"], response.json["skipped"]) == (400, 1)  # a Patient without an MRN: nothing to link


def test_xml_is_not_accepted(client, key):
    response = post(client, "<Bundle xmlns=\"http://hl7.org/fhir\"/>", key, content_type="application/fhir+xml")
    assert response.status_code == 415
    assert response.json["code"] == "unsupported_media_type"


# --- other bundle shapes, audit, volume ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["transaction", "batch", "collection"])
def test_bundle_types_and_unsupported_resources_are_ignored_not_refused(app, client, key, kind):
    medication = s.entry({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
                          "medicationCodeableConcept": {"text": "二甲双胍片"}, "subject": s.ref()})
    doctor = s.entry({"resourceType": "Practitioner", "name": [{"text": "王医生"}]})
    body = s.bundle(s.patient(resident_id(45)), medication, doctor, s.diabetes(), kind=kind)
    response = post(client, body, key, content_type="application/json")
    assert response.status_code == 200, response.json
    assert (response.json["created"], response.json["skipped"], response.json["ignored"]) == (1, 1, 2)


def test_ingest_is_audited_with_its_counts(app, client, key):
    post(client, s.bundle(s.patient(resident_id(46), "MZ0046"), s.cbc(), s.diabetes()), key)
    entry = in_db(app, lambda: db.session.scalars(sa.select(AuditEntry).filter_by(action="fhir.ingest")).one())
    assert entry.actor_type == "hospital"
    assert json.loads(entry.detail) == {"entries": 7, "created": 3, "updated": 0, "skipped": 0, "ignored": 0}


def test_a_3000_entry_bundle_is_ingested(app, client, key):
    vitals = [s.lab_item(f"VS-{n}", "8867-4", "心率", 60 + n, "/min", 60, 100) for n in range(4)]
    body = s.bundle(s.patient(resident_id(47), "MZ0047"), [s.cbc(f"LIS-B{n}") for n in range(599)], vitals)
    assert len(body["entry"]) == 3000
    response = post(client, body, key)
    assert response.status_code == 200, response.json
    assert response.json["by_type"] == {"Patient": {"created": 1, "updated": 0, "skipped": 0},
                                        "DiagnosticReport": {"created": 599, "updated": 0, "skipped": 0},
                                        "Observation": {"created": 4, "updated": 0, "skipped": 0}}
    counts = row_counts(app)
    assert (counts["reports"], counts["observations"]) == (599, 599 * 4 + 4)
    again = post(client, copy.deepcopy(body), key)
    assert (again.json["created"], again.json["updated"], again.json["skipped"]) == (0, 0, 604)


def test_the_same_bundle_delivered_in_parallel_is_stored_once(app, key):
    body = s.bundle(s.patient(resident_id(48), "MZ0048"), [s.cbc(f"LIS-P{n}") for n in range(3)], s.diabetes(),
                    s.outpatient_visit(), s.lab_item("VS-P", "8867-4", "心率", 72, "/min", 60, 100))
    copies = 6 if is_postgres(app) else 3
    barrier = threading.Barrier(copies)

    def deliver(_):
        client = app.test_client()
        barrier.wait()
        return post(client, body, key)

    with ThreadPoolExecutor(max_workers=copies) as pool:
        responses = list(pool.map(deliver, range(copies)))
    assert [r.status_code for r in responses] == [200] * copies, [r.json for r in responses]
    for resource_type, total in (("DiagnosticReport", 3), ("Condition", 1), ("Encounter", 1), ("Observation", 1)):
        assert sum(r.json["by_type"][resource_type]["created"] for r in responses) == total
    counts = row_counts(app)
    assert (counts["reports"], counts["observations"], counts["encounters"], counts["record_entries"],
            counts["mrn_links"]) == (3, 13, 1, 1, 1)
