"""Bills pushed by HIS: hospital keys, idempotent by order_no, void, bad pushes, resident view."""
import pytest
import sqlalchemy as sa

from patient_api.billing import ledger
from patient_api.billing.models import Bill
from patient_api.extensions import db

from .factories import hospital_key
from .sqlcount import statements

PUSH = "/api/v1/integration/bills"


def his_bill(id_number, order_no="MZ20261122001", **extra):
    body = {"order_no": order_no, "patient": {"id_number": id_number}, "department": "内科", "doctor": "王建国",
            "items": [{"code": "Y001", "name": "阿莫西林胶囊", "category": "西药", "quantity": 2,
                       "unit_price_fen": 1550, "insurance_class": "甲"},
                      {"code": "J001", "name": "血常规", "category": "检验", "quantity": 1,
                       "unit_price_fen": 2000, "insurance_class": "乙"}]}
    body.update(extra)
    return body


@pytest.fixture
def resident(app, client, make):
    headers, patient_id = make.resident(verified=True)
    with app.app_context():
        from patient_api.accounts.models import Patient
        number = db.session.get(Patient, patient_id).id_number
    return headers, patient_id, number


def test_push_is_idempotent_by_order_no(app, client, resident):
    key = hospital_key(app)
    headers, patient_id, number = resident
    first = client.post(PUSH, json=his_bill(number), headers=key)
    assert first.status_code == 201
    bill = first.json
    assert (bill["kind"], bill["status"], bill["total_fen"], bill["patient_id"]) == ("outpatient", "unpaid", 5100,
                                                                                      patient_id)
    again = client.post(PUSH, json=his_bill(number), headers=key)
    assert again.status_code == 201 and again.json["id"] == bill["id"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Bill)) == 1
        assert ledger.balances(bill["id"]) == {"resident": 5100, "hospital_receivable": -5100}
    mine = client.get("/api/v1/bills", headers=headers, query_string={"status": "unpaid"}).json["items"]
    assert [b["id"] for b in mine] == [bill["id"]] and mine[0]["items"][0]["amount_fen"] == 3100


def test_void_unpaid_bill_closes_it_in_the_ledger(app, client, resident):
    key = hospital_key(app)
    bill = client.post(PUSH, json=his_bill(resident[2]), headers=key).json
    voided = client.post(f"{PUSH}/{bill['order_no']}/void", headers=key)
    assert voided.status_code == 200 and voided.json["status"] == "closed"
    with app.app_context():
        assert ledger.derived_status(bill["id"]) == "closed"
        assert sum(ledger.balances(bill["id"]).values()) == 0
    assert client.post(f"{PUSH}/{bill['order_no']}/void", headers=key).json["status"] == "closed"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer hk_wrong"}])
def test_hospital_key_required(client, headers):
    response = client.post(PUSH, json=his_bill("x"), headers=headers)
    assert response.status_code == 401 and response.json["code"] == "invalid_hospital_key"


def test_reissued_key_replaces_the_old_one(app, client, resident):
    old = hospital_key(app)
    new = hospital_key(app)
    assert client.post(PUSH, json=his_bill(resident[2]), headers=old).status_code == 401
    assert client.post(PUSH, json=his_bill(resident[2]), headers=new).status_code == 201


def test_another_hospital_cannot_void(app, client, resident):
    bill = client.post(PUSH, json=his_bill(resident[2]), headers=hospital_key(app, "H1")).json
    response = client.post(f"{PUSH}/{bill['order_no']}/void", headers=hospital_key(app, "H2"))
    assert response.status_code == 404


@pytest.mark.parametrize("change, field", [
    ({"items": []}, "items"),
    ({"items": [{"code": "A", "name": "x", "category": "c", "quantity": -1, "unit_price_fen": 100}]}, "items"),
    ({"items": [{"code": "A", "name": "x", "category": "c", "quantity": 1, "unit_price_fen": -5}]}, "items"),
    ({"items": [{"code": "A", "name": "x", "category": "c", "quantity": 1.5, "unit_price_fen": 5}]}, "items"),
    ({"items": [{"code": "A", "name": "x", "category": "c", "quantity": 1, "unit_price_fen": 5,
                 "insurance_class": "丁"}]}, "items"),
    ({"patient": {}}, "patient"),
    ({"insurance_type": "vip"}, "insurance_type"),
    ({"items": [{"code": "A", "name": "x", "category": "c", "quantity": 100_000, "unit_price_fen": 100_000_000}]},
     "items"),
])
def test_bad_pushes_store_nothing(app, client, resident, change, field):
    response = client.post(PUSH, json={**his_bill(resident[2]), **change}, headers=hospital_key(app))
    assert response.status_code == 422 and field in response.json["errors"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Bill)) == 0


def test_unknown_patient_is_422(app, client):
    from .factories import resident_id
    response = client.post(PUSH, json=his_bill(resident_id(999)), headers=hospital_key(app))
    assert response.status_code == 422 and response.json["code"] == "unknown_patient"


def test_residents_see_only_their_bills(app, client, resident, make):
    bill = client.post(PUSH, json=his_bill(resident[2]), headers=hospital_key(app)).json
    stranger, _ = make.resident()
    assert client.get(f"/api/v1/bills/{bill['id']}", headers=stranger).status_code == 404
    assert client.get("/api/v1/bills", headers=stranger).json["items"] == []
    assert client.get(f"/api/v1/bills/{bill['id']}", headers=resident[0]).json["total_fen"] == 5100


def test_a_ledger_post_happens_once_in_one_statement_and_a_missing_bill_is_an_error(app, client, resident):
    """(kind, source_id) posts once (a replay returns False and writes nothing); the row goes in with one INSERT …
    ON CONFLICT, no savepoint; a post naming no bill fails loudly instead of passing for "posted already"."""
    from sqlalchemy.exc import IntegrityError
    bill = client.post(PUSH, json=his_bill(resident[2]), headers=hospital_key(app)).json
    legs = {"resident": -100, "counter_cash": 100}
    with app.app_context():
        with statements(db.engine) as sent:
            assert ledger.post("test_once", "SRC-1", bill["id"], legs) is True
            assert ledger.post("test_once", "SRC-1", bill["id"], legs) is False
            db.session.commit()
        assert not [sql for sql in sent if "SAVEPOINT" in sql]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ledger.LedgerTransaction)
                                 .filter_by(kind="test_once")) == 1
        assert ledger.balances(bill["id"]) == {"resident": 5000, "hospital_receivable": -5100, "counter_cash": 100}
        with pytest.raises(IntegrityError):
            ledger.post("test_once", "SRC-2", "bil_no_such_bill", legs)
        db.session.rollback()
