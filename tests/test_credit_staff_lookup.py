"""收费窗口 for 先诊疗后付费: the cashier finds the patient by the ID card read at the counter (only patients of the
hospital, rate-limited, audited, never storing the number), pre-settles and settles the amount confirmed on screen."""
import pytest
import sqlalchemy as sa

from patient_api.billing.presettlement import InsuredAccount
from patient_api.common.audit import AuditEntry
from patient_api.common.clock import now
from patient_api.credit.models import CreditBill, CreditSettlement
from patient_api.extensions import db

from .credit import World, check_books
from .factories import freeze_rate_window, resident_id
from .test_chinese_errors import assert_chinese

LOOKUP = "/api/v1/staff/credit/lookup"
GOOD = resident_id(5)
WRONG_CHECK_DIGIT = GOOD[:-1] + ("1" if GOOD[-1] != "1" else "2")


@pytest.fixture
def world(app, client, make):
    return World(app, client, make)


def staff_path(patient_id, tail=""):
    return f"/api/v1/staff/credit/patients/{patient_id}{tail}"


def lookup(client, headers, number):
    return client.post(LOOKUP, headers=headers, json={"id_number": number})


def audit_rows(app):
    with app.app_context():
        return [(row.action, row.patient_id, row.detail or "") for row in
                db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))]


def test_a_cashier_or_admin_finds_the_patient_masked_and_the_look_is_audited(app, client, world):
    _, patient_id, person = world.enrolled()
    world.bill(person, 2500)
    for role in ("cashier", "admin"):
        found = lookup(client, world.cashier(role), person["id_number"])
        assert found.status_code == 200, found.json
        assert found.json["patient_id"] == patient_id
        assert found.json["name"] != person["name"] and found.json["name"][0] == person["name"][0]
        assert "*" in found.json["name"] and found.json["id_number"].count("*") == 11
        assert person["id_number"] not in found.text
    rows = [row for row in audit_rows(app) if row[0] == "credit.lookup"]
    assert [row[1] for row in rows] == [patient_id, patient_id]
    assert not any(person["id_number"] in row[2] for row in audit_rows(app))
    # A patient with credit opened here but no bill yet is the hospital's too; the reader's spaces do not matter.
    _, other_id, other = world.enrolled()
    spaced = f"{other['id_number'][:6]} {other['id_number'][6:14]} {other['id_number'][14:]}"
    assert lookup(client, world.cashier(), spaced).json["patient_id"] == other_id


def test_other_hospitals_nurses_and_unknown_numbers_are_refused_alike(app, client, world, make):
    _, patient_id, person = world.enrolled()
    world.bill(person, 2500)
    nurse = world.staff(role="nurse")
    refused = lookup(client, nurse, person["id_number"])
    assert refused.status_code == 403 and refused.json["code"] == "role_forbidden"
    assert lookup(client, {}, person["id_number"]).status_code == 401
    elsewhere = World(app, client, make, code="H2").cashier()
    other_hospital = lookup(client, elsewhere, person["id_number"])
    unknown = lookup(client, elsewhere, resident_id(999_001))
    _, stranger_id, stranger = world.resident()  # registered, never billed or enrolled here
    not_here = lookup(client, world.cashier(), stranger["id_number"])
    for answer in (other_hospital, unknown, not_here):
        assert answer.status_code == 404
        assert answer.json == {"code": "patient_not_found", "message": "未找到该就诊人"}
    denied = [row[1] for row in audit_rows(app) if row[0] == "credit.lookup_not_found"]
    assert denied == [patient_id, None, stranger_id]  # kept although the answers were errors
    assert not any(row[0] == "credit.lookup" for row in audit_rows(app))


@pytest.mark.parametrize("body, field", [
    ({"id_number": WRONG_CHECK_DIGIT}, "id_number"),
    ({"id_number": GOOD[:-1]}, "id_number"),  # 17 characters
    ({"id_number": resident_id(6, born="20990101")}, "id_number"),  # born in the future
    ({"id_number": resident_id(7, region="999999")}, "id_number"),  # no such county
    ({"id_number": int(GOOD[:-1])}, "id_number"),
    ({"id_number": "3" * 40}, "id_number"),
    ({}, "id_number"),
    ({"id_number": GOOD, "name": "张三"}, "name"),
])
def test_bad_input_is_a_chinese_422_with_a_code_and_nothing_is_stored(app, client, world, body, field):
    cashier = world.cashier()
    before = audit_rows(app)
    answer = client.post(LOOKUP, headers=cashier, json=body)
    assert_chinese(answer)
    assert answer.json["code"] in ("invalid_id_number", "validation_error") and field in answer.json["errors"]
    assert audit_rows(app) == before


def test_a_bad_check_digit_names_its_own_code(client, world):
    answer = lookup(client, world.cashier(), WRONG_CHECK_DIGIT)
    assert answer.status_code == 422 and answer.json["code"] == "invalid_id_number"
    assert answer.json["errors"] == {"id_number": ["身份证号校验位不正确"]}


def test_lookups_are_rate_limited_per_staff_member(app, client, world, monkeypatch):
    monkeypatch.setitem(app.config, "CREDIT_LOOKUP_LIMIT", 3)
    freeze_rate_window(monkeypatch)
    _, patient_id, person = world.enrolled()
    cashier, colleague = world.cashier(), world.cashier()
    answers = [lookup(client, cashier, number) for number in
               (person["id_number"], resident_id(999_002), person["id_number"], person["id_number"])]
    assert [a.status_code for a in answers] == [200, 404, 200, 429]
    assert answers[-1].json["code"] == "rate_limited" and int(answers[-1].headers["Retry-After"]) >= 1
    assert lookup(client, colleague, person["id_number"]).json["patient_id"] == patient_id


def insured(app, patient_id):
    with app.app_context():
        db.session.add(InsuredAccount(patient_id=patient_id, insurance_type="employee", year=now().year,
                                      account_balance_fen=0))
        db.session.commit()


def test_the_window_pre_settles_and_settles_only_the_amount_confirmed(app, client, world):
    headers, patient_id, person = world.resident()
    insured(app, patient_id)
    world.enrol(headers, patient_id, world.hospital_id)
    bills = [world.bill(person, 60_000, insurance_type="employee"),
             world.bill(person, 60_000, insurance_type="employee"), world.bill(person, 30_000)]  # the last self-paid
    cashier = world.cashier()
    quote = client.post(staff_path(patient_id, "/pre-settlement"), headers=cashier)
    assert quote.status_code == 200, quote.json
    figures = quote.json
    assert figures["bill_ids"] == [bill["id"] for bill in bills] and figures["settlement_id"] is None
    assert figures["total_fen"] == 150_000 and 30_000 <= figures["self_pay_fen"] < 150_000
    assert figures["insurance_fund_fen"] + figures["personal_account_fen"] + figures["self_pay_fen"] == 150_000
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CreditSettlement)) == 0  # a quote only

    wrong = client.post(staff_path(patient_id, "/settlements"), headers=cashier,
                        json={"self_pay_fen": figures["self_pay_fen"] + 1})
    assert wrong.status_code == 409 and wrong.json["code"] == "credit_amount_changed"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CreditSettlement)) == 0
        assert set(db.session.scalars(sa.select(CreditBill.status))) == {"open"}
    refused = [row for row in audit_rows(app) if row[0] == "credit.settle_refused"]
    assert len(refused) == 1 and str(figures["self_pay_fen"] + 1) in refused[0][2]

    paid = client.post(staff_path(patient_id, "/settlements"), headers=cashier,
                       json={"self_pay_fen": figures["self_pay_fen"]})
    assert paid.status_code == 201, paid.json
    assert (paid.json["status"], paid.json["method"]) == ("paid", "counter")
    assert {k: paid.json[k] for k in ("total_fen", "insurance_fund_fen", "personal_account_fen", "self_pay_fen")} \
        == {k: figures[k] for k in ("total_fen", "insurance_fund_fen", "personal_account_fen", "self_pay_fen")}
    nothing = client.post(staff_path(patient_id, "/pre-settlement"), headers=cashier)
    assert nothing.status_code == 409 and nothing.json["code"] == "credit_nothing_to_settle"
    assert {"credit.presettle", "credit.settle_counter"} <= {row[0] for row in audit_rows(app)}
    check_books(app)


def test_the_quote_prices_a_waiting_settlement_again_with_later_bills(app, client, world):
    _, patient_id, person = world.enrolled()
    world.bill(person, 1000)
    with app.app_context():
        from patient_api.credit.settlement import open_settlement
        waiting = open_settlement(patient_id, world.hospital_id, trigger="day_end")
        waiting_id = waiting.id
        db.session.commit()
    cashier = world.cashier()
    alone = client.post(staff_path(patient_id, "/pre-settlement"), headers=cashier).json
    assert (alone["settlement_id"], alone["total_fen"], alone["bill_count"]) == (waiting_id, 1000, 1)
    world.bill(person, 2000)
    quote = client.post(staff_path(patient_id, "/pre-settlement"), headers=cashier).json
    assert (quote["settlement_id"], quote["total_fen"], quote["self_pay_fen"], quote["bill_count"]) \
        == (None, 3000, 3000, 2)
    paid = client.post(staff_path(patient_id, "/settlements"), headers=cashier, json={"self_pay_fen": 3000})
    assert paid.status_code == 201 and paid.json["bill_ids"] == quote["bill_ids"]
    check_books(app)


def test_nurses_and_other_hospitals_cannot_pre_settle(app, client, world, make):
    _, patient_id, person = world.enrolled()
    world.bill(person, 1000)
    nurse = client.post(staff_path(patient_id, "/pre-settlement"), headers=world.staff(role="nurse"))
    assert nurse.status_code == 403 and nurse.json["code"] == "role_forbidden"
    elsewhere = World(app, client, make, code="H2").cashier()
    assert client.post(staff_path(patient_id, "/pre-settlement"), headers=elsewhere).status_code == 404
    assert_chinese(client.post(staff_path(patient_id, "/settlements"), headers=world.cashier(),
                               json={"self_pay_fen": "1000"}))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CreditSettlement)) == 0


def test_the_window_reads_who_the_patient_is_and_this_hospitals_suspension(app, client, world):
    _, patient_id, person = world.enrolled()
    world.bill(person, 1000)
    cashier = world.cashier()
    seen = client.get(staff_path(patient_id), headers=cashier).json
    found = lookup(client, cashier, person["id_number"]).json
    assert seen["patient"] == {k: found[k] for k in ("name", "id_number", "gender")}
    assert seen["suspension"] is None and person["id_number"] not in str(seen)
    suspended = client.post(staff_path(patient_id, "/suspension"), headers=cashier, json={"note": "多次欠费未结"})
    assert suspended.status_code == 201
    seen = client.get(staff_path(patient_id), headers=cashier).json
    assert seen["suspended"] is True and seen["suspension"]["note"] == "多次欠费未结"
    assert seen["suspension"]["created_by"].startswith("staff")
    assert client.delete(staff_path(patient_id, "/suspension"), headers=cashier).status_code == 200
    assert client.get(staff_path(patient_id), headers=cashier).json["suspension"] is None
