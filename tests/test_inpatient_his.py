"""Bad HIS pushes about inpatients: a clear 4xx with a stable code, and nothing stored half-way."""
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from patient_api.common.audit import AuditEntry
from patient_api.common.clock import today_local
from patient_api.extensions import db
from patient_api.inpatient.models import Admission, Charge

from .factories import resident_id
from .inpatient import Hospital, in_db, line

HIS = "/api/v1/integration/admissions"
SIGNALS = ("orders-complete", "discharge-order")


@pytest.fixture
def stay(app, client, make):
    """H1 with one admitted patient and a stored good batch of two days."""
    h = Hospital(app, client, make)
    _, patient_id, person = h.resident()
    admission = h.admit(person, bed="12")
    day = today_local() - timedelta(days=1)
    good = [line("G-1", day), line("G-2", day, "CW001", "床位费", "床位费", 1, 4500)]
    h.charges(admission["admission_no"], good)
    return SimpleNamespace(h=h, person=person, patient_id=patient_id, admission=admission,
                           no=admission["admission_no"], good=good)


def counts(app):
    """(admissions, inpatient_charges, audit_log) row counts."""
    return in_db(app, lambda: tuple(db.session.scalar(sa.select(sa.func.count()).select_from(model))
                                    for model in (Admission, Charge, AuditEntry)))


def stored(app, admission_id):
    """{source_id: (date, quantity, unit_price_fen)} of the admission's charge lines."""
    rows = in_db(app, lambda: db.session.execute(sa.select(
        Charge.source_id, Charge.charge_date, Charge.quantity, Charge.unit_price_fen)
        .filter_by(admission_id=admission_id)).all())
    return {source_id: (day.isoformat(), quantity, price) for source_id, day, quantity, price in rows}


def intact(app, stay, before):
    """Nothing was added and the good batch is exactly as it was stored."""
    assert counts(app) == before
    assert stored(app, stay.admission["id"]) == {
        i["source_id"]: (i["date"], i["quantity"], i["unit_price_fen"]) for i in stay.good}


def post(client, path, body, headers, raw=False):
    """POST to the HIS API; raw sends the body as text."""
    if raw:
        return client.post(HIS + path, data=body, headers={**headers, "Content-Type": "application/json"})
    return client.post(HIS + path, json=body, headers=headers)


def refused(response, status, code):
    """The response is that error; returns its `errors` (or {})."""
    assert (response.status_code, response.json["code"]) == (status, code), response.json
    return response.json.get("errors", {})


def admission_body(person, admission_no="ZY9001", bed="12", admitted_at=None):
    """An admission push body."""
    admitted_at = admitted_at or f"{today_local() - timedelta(days=3)}T09:30:00+08:00"
    return {"admission_no": admission_no, "patient": dict(person), "ward_code": "W1", "bed_no": bed,
            "admitted_at": admitted_at, "insurance_type": "employee"}


def fresh(n, day=None):
    """n new good lines dated yesterday."""
    return [line(f"N-{k}", day or today_local() - timedelta(days=1)) for k in range(n)]


BAD_ADMISSIONS = {
    "bad_id_number": ({"patient": {"id_number": "370902198601010000", "name": "王无人"}},
                      "validation_error", "patient"),
    "admitted_at_text": ({"admitted_at": "yesterday morning"}, "validation_error", "admitted_at"),
    "admitted_at_no_such_day": ({"admitted_at": "2026-02-30T09:00:00+08:00"}, "validation_error", "admitted_at"),
    "admitted_at_future": ({"admitted_at": f"{today_local() + timedelta(days=2)}T09:30:00+08:00"},
                           "validation_error", "admitted_at"),
    "unknown_field": ({"room": "301"}, "validation_error", "room"),
}


@pytest.mark.parametrize("case", BAD_ADMISSIONS)
def test_bad_admission_is_refused(app, client, stay, case):
    """Unknown patient, a name that does not match, a bad admitted_at, an unknown field: 422 and no admission."""
    change, code, field = BAD_ADMISSIONS[case]
    _, _, newcomer = stay.h.resident()  # not admitted anywhere: only the bad field is in play
    body = admission_body(newcomer)
    body["patient"].update(change.get("patient", {}))
    body.update({k: v for k, v in change.items() if k != "patient"})
    before = counts(app)
    assert list(refused(post(client, "", body, stay.h.his), 422, code)) == [field]
    intact(app, stay, before)


def test_the_hospital_registers_a_person_and_its_name_replaces_a_typed_one(app, client, stay):
    """Not registered yet: the admission creates the patient from HIS's data; a resident's typed name gives way;
    only a name read from the ID card's chip is kept against HIS (422)."""
    from patient_api.accounts.models import Patient
    newcomer = {"id_number": resident_id(4999, region="110101"), "name": "王无人", "phone": "13912344999"}
    created = post(client, "", admission_body(newcomer, admission_no="ZY-NEW"), stay.h.his)
    assert created.status_code == 201, created.json
    assert in_db(app, lambda: db.session.scalars(sa.select(Patient.name_source).filter_by(
        name="王无人")).one()) == "hospital"
    headers, patient_id, person = stay.h.resident(verified=False)  # a resident typed the name
    renamed = post(client, "", admission_body({**person, "name": "王正名"}, admission_no="ZY-REN"), stay.h.his)
    assert renamed.status_code == 201 and in_db(app, lambda: db.session.get(Patient, patient_id).name) == "王正名"
    with app.app_context():
        db.session.execute(sa.update(Patient).where(Patient.id == patient_id).values(name_source="card"))
        db.session.commit()
    before = counts(app)
    clash = post(client, "", admission_body({**person, "name": "王别名"}, admission_no="ZY-CLASH"), stay.h.his)
    assert list(refused(clash, 422, "unknown_patient")) == ["patient"]
    intact(app, stay, before)


@pytest.mark.parametrize("field, value", [
    ("unit_price_fen", -1), ("quantity", 0), ("quantity", -2), ("quantity", 1.5), ("unit_price_fen", 1550.0),
    ("unit_price_fen", 15.5), ("quantity", "2"), ("unit_price_fen", "1550"), ("quantity", True),
])
def test_bad_amount_in_item_three_of_five_stores_nothing(app, stay, field, value):
    """A bad amount names items.2.<field>; none of the five lines is stored."""
    before = counts(app)
    batch = fresh(5)
    batch[2][field] = value
    errors = refused(stay.h.charges(stay.no, batch, expect=422), 422, "validation_error")
    assert {n: list(fields) for n, fields in errors["items"].items()} == {"2": [field]}
    intact(app, stay, before)


@pytest.mark.parametrize("body, errors", [
    ({"items": [{**line("X-1", today_local()), "discount_fen": 5}]}, {"items": {"0": {"discount_fen": [
        "不支持该字段"]}}}),
    ({"items": [line("X-1", today_local())], "operator": "x"}, {"operator": ["不支持该字段"]}),
    ({"items": []}, {"items": ["长度应在 1 到 1000 之间"]}),
    ({"items": [line("D-1", today_local()), line("D-2", today_local()), line("D-1", today_local())]},
     {"items": {"2": {"source_id": ["本次推送中重复"]}}}),
])
def test_malformed_charges_body_is_refused(app, client, stay, body, errors):
    """Unknown fields (top level or in an item), no items, a source_id twice in one push: 422 naming the field."""
    before = counts(app)
    assert refused(post(client, f"/{stay.no}/charges", body, stay.h.his), 422, "validation_error") == errors
    intact(app, stay, before)


@pytest.mark.parametrize("path", ["", "/{no}/charges", "/{no}/discharge-order"])
def test_malformed_json_is_400(app, client, stay, path):
    """A body that is not JSON: 400 malformed_json."""
    before = counts(app)
    refused(post(client, path.format(no=stay.no), '{"items": [', stay.h.his, raw=True), 400, "malformed_json")
    intact(app, stay, before)


def test_resent_lines_are_duplicates_and_new_ones_accepted(app, stay):
    """The same source_id with the same content is skipped; only new lines are added."""
    again = stay.h.charges(stay.no, stay.good).json
    assert (again["accepted"], again["duplicates"]) == (0, 2)
    mixed = stay.h.charges(stay.no, stay.good + fresh(1)).json
    assert (mixed["accepted"], mixed["duplicates"], mixed["charges_total_fen"]) == (1, 2, 2 * 3100 + 4500)


def test_charges_past_the_admission_ceiling_are_refused(app, stay):
    """Lines summing past 1,000 万元: 422 charges_out_of_range, none stored."""
    before = counts(app)
    batch = fresh(1) + [line("BIG-1", today_local(), quantity=100_000, unit_price_fen=100_000_000)]
    refused(stay.h.charges(stay.no, batch, expect=422), 422, "charges_out_of_range")
    intact(app, stay, before)


def test_resent_source_id_with_other_content_stores_none_of_the_batch(app, stay):
    """409 source_id_conflict naming the line; the new lines of that batch are not stored either."""
    before = counts(app)
    changed = {**stay.good[1], "quantity": 2}
    errors = refused(stay.h.charges(stay.no, fresh(2) + [changed], expect=409), 409, "source_id_conflict")
    assert list(errors["items"]) == ["2"]
    intact(app, stay, before)


@pytest.mark.parametrize("back, code", [(4, "validation_error"), (-1, "validation_error")])
def test_lines_outside_the_stay_are_refused(app, stay, back, code):
    """A line dated before admission, or in the future while still admitted: 422 items.N.date."""
    before = counts(app)
    batch = fresh(2) + [line("OUT-1", today_local() - timedelta(days=back))]
    assert refused(stay.h.charges(stay.no, batch, expect=422), 422, code)["items"] == {"2": {"date": [
        "早于入院日期" if back > 0 else "晚于今天"]}}
    intact(app, stay, before)


def test_lines_after_the_discharge_date_are_refused(app, stay):
    """Discharged yesterday: a line dated today is 422 charge_after_discharge, yesterday's still go in."""
    stay.h.signal(stay.no, "discharge-order", {"discharge_at": f"{today_local() - timedelta(days=1)}T10:00:00+08:00"})
    before = counts(app)
    errors = refused(stay.h.charges(stay.no, fresh(1) + [line("T-1", today_local())], expect=422), 422,
                     "charge_after_discharge")
    assert list(errors["items"]) == ["1"]
    intact(app, stay, before)
    assert stay.h.charges(stay.no, fresh(1)).json["accepted"] == 1


def test_pushes_after_discharge_review_are_closed(app, client, stay):
    """Once reviewed: charges and a bed move are 409 admission_closed; signals change nothing."""
    nurse = stay.h.staff(wards="W1")
    stay.h.signal(stay.no, "orders-complete")
    stay.h.signal(stay.no, "discharge-order")
    review = client.post(f"/api/v1/staff/admissions/{stay.admission['id']}/discharge-review", headers=nurse)
    assert review.status_code == 200
    before = counts(app)
    refused(stay.h.charges(stay.no, fresh(1), expect=409), 409, "admission_closed")
    refused(post(client, "", admission_body(stay.person, stay.no, bed="15"), stay.h.his), 409, "admission_closed")
    assert all(stay.h.signal(stay.no, what)["status"] == "reviewed" for what in SIGNALS)
    intact(app, stay, before)


@pytest.mark.parametrize("path, body", [("/ZY404/charges", {"items": [line("X", today_local())]}),
                                        ("/ZY404/orders-complete", {}), ("/ZY404/discharge-order", {})])
def test_unknown_admission_no_is_404(app, client, stay, path, body):
    """Charges or signals for an admission_no HIS never pushed: 404 admission_not_found."""
    before = counts(app)
    refused(post(client, path, body, stay.h.his), 404, "admission_not_found")
    intact(app, stay, before)


def test_another_hospital_cannot_touch_or_see_the_admission(app, client, make, stay):
    """H2's key gets 404 for H1's admission_no and its own push of that number is a separate stay."""
    h2 = Hospital(app, client, make, code="H2")
    before = counts(app)
    pushes = [(f"/{stay.no}/charges", {"items": fresh(1)})] + [(f"/{stay.no}/{what}", {}) for what in SIGNALS]
    for path, body in pushes:
        response = post(client, path, body, h2.his)
        refused(response, 404, "admission_not_found")
        assert stay.admission["id"] not in response.get_data(as_text=True)
    intact(app, stay, before)
    own = h2.admit(stay.person, admission_no=stay.no, bed="99")
    assert own["id"] != stay.admission["id"] and own["hospital_id"] != stay.admission["hospital_id"]
    assert (own["charges_total_fen"], own["orders_pending"]) == (0, True)
    mine = stay.h.admit(stay.person, admission_no=stay.no, expect=200)
    assert (mine["id"], mine["bed_no"], mine["status"]) == (stay.admission["id"], "12", "admitted")


@pytest.mark.parametrize("path", ["", "/{no}/charges", "/{no}/orders-complete", "/{no}/discharge-order"])
@pytest.mark.parametrize("key", [None, "Bearer hk_not-a-key", "Basic aGlzOmhpcw==", "resident"])
def test_without_a_valid_key_is_401(app, client, stay, path, key):
    """No key, a wrong key, another scheme or a resident's token: 401 invalid_hospital_key."""
    headers = stay.h.make.login() if key == "resident" else {"Authorization": key} if key else {}
    bodies = {"": admission_body(stay.person, "ZY7777"), "/{no}/charges": {"items": fresh(1)}}
    before = counts(app)
    refused(post(client, path.format(no=stay.no), bodies.get(path, {}), headers), 401, "invalid_hospital_key")
    intact(app, stay, before)


def test_admission_no_of_another_patient_and_second_open_stay_are_409(app, client, stay):
    """Re-pushing an admission_no for someone else: admission_conflict; a second open stay: already_admitted."""
    _, _, other = stay.h.resident()
    before = counts(app)
    refused(post(client, "", admission_body(other, stay.no), stay.h.his), 409, "admission_conflict")
    refused(post(client, "", admission_body(stay.person, "ZY-SECOND"), stay.h.his), 409, "already_admitted")
    intact(app, stay, before)
    assert stay.h.admit(stay.person, admission_no=stay.no, expect=200)["patient_id"] == stay.patient_id


def test_repush_with_a_new_bed_is_an_audited_transfer(app, client, stay):
    """200 with the new bed; one admission.update audit row; the same push again changes nothing."""
    admissions, lines, audits = counts(app)
    moved = post(client, "", admission_body(stay.person, stay.no, bed="21"), stay.h.his)
    assert (moved.status_code, moved.json["id"], moved.json["bed_no"]) == (200, stay.admission["id"], "21")
    assert moved.json["ward"] == "W1病区"  # same ward, no name sent: the known name stays
    assert post(client, "", admission_body(stay.person, stay.no, bed="21"), stay.h.his).status_code == 200
    assert counts(app) == (admissions, lines, audits + 1)
    entry = in_db(app, lambda: db.session.execute(sa.select(
        AuditEntry.actor_type, AuditEntry.actor_id, AuditEntry.action, AuditEntry.patient_id, AuditEntry.resource,
        AuditEntry.detail).order_by(AuditEntry.id.desc())).first())
    assert tuple(entry[:5]) == (
        "hospital", stay.admission["hospital_id"], "admission.update", stay.patient_id, stay.admission["id"])
    assert '"bed": "21"' in entry[5]


def test_transfer_to_another_ward_drops_the_old_ward_name(app, client, stay):
    """Moved to W2 without a ward_name: residents see W2, not the old ward's name."""
    body = {**admission_body(stay.person, stay.no, bed="3"), "ward_code": "W2"}
    moved = post(client, "", body, stay.h.his).json
    assert (moved["ward_code"], moved["ward"], moved["bed_no"]) == ("W2", "W2", "3")


def test_signals_are_idempotent(app, client, stay):
    """orders-complete and discharge-order twice: 200 both times, one change and one audit row each."""
    _, _, audits = counts(app)
    first = [stay.h.signal(stay.no, what) for what in SIGNALS]
    again = stay.h.signal(stay.no, "discharge-order",
                          {"discharge_at": f"{today_local() - timedelta(days=1)}T08:00:00+08:00"})
    assert stay.h.signal(stay.no, "orders-complete")["orders_pending"] is False
    assert (again["status"], again["discharge_at"]) == ("discharge_ordered", first[1]["discharge_at"])
    assert counts(app)[2] == audits + 2


def test_discharge_order_before_admission_is_422(app, client, stay):
    """A discharge time before admitted_at: 422 naming discharge_at; the stay stays admitted."""
    before = counts(app)
    body = {"discharge_at": f"{today_local() - timedelta(days=4)}T09:30:00+08:00"}
    assert list(refused(post(client, f"/{stay.no}/discharge-order", body, stay.h.his), 422,
                        "validation_error")) == ["discharge_at"]
    refused(post(client, f"/{stay.no}/discharge-order", {"when": "now"}, stay.h.his), 422, "validation_error")
    intact(app, stay, before)
    assert stay.h.admit(stay.person, admission_no=stay.no, expect=200)["status"] == "admitted"


def test_concurrent_identical_pushes_store_each_line_once(app, stay):
    """8 threads send the same batch: every answer is 200 and each line is stored once."""
    batch = fresh(6)

    def push(_):
        response = app.test_client().post(f"{HIS}/{stay.no}/charges", json={"items": batch}, headers=stay.h.his)
        return response.status_code, response.json

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(push, range(8)))
    assert [status for status, _ in results] == [200] * 8, results
    assert sum(body["accepted"] for _, body in results) == 6
    assert sum(body["duplicates"] for _, body in results) == 7 * 6
    assert len(stored(app, stay.admission["id"])) == 8


def test_insurance_type_correction_applies_while_open(app, client, stay):
    """HIS corrects self-pay to resident insurance before review: the settlement will price it insured."""
    body = {**admission_body(stay.person, stay.no), "insurance_type": "resident"}
    fixed = post(client, "", body, stay.h.his)
    assert (fixed.status_code, fixed.json["insurance_type"]) == (200, "resident")


def test_two_open_stays_pushed_at_once_store_one(app, make):
    """8 threads push 8 admission numbers for one patient at the same moment: one 201, seven already_admitted."""
    client = app.test_client()
    h = Hospital(app, client, make, code="H3")
    _, patient_id, person = h.resident()

    def push(n):
        response = app.test_client().post("/api/v1/integration/admissions", headers=h.his,
                                          json=admission_body(person, f"ZY-RACE-{n}"))
        return response.status_code, (response.json or {}).get("code")

    with ThreadPoolExecutor(8) as pool:
        answers = sorted(pool.map(push, range(8)), key=str)
    assert answers == [(201, None)] + [(409, "already_admitted")] * 7
    stored = in_db(app, lambda: db.session.scalar(sa.select(sa.func.count()).select_from(Admission)
                                                  .filter_by(patient_id=patient_id)))
    assert stored == 1
