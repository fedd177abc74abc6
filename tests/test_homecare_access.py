"""Who sees a home-care order: its requester, its hospital's dispatchers, its assigned nurse; everyone else a 404.
The address is masked except for the assigned nurse from her acceptance until 24 h after check-out."""
import pytest
import sqlalchemy as sa

from patient_api.common.audit import AuditEntry
from patient_api.extensions import db

from .homecare import ADDRESS, Homecare, assert_refused, service_body


def test_other_nurses_other_hospitals_and_other_accounts_get_404(app, client, make):
    care = Homecare(app, client, make)
    other = Homecare(app, client, make, code="H2")
    headers, patient_id = care.resident()
    order = care.request(headers, patient_id)
    path = f"/api/v1/staff/homecare/orders/{order['id']}"

    for staff in (other.dispatcher, other.nurse, other.admin):  # another hospital: it does not exist
        assert_refused(client.get(path, headers=staff), 404, "homecare_order_not_found")
    assert_refused(client.post(f"{path}/assign", json={"nurse_id": other.nurse_id}, headers=other.dispatcher), 404,
                   "homecare_order_not_found")
    assert_refused(client.post(f"{path}/assign", json={"nurse_id": other.nurse_id}, headers=care.dispatcher), 404,
                   "nurse_not_found")  # another hospital's nurse cannot be chosen
    assert other.client.get("/api/v1/staff/homecare/orders", headers=other.dispatcher).json["items"] == []

    second = care.hospital.staff(role="nurse", wards="")
    care.qualify(care.staff_id(second), [care.service["id"]])
    care.assign(order["id"])
    bodies = {"check-in": {}, "record": {"notes": "已换药"}}
    for step in ("accept", "check-in", "record", "check-out", "depart"):  # another nurse of the same hospital
        assert_refused(client.post(f"{path}/{step}", json=bodies.get(step), headers=second), 404,
                       "homecare_order_not_found")
    assert_refused(client.get(path, headers=second), 404, "homecare_order_not_found")
    assert client.get("/api/v1/staff/homecare/orders", headers=second).json["items"] == []
    assert_refused(client.get(f"{path}/shared-record", headers=second), 404, "homecare_order_not_found")

    stranger, stranger_patient = care.resident()
    mine = f"/api/v1/me/homecare/orders/{order['id']}"
    assert_refused(client.get(mine, headers=stranger), 404, "homecare_order_not_found")
    assert_refused(client.post(f"{mine}/cancel", headers=stranger), 404, "homecare_order_not_found")
    assert_refused(client.post(f"{mine}/rating", json={"score": 3}, headers=stranger), 404,
                   "homecare_order_not_found")
    assert client.get("/api/v1/me/homecare/orders", headers=stranger).json["items"] == []
    with app.app_context():
        denied = db.session.scalars(sa.select(AuditEntry.action).where(
            AuditEntry.action == "homecare.access_denied", AuditEntry.resource == order["id"])).all()
    assert len(denied) >= 4  # refused looks by staff are on record


def test_roles(app, client, make):
    care = Homecare(app, client, make)
    cashier = care.hospital.staff(role="cashier", wards="")
    headers, patient_id = care.resident()
    order = care.request(headers, patient_id)
    assert_refused(client.get("/api/v1/staff/homecare/orders", headers=cashier), 403, "role_forbidden")
    assert_refused(client.post(f"/api/v1/staff/homecare/orders/{order['id']}/assign",
                               json={"nurse_id": care.nurse_id}, headers=care.nurse), 403, "role_forbidden")
    assert_refused(client.post("/api/v1/staff/homecare/services", json=service_body(code="X1"),
                               headers=care.dispatcher), 403,
                   "role_forbidden")
    assert_refused(client.put(f"/api/v1/staff/homecare/nurses/{care.nurse_id}/qualifications",
                              json={"service_ids": []}, headers=care.dispatcher), 403, "role_forbidden")
    assert_refused(client.get("/api/v1/staff/homecare/alerts", headers=care.nurse), 403, "role_forbidden")
    assert client.get("/api/v1/staff/homecare/orders", headers=care.admin).status_code == 200
    assert client.get("/api/v1/staff/homecare/orders").status_code == 401
    assert client.get("/api/v1/me/homecare/orders").status_code == 401
    result = app.test_cli_runner().invoke(args=["staff", "create", "--hospital", "H1", "--username", "disp-cli",
                                                "--password", "ward-A-2026-secure", "--role", "dispatcher"])
    assert result.exit_code == 0 and "created dispatcher disp-cli" in result.output, result.output


def test_address_masked_outside_the_nurses_window(app, client, make, monkeypatch):
    care = Homecare(app, client, make)
    headers, patient_id = care.resident()
    order = care.request(headers, patient_id)
    path = f"/api/v1/staff/homecare/orders/{order['id']}"
    care.assign(order["id"])
    assert client.get(path, headers=care.nurse).json["address"] == "泰安市泰山区****"  # assigned, not accepted
    care.staff_post(care.nurse, order["id"], "accept")
    assert client.get(path, headers=care.nurse).json["address"] == ADDRESS
    assert client.get(path, headers=care.dispatcher).json["address"] == "泰安市泰山区****"
    assert client.get(path, headers=care.admin).json["address"] == "泰安市泰山区****"
    assert client.get(f"/api/v1/me/homecare/orders/{order['id']}", headers=headers).json["address"].endswith("****")
    care.staff_post(care.nurse, order["id"], "check-in", {})
    care.staff_post(care.nurse, order["id"], "record", {"notes": "已换药"})
    care.staff_post(care.nurse, order["id"], "check-out")
    assert client.get(path, headers=care.nurse).json["address"] == ADDRESS  # within 24 h of check-out
    monkeypatch.setitem(app.config, "HOMECARE_ADDRESS_HOURS", 0)  # as if 24 h had passed
    after = client.get(path, headers=care.nurse).json
    assert after["address"] == "泰安市泰山区****" and after["address_visible"] is False
    assert_refused(client.get(f"{path}/shared-record", headers=care.nurse), 404, "shared_record_not_found")


def test_a_cancelled_order_masks_the_address_again(app, client, make):
    care = Homecare(app, client, make)
    headers, patient_id = care.resident()
    order = care.accepted(headers, patient_id)
    assert order["address"] == ADDRESS
    assert client.post(f"/api/v1/me/homecare/orders/{order['id']}/cancel", headers=headers).status_code == 200
    after = client.get(f"/api/v1/staff/homecare/orders/{order['id']}", headers=care.nurse).json
    assert after["status"] == "cancelled" and after["address"].endswith("****")


def test_alerts_of_another_hospital_are_404(app, client, make):
    from patient_api.homecare import requests as homecare_requests

    care = Homecare(app, client, make)
    other = Homecare(app, client, make, code="H2")
    headers, patient_id = care.resident()
    order = care.in_visit(headers, patient_id)
    care.staff_post(care.nurse, order["id"], "record", {"notes": "已换药"})
    care.staff_post(care.nurse, order["id"], "check-out")
    with app.app_context():
        account_id = db.session.execute(sa.text("SELECT account_id FROM homecare_orders")).scalar_one()
        homecare_requests.complain(account_id, order["id"], "护士态度不好，需要改进")
        db.session.commit()
    alert = client.get("/api/v1/staff/homecare/alerts", headers=care.dispatcher).json["items"][0]
    assert client.get("/api/v1/staff/homecare/alerts", headers=other.dispatcher).json["items"] == []
    assert_refused(client.post(f"/api/v1/staff/homecare/alerts/{alert['id']}/acknowledge", headers=other.dispatcher),
                   404, "alert_not_found")
    done = client.post(f"/api/v1/staff/homecare/alerts/{alert['id']}/acknowledge", headers=care.dispatcher).json
    assert done["acknowledged_at"] and done["acknowledged_by"] == care.staff_id(care.dispatcher)
    assert client.get("/api/v1/staff/homecare/alerts?open=true", headers=care.dispatcher).json["items"] == []


def test_a_proxy_whose_link_is_revoked_no_longer_sees_its_request(app, client, make):
    care = Homecare(app, client, make)
    own_headers, patient_id, person = care.hospital.resident()
    proxy = make.login()
    assert make.patient(proxy, id_number=person["id_number"], name=person["name"], relation="child") == patient_id
    links = client.get(f"/api/v1/me/patients/{patient_id}/links", headers=own_headers).json["items"]
    link_id = next(link["id"] for link in links if link["relation"] == "child")
    base = f"/api/v1/me/patients/{patient_id}/links/{link_id}"
    assert client.post(f"{base}/approve", headers=own_headers).status_code == 200
    order = care.request(proxy, patient_id)
    assert client.get(f"/api/v1/me/homecare/orders/{order['id']}", headers=own_headers).status_code == 404
    assert client.post(f"{base}/revoke", headers=own_headers).status_code == 200
    assert_refused(client.get(f"/api/v1/me/homecare/orders/{order['id']}", headers=proxy), 404,
                   "homecare_order_not_found")
    assert client.get("/api/v1/me/homecare/orders", headers=proxy).json["items"] == []


@pytest.mark.parametrize("address, masked", [
    ("泰安市泰山区龙潭路29号阳光小区3号楼", "泰安市泰山区****"),
    ("山东省泰安市岱岳区粥店街道", "山东省泰安市岱岳区****"),
    ("龙潭路29号阳光小区3号楼", "龙潭路****"),  # no district first: never the number (nor a 小区 after it)
    ("新泰市青云街道府前街100号", "新泰市青****"),
    ("1号楼", "****"),
])
def test_masked_addresses_keep_the_district_at_most(address, masked):
    from patient_api.homecare.views import mask_address
    assert mask_address(address) == masked
