"""Code limits: five tries per code (atomic under parallel guessing), resend after 60 s, hourly caps, expiry."""
import threading
from collections import Counter
from datetime import timedelta

import sqlalchemy as sa

from patient_api.accounts.models import PatientLink
from patient_api.accounts.proofs import VerificationCode
from patient_api.extensions import db

from .inpatient import in_db

# 10,000 guesses on PostgreSQL, where the threads really race on the code row; SQLite serialises every writer, so
# more than 2,000 there would prove nothing more.
GUESSES = {"postgresql": 10_000, "sqlite": 2_000}
THREADS = 16


def start(client, headers, patient_id):
    return client.post(f"/api/v1/me/patients/{patient_id}/verification", json={"method": "sms"}, headers=headers)


def confirm(client, headers, patient_id, **body):
    return client.post(f"/api/v1/me/patients/{patient_id}/verification/confirm", json=body, headers=headers)


def age_codes(app, seconds):
    """Pretend the codes sent so far were sent `seconds` earlier."""
    with app.app_context():
        for row in db.session.scalars(sa.select(VerificationCode)):
            row.created_at -= timedelta(seconds=seconds)
        db.session.commit()


def test_ten_thousand_parallel_guesses_verify_nothing(app, client, make, monkeypatch):
    with app.app_context():
        count = GUESSES[db.engine.dialect.name]
    monkeypatch.setitem(app.config, "VERIFY_ATTEMPT_LIMIT", 10 * count)  # only the per-code limit is tested here
    headers, patient_id = make.resident()
    phone = make.phone_on_file(patient_id)
    assert start(client, headers, patient_id).status_code == 202
    real = make.sms_code(phone)
    guesses = [f"{(int(real) + k) % 1_000_000:06d}" for k in range(1, count + 1)]  # every one wrong
    outcomes, lock = Counter(), threading.Lock()

    def guess(share):
        local, own_client = Counter(), app.test_client()
        for code in share:
            answer = confirm(own_client, headers, patient_id, code=code)
            local[(answer.status_code, answer.json["code"] if answer.status_code != 200 else "ok")] += 1
        with lock:
            outcomes.update(local)
    threads = [threading.Thread(target=guess, args=(guesses[i::THREADS],)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == {(422, "code_invalid"): 5, (429, "rate_limited"): count - 5}
    assert in_db(app, lambda: db.session.scalars(sa.select(VerificationCode.attempts)).one()) == 5
    assert confirm(client, headers, patient_id, code=real).status_code == 429  # the burnt code is dead, even right
    assert in_db(app, lambda: db.session.scalars(sa.select(PatientLink.status)).one()) == "claimed"


def test_five_wrong_codes_then_429_and_a_new_code_starts_over(app, client, make):
    headers, patient_id = make.resident()
    phone = make.phone_on_file(patient_id)
    start(client, headers, patient_id)
    messages = [confirm(client, headers, patient_id, code="000000").json for _ in range(5)]
    assert [m["code"] for m in messages] == ["code_invalid"] * 5
    assert [m["message"] for m in messages[:4]] == [f"验证码不正确，还可尝试{n}次" for n in (4, 3, 2, 1)]
    sixth = confirm(client, headers, patient_id, code="000000")
    assert sixth.status_code == 429 and int(sixth.headers["Retry-After"]) > 0
    age_codes(app, 61)
    assert start(client, headers, patient_id).status_code == 202
    assert confirm(client, headers, patient_id, code=make.sms_code(phone)).json["link_status"] == "verified"


def test_resend_waits_60_seconds_and_an_old_code_dies_with_a_new_one(app, client, make):
    headers, patient_id = make.resident()
    phone = make.phone_on_file(patient_id)
    assert start(client, headers, patient_id).status_code == 202
    first = make.sms_code(phone)
    early = start(client, headers, patient_id)
    assert early.status_code == 429 and 0 < int(early.headers["Retry-After"]) <= 60
    age_codes(app, 61)
    assert start(client, headers, patient_id).status_code == 202
    second = make.sms_code(phone)
    if first != second:
        assert confirm(client, headers, patient_id, code=first).json["code"] == "code_invalid"
    assert confirm(client, headers, patient_id, code=second).status_code == 200


def test_an_expired_code_is_409_and_the_phone_gets_five_codes_an_hour(app, client, make):
    headers, patient_id = make.resident()
    phone = make.phone_on_file(patient_id)
    start(client, headers, patient_id)
    code = make.sms_code(phone)
    with app.app_context():
        for row in db.session.scalars(sa.select(VerificationCode)):
            row.expires_at = row.created_at
        db.session.commit()
    assert confirm(client, headers, patient_id, code=code).json["code"] == "code_expired"
    for _ in range(4):
        age_codes(app, 61)
        assert start(client, headers, patient_id).status_code == 202
    age_codes(app, 61)
    capped = start(client, headers, patient_id)
    assert capped.status_code == 429 and int(capped.headers["Retry-After"]) == 3600
    other = make.login()  # another account on the same person and phone is capped too
    other_patient = client.post("/api/v1/me/patients", headers=other, json={
        "name": "某人", "id_number": in_db(app, lambda: db.session.get(PatientLink, db.session.scalars(
            sa.select(PatientLink.id)).first()).patient.id_number), "relation": "other"}).json["id"]
    assert start(client, other, other_patient).status_code == 429


def test_adding_patients_is_rate_limited_per_account(app, client, make, monkeypatch):
    from .factories import freeze_rate_window
    freeze_rate_window(monkeypatch)
    headers = make.login()
    for _ in range(app.config["ADD_PATIENT_LIMIT"]):
        patient_id = make.patient(headers)
        assert client.delete(f"/api/v1/me/patients/{patient_id}", headers=headers).status_code == 204
    refused = client.post("/api/v1/me/patients", headers=headers, json={
        "name": "张三", "id_number": "11010519491231002X", "relation": "self"})
    assert refused.status_code == 429 and refused.json["code"] == "rate_limited" and "Retry-After" in refused.headers


def test_wrong_binding_codes_lock_the_link_until_a_new_code_is_issued(app, client, make):
    from patient_api.accounts.verification import issue_binding_code
    headers, patient_id = make.resident()
    answers = [confirm(client, headers, patient_id, binding_code="12345678").status_code for _ in range(6)]
    assert answers == [422] * 5 + [429]
    with app.app_context():
        person = db.session.get(PatientLink, db.session.scalars(sa.select(PatientLink.id)).one()).patient
        code, _ = issue_binding_code(person.id_number_index, person.name, "staff", "stf_test")
        db.session.commit()
    assert confirm(client, headers, patient_id, binding_code=code).json["link_status"] == "verified"
