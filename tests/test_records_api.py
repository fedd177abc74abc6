"""The health record: summary, timeline, entries, vitals with plausibility checks, family-doctor contracts."""
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from patient_api.common.clock import LOCAL, now, today_local
from patient_api.common.masking import mask_name
from patient_api.directory.models import Hospital
from patient_api.extensions import db
from patient_api.records import store
from patient_api.records.models import FamilyDoctorContract
from patient_api.results.inputs import EncounterIn, EntryIn

from .factories import chinese_name, resident_id
from .test_results_api import World, item

CONTRACTS = "/api/v1/integration/family-doctor-contracts"


@pytest.fixture
def world(app, client, make):
    """A fresh World."""
    return World(app, client, make)


def url(person, suffix):
    """A patient-scoped path."""
    return f"/api/v1/patients/{person.patient_id}/{suffix}"


def add_encounter(world, index, source_id, days_ago, hospital="H1", **fields):
    """Store an encounter that started days_ago."""
    world.hospital(hospital)
    encounter = EncounterIn(source_id=source_id, encounter_class=fields.pop("encounter_class", "outpatient"),
                            status="finished", started_at=now() - timedelta(days=days_ago), **fields)
    world.db(lambda: store.save_encounter(_hospital(hospital), index, encounter))


def add_entry(world, index, kind, source_id, display, recorded_on=None, hospital="H1", **detail):
    """Store a condition, allergy or immunization."""
    world.hospital(hospital)
    entry = EntryIn(kind=kind, source_id=source_id, display=display, recorded_on=recorded_on, detail=detail)
    world.db(lambda: store.save_entry(_hospital(hospital), index, entry))


def _hospital(code):
    return db.session.scalars(sa.select(Hospital).filter_by(code=code)).one()


def contract(n, **fields):
    """A family-doctor contract body for resident n."""
    body = {"contract_no": "FD-1", "patient": {"id_number": resident_id(n)}, "team": "泰山区社区卫生服务中心一团队",
            "doctor": "王医生", "phone": "0538-1234567", "package": "基础包", "status": "active",
            "starts_on": (today_local() - timedelta(days=30)).isoformat(),
            "ends_on": (today_local() + timedelta(days=335)).isoformat()}
    body.update(fields)
    return body


def test_record_summary(world):
    """Masked name, latest 10 encounters, entries, latest vitals (uploaded and measured), the active contract."""
    me = world.person()
    for n in range(12):
        add_encounter(world, me.index, f"E{n}", days_ago=n + 1, department="内科", reason="复诊")
    add_entry(world, me.index, "condition", "C1", "2型糖尿病", date(2024, 5, 1), severity="moderate")
    add_entry(world, me.index, "allergy", "A1", "青霉素过敏", reaction="皮疹")
    add_entry(world, me.index, "immunization", "V1", "新冠疫苗", date(2022, 1, 5), dose=3)
    for minutes, systolic in ((60, 150), (10, 128)):
        world.client.post(url(me, "vitals"), headers=me.headers, json={
            "kind": "blood_pressure", "systolic": systolic, "diastolic": 80,
            "measured_at": (now() - timedelta(minutes=minutes)).isoformat()})
    world.observation(me.index, item("BW-1", code="29463-7", name="体重", value_num=68.5, unit="kg", low=None,
                                     high=None, observed_at=now() - timedelta(days=2)))
    world.client.post(CONTRACTS, headers=world.hospital("CHC"), json=contract(me.n))
    body = world.get(url(me, "record"), me.headers)
    assert body["patient"]["id"] == me.patient_id and body["patient"]["name"] == mask_name(chinese_name(me.n))
    assert body["patient"]["name"] != chinese_name(me.n)
    assert body["patient"]["birth_date"][:4] == resident_id(me.n)[6:10]
    assert [e["id"] for e in body["encounters"]] and len(body["encounters"]) == 10
    assert body["encounters"][0]["started_at"] > body["encounters"][-1]["started_at"]
    assert [(c["display"], c["recorded_on"], c["detail"]) for c in body["conditions"]] == [
        ("2型糖尿病", "2024-05-01", {"severity": "moderate"})]
    assert [a["detail"] for a in body["allergies"]] == [{"reaction": "皮疹"}]
    assert [i["display"] for i in body["immunizations"]] == ["新冠疫苗"]
    assert [(v["source"], v.get("kind"), v.get("systolic"), v["value"]) for v in body["vitals"]] == [
        ("resident", "blood_pressure", 128, None), ("hospital", None, None, 68.5)]
    assert body["vitals"][1]["hospital_id"] and body["vitals"][1]["code"] == "29463-7"
    doctor = body["family_doctor"]
    assert (doctor["doctor"], doctor["team"], doctor["hospital_name"]) == ("王医生", "泰山区社区卫生服务中心一团队",
                                                                           "测试医院CHC")


def test_empty_record(world):
    """A patient with no data: empty lists, no family doctor."""
    me = world.person()
    body = world.get(url(me, "record"), me.headers)
    assert [body[k] for k in ("encounters", "conditions", "allergies", "immunizations", "vitals")] == [[]] * 5
    assert body["family_doctor"] is None


def test_encounter_timeline_is_paged_newest_first(world):
    """Timeline across hospitals, newest first, by cursor."""
    me = world.person()
    for n in range(5):
        add_encounter(world, me.index, f"TL{n}", days_ago=n + 1, hospital=("H1", "H2")[n % 2],
                      encounter_class=("outpatient", "inpatient")[n % 2])
    first = world.get(url(me, "encounters"), me.headers, limit=3)
    assert [e["hospital_name"] for e in first["items"]] == ["测试医院H1", "测试医院H2", "测试医院H1"]
    assert first["has_more"]
    rest = world.get(url(me, "encounters"), me.headers, limit=3, cursor=first["next_cursor"])
    assert [e["encounter_class"] for e in rest["items"]] == ["inpatient", "outpatient"] and not rest["has_more"]
    assert first["items"][0]["started_at"].endswith("+08:00")


@pytest.mark.parametrize("path,kind", [("conditions", "condition"), ("allergies", "allergy"),
                                       ("immunizations", "immunization")])
def test_entry_lists(world, path, kind):
    """Each list has its own kind only, dated ones newest first, undated last."""
    me = world.person()
    add_entry(world, me.index, kind, "X1", "旧", date(2020, 1, 1))
    add_entry(world, me.index, kind, "X2", "无日期")
    add_entry(world, me.index, kind, "X3", "新", date(2025, 1, 1), hospital="H2")
    other = "allergy" if kind != "allergy" else "condition"
    add_entry(world, me.index, other, "Y1", "别的")
    items = world.get(url(me, path), me.headers)["items"]
    assert [(i["display"], i["kind"]) for i in items] == [("新", kind), ("旧", kind), ("无日期", kind)]
    assert items[0]["hospital_name"] == "测试医院H2"


def vital(kind, **fields):
    """A vital body measured ten minutes ago."""
    return {"kind": kind, "measured_at": (now() - timedelta(minutes=10)).isoformat(), **fields}


ACCEPTED = [
    vital("blood_pressure", systolic=60, diastolic=30), vital("blood_pressure", systolic=260, diastolic=160),
    vital("glucose", value=1.0), vital("glucose", value=33.3, context="after_meal"),
    vital("heart_rate", value=30), vital("heart_rate", value=220, unit="次/分"),
    vital("weight", value=2), vital("weight", value=300), vital("weight", value=130, unit="斤"),
    vital("temperature", value=34), vital("temperature", value=43), vital("temperature", value=98.6, unit="°F"),
]
REFUSED = [
    (vital("blood_pressure", systolic=59, diastolic=40), "systolic"),
    (vital("blood_pressure", systolic=261, diastolic=90), "systolic"),
    (vital("blood_pressure", systolic=120, diastolic=29), "diastolic"),
    (vital("blood_pressure", systolic=200, diastolic=161), "diastolic"),
    (vital("blood_pressure", systolic=90, diastolic=90), "diastolic"),
    (vital("blood_pressure", systolic=120), "diastolic"),
    (vital("blood_pressure", systolic=120, diastolic=80, value=3), "value"),
    (vital("blood_pressure", systolic=120, diastolic=80, unit="kg"), "unit"),
    (vital("glucose", value=0.9), "value"), (vital("glucose", value=33.4), "value"),
    (vital("glucose", value=17, unit="mg/dL"), "value"), (vital("glucose", value=602, unit="mg/dL"), "value"),
    (vital("glucose", value=5.5, context="bedtime"), "context"), (vital("glucose"), "value"),
    (vital("heart_rate", value=29), "value"), (vital("heart_rate", value=221), "value"),
    (vital("heart_rate", value=70, context="fasting"), "context"),
    (vital("weight", value=1.9), "value"), (vital("weight", value=301), "value"),
    (vital("weight", value=3, unit="斤"), "value"), (vital("weight", value=60, systolic=120), "systolic"),
    (vital("temperature", value=33.9), "value"), (vital("temperature", value=43.1), "value"),
    (vital("temperature", value=110, unit="°F"), "value"), (vital("temperature", value=36.5, unit="K"), "unit"),
    (vital("heart_rate", value="72"), "value"), (vital("heart_rate", value=True), "value"),
    (vital("pulse", value=72), "kind"), (vital("weight", value=60, note="x"), "note"),
    ({"kind": "weight", "value": 60, "measured_at": (now() + timedelta(hours=1)).isoformat()}, "measured_at"),
    ({"kind": "weight", "value": 60, "measured_at": (now() - timedelta(days=366)).isoformat()}, "measured_at"),
]


@pytest.mark.parametrize("body", ACCEPTED, ids=lambda b: f"{b['kind']}-{b.get('value', b.get('systolic'))}")
def test_vitals_at_the_bounds_are_accepted(world, body):
    """Every bound itself is plausible."""
    me = world.person()
    response = world.client.post(url(me, "vitals"), headers=me.headers, json=body)
    assert response.status_code == 201, response.json


@pytest.mark.parametrize("body,field", REFUSED, ids=lambda v: v if isinstance(v, str) else None)
def test_implausible_vitals_name_the_field(world, body, field):
    """Just past a bound, inconsistent or malformed: 422 naming the field, nothing stored."""
    me = world.person()
    response = world.client.post(url(me, "vitals"), headers=me.headers, json=body)
    assert response.status_code == 422 and field in response.json["errors"], response.json
    assert world.get(url(me, "vitals"), me.headers)["items"] == []


def test_units_are_converted(world):
    """mg/dL → mmol/L (÷18), 斤 → kg, °F → °C; defaults: mmHg, mmol/L and a random glucose context."""
    me = world.person()
    for body in (vital("glucose", value=108, unit="mg/dL", context="fasting"), vital("weight", value=130, unit="斤"),
                 vital("temperature", value=98.6, unit="°F"), vital("glucose", value=6.1)):
        assert world.client.post(url(me, "vitals"), headers=me.headers, json=body).status_code == 201
    stored = {(v["kind"], v["context"]): (v["value"], v["unit"]) for v in
              world.get(url(me, "vitals"), me.headers)["items"]}
    assert stored == {("glucose", "fasting"): (6.0, "mmol/L"), ("weight", None): (65.0, "kg"),
                      ("temperature", None): (37.0, "°C"), ("glucose", "random"): (6.1, "mmol/L")}


def test_measured_at_defaults_to_now_and_vitals_list_newest_first(world):
    """Without measured_at it is now; the list is newest first and filters by kind."""
    me = world.person()
    for minutes, kind in ((50, "weight"), (30, "heart_rate"), (20, "weight")):
        world.client.post(url(me, "vitals"), headers=me.headers, json={
            "kind": kind, "value": 70, "measured_at": (now() - timedelta(minutes=minutes)).astimezone(LOCAL)
            .replace(tzinfo=None).isoformat()})  # a local time without offset is read as Asia/Shanghai
    latest = world.client.post(url(me, "vitals"), headers=me.headers, json={"kind": "weight", "value": 71})
    assert latest.status_code == 201 and latest.json["measured_at"].endswith("+08:00")
    items = world.get(url(me, "vitals"), me.headers)["items"]
    assert [v["value"] for v in items] == [71, 70, 70, 70] and items[1]["kind"] == "weight"
    weights = world.get(url(me, "vitals"), me.headers, kind="weight")["items"]
    assert len(weights) == 3 and {v["kind"] for v in weights} == {"weight"}
    world.get(url(me, "vitals"), me.headers, 422, kind="pulse")


def test_vital_upload_is_idempotent_with_a_key(world):
    """The same Idempotency-Key and body store one measurement."""
    me = world.person()
    headers = {**me.headers, "Idempotency-Key": "bp-1"}
    body = vital("heart_rate", value=72)
    first = world.client.post(url(me, "vitals"), headers=headers, json=body)
    again = world.client.post(url(me, "vitals"), headers=headers, json=body)
    assert (first.status_code, again.status_code, again.json["id"]) == (201, 201, first.json["id"])
    other = world.client.post(url(me, "vitals"), headers=headers, json={**body, "value": 73})
    assert (other.status_code, other.json["code"]) == (422, "idempotency_key_reused")
    assert len(world.get(url(me, "vitals"), me.headers)["items"]) == 1


def test_family_doctor_contract_push_and_display(app, world):
    """201 then 200 on re-push (updated in place); an ended contract no longer shows; bad bodies are 422."""
    me = world.person()
    chc = world.hospital("CHC")
    created = world.client.post(CONTRACTS, headers=chc, json=contract(me.n))
    assert created.status_code == 201 and created.json["doctor"] == "王医生"
    updated = world.client.post(CONTRACTS, headers=chc, json=contract(me.n, doctor="李医生"))
    assert (updated.status_code, updated.json["id"], updated.json["doctor"]) == (200, created.json["id"], "李医生")
    assert world.get(url(me, "record"), me.headers)["family_doctor"]["doctor"] == "李医生"
    world.client.post(CONTRACTS, headers=chc, json=contract(me.n, status="ended"))
    assert world.get(url(me, "record"), me.headers)["family_doctor"] is None
    expired = contract(me.n, contract_no="FD-0", starts_on="2020-01-01", ends_on="2021-01-01")
    assert world.client.post(CONTRACTS, headers=chc, json=expired).status_code == 201
    assert world.get(url(me, "record"), me.headers)["family_doctor"] is None
    assert world.client.post(CONTRACTS, headers=world.hospital("H2"), json=contract(me.n)).status_code == 201
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FamilyDoctorContract)) == 3
    for body, field in ((contract(me.n, patient={"id_number": "370902198601010000"}), "patient"),
                        (contract(me.n, ends_on="2000-01-01"), "ends_on"), (contract(me.n, status="x"), "status"),
                        ({**contract(me.n), "extra": 1}, "extra")):
        response = world.client.post(CONTRACTS, headers=chc, json=body)
        assert response.status_code == 422 and field in response.json["errors"], response.json
    assert world.client.post(CONTRACTS, json=contract(me.n)).status_code == 401


def test_uploaded_measurements_are_in_the_trend_of_their_code(world):
    """A glucose upload shows in the trend of the hospitals' glucose codes (2345-7, 2339-0) beside their results,
    in their unit; blood pressure under systolic / diastolic; the record names the code of each upload's trend."""
    me = world.person()
    world.observation(me.index, item("G-1", code="2345-7", name="葡萄糖", unit="mmol/L", value_num=7.4, low=3.9,
                                     high=6.1, observed_at=now() - timedelta(days=3)), "H1")
    for body in ({"kind": "glucose", "value": 6.2, "unit": "mmol/L", "context": "fasting",
                  "measured_at": (now() - timedelta(days=2)).isoformat()},
                 {"kind": "glucose", "value": 126, "unit": "mg/dL",
                  "measured_at": (now() - timedelta(days=1)).isoformat()},
                 {"kind": "blood_pressure", "systolic": 138, "diastolic": 86}):
        assert world.client.post(url(me, "vitals"), headers=me.headers, json=body).status_code == 201

    points = world.get(url(me, "trends"), me.headers, code="2345-7")["items"]
    assert [(p["source"], p["value_num"], p["unit"], p["hospital_name"], p["context"]) for p in points] == [
        ("hospital", 7.4, "mmol/L", "测试医院H1", None), ("resident", 6.2, "mmol/L", None, "fasting"),
        ("resident", 7.0, "mmol/L", None, "random")]
    assert points[1]["flag"] is None and points[1]["report_id"] is None and points[1]["name"] == "血糖"
    assert (points[0]["ref_low"], points[0]["ref_high"], points[1]["ref_low"]) == (3.9, 6.1, None)
    assert [p["value_num"] for p in world.get(url(me, "trends"), me.headers, code="2339-0")["items"]] == [6.2, 7.0]
    assert [p["value_num"] for p in world.get(url(me, "trends"), me.headers, code="8480-6")["items"]] == [138]
    assert [p["value_num"] for p in world.get(url(me, "trends"), me.headers, code="8462-4")["items"]] == [86]
    assert world.get(url(me, "trends"), me.headers, code="718-7")["items"] == []

    record = world.get(url(me, "record"), me.headers)
    codes = {v["kind"]: v["code"] for v in record["vitals"] if v["source"] == "resident"}
    assert codes == {"blood_pressure": "8480-6", "glucose": "2345-7"}


def test_uploaded_glucose_follows_a_hospital_reporting_mg_per_dl(world):
    """Where the hospital sends the code in mg/dL, uploads (kept in mmol/L) are shown in mg/dL too."""
    me = world.person()
    world.observation(me.index, item("MG-1", code="2339-0", name="血糖", unit="mg/dL", value_num=110, low=70,
                                     high=99, observed_at=now() - timedelta(days=3)), "H2")
    assert world.client.post(url(me, "vitals"), headers=me.headers,
                             json={"kind": "glucose", "value": 7.0}).status_code == 201
    points = world.get(url(me, "trends"), me.headers, code="2339-0")["items"]
    assert [(p["value_num"], p["unit"]) for p in points] == [(110, "mg/dL"), (126, "mg/dL")]
