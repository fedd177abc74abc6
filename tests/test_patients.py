"""就诊人: validation, masking, encryption at rest, family links, limits, isolation."""
import sqlalchemy as sa

from patient_api.extensions import db

from .factories import chinese_name, resident_id


def add(client, headers, **body):
    return client.post("/api/v1/me/patients", json=body, headers=headers)


def test_add_patient_masks_personal_data(client, make):
    headers = make.login()
    number = resident_id(7)
    response = add(client, headers, name="张秀英", id_number=number, phone="13800138000", relation="self")
    assert response.status_code == 201
    body = response.json
    assert body["name"] == "张*英" and body["id_number"] == number[:3] + "*" * 11 + number[-4:]
    assert body["phone"] == "138****8000" and body["gender"] in ("male", "female")
    assert body["relation"] == "self" and body["link_status"] == "claimed"
    assert "birth_date" not in body and body["age"] >= 40  # a claim gets the age, never the birth date
    assert client.get("/api/v1/me/patients", headers=headers).json["items"] == [body]


def test_personal_data_is_encrypted_at_rest(app, client, make):
    headers = make.login()
    number = resident_id(8)
    add(client, headers, name="李四", id_number=number, phone="13912345678", relation="self")
    with app.app_context():
        row = db.session.execute(sa.text("SELECT * FROM patients")).mappings().one()
    dump = " ".join(str(v) for v in row.values())
    assert number not in dump and "13912345678" not in dump


def test_invalid_id_number_names_the_field(client, make):
    response = add(client, make.login(), name="王五", id_number="370902196001010010", relation="self")
    assert response.status_code == 422 and response.json["code"] == "validation_error"
    assert "id_number" in response.json["errors"]


def test_invalid_phone_and_relation(client, make):
    headers = make.login()
    response = add(client, headers, name="王五", id_number=resident_id(9), phone="12345", relation="self")
    assert response.status_code == 422 and "phone" in response.json["errors"]
    response = add(client, headers, name="王五", id_number=resident_id(9), relation="boss")
    assert response.status_code == 422 and "relation" in response.json["errors"]


def test_sixth_patient_is_refused(client, make):
    headers = make.login()
    for n in range(100, 105):
        make.patient(headers, n=n)
    response = add(client, headers, name=chinese_name(105), id_number=resident_id(105), relation="child")
    assert response.status_code == 409 and response.json["code"] == "patient_limit_reached"


def test_family_proxy_links_the_same_patient(client, make):
    mother = make.login()
    patient_id = make.patient(mother, n=200)
    son = make.login()
    response = add(client, son, name=chinese_name(200), id_number=resident_id(200), relation="parent")
    assert response.status_code == 201 and response.json["id"] == patient_id
    again = add(client, son, name=chinese_name(200), id_number=resident_id(200), relation="parent")
    assert again.status_code == 409 and again.json["code"] == "patient_already_linked"


def test_a_second_claim_with_another_name_is_a_claim_too(client, make):
    """No name oracle: 201 either way; the link stays claimed and shows only what this account typed."""
    make.patient(make.login(), n=300)
    response = add(client, make.login(), name="冒名", id_number=resident_id(300), relation="other")
    assert response.status_code == 201 and response.json["link_status"] == "claimed"
    assert response.json["name"] == "冒*"


def test_another_accounts_patient_is_invisible(client, make):
    owner = make.login()
    patient_id = make.patient(owner)
    stranger = make.login()
    assert client.get(f"/api/v1/me/patients/{patient_id}", headers=stranger).status_code == 404
    assert client.delete(f"/api/v1/me/patients/{patient_id}", headers=stranger).status_code == 404
    assert client.get(f"/api/v1/me/patients/{patient_id}", headers=owner).status_code == 200


def test_unlink_keeps_other_links(client, make):
    first, second = make.login(), make.login()
    patient_id = make.patient(first, n=400)
    add(client, second, name=chinese_name(400), id_number=resident_id(400), relation="child")
    assert client.delete(f"/api/v1/me/patients/{patient_id}", headers=first).status_code == 204
    assert client.get("/api/v1/me/patients", headers=first).json["items"] == []
    assert client.get(f"/api/v1/me/patients/{patient_id}", headers=second).status_code == 200
