"""`flask demo clinical`: results from three hospitals, an insured bill and an inpatient stay to try the apps with."""
import json

from .factories import chinese_name, resident_id


def run(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_person_gets_reports_a_stay_and_a_phone_to_verify_with(app, client, make):
    run(app, "demo", "load", "--days", "1")
    number, name = resident_id(9101), chinese_name(9101)
    output = run(app, "demo", "clinical", "--id-number", number, "--name", name)
    assert "138****8000" in output and "adm_" in output  # the hospital's admission registers the person
    run(app, "demo", "clinical", "--id-number", number, "--name", name)  # a second run changes nothing
    headers = make.login()
    patient_id = make.patient(headers, 9101)
    assert client.get("/api/v1/admissions", headers=headers).json["code"] == "verification_required"
    assert make.verify(headers, patient_id, phone="13800138000")["link_status"] == "verified"
    reports = client.get(f"/api/v1/reports?patient_id={patient_id}", headers=headers).json["items"]
    assert sorted(r["kind"] for r in reports) == ["imaging", "inpatient", "lab"]
    assert len({r["hospital_id"] for r in reports}) == 3
    assert [r["abnormal_count"] for r in reports if r["kind"] == "lab"] == [2]
    stays = client.get("/api/v1/admissions", headers=headers).json["items"]
    assert [(s["ward"], s["bed_no"], s["charges_total_fen"]) for s in stays] == [
        ("心内科一病区", "12", 3 * 27380 + 50000)]  # three days and the procedure


def test_demo_clinical_explains_what_is_missing(app):
    result = app.test_cli_runner().invoke(args=["demo", "clinical", "--id-number", resident_id(9102), "--name", "张三"])
    assert result.exit_code != 0 and "demo load" in result.output
    result = app.test_cli_runner().invoke(args=["demo", "clinical", "--id-number", "123", "--name", "张三"])
    assert result.exit_code != 0 and "18" in result.output


def test_the_demo_shows_an_insurance_split_outpatient_and_inpatient(app, client, make):
    from .factories import hospital_key
    from .inpatient import PASSWORD
    run(app, "demo", "load", "--days", "1")
    run(app, "demo", "clinical", "--id-number", resident_id(9103), "--name", chinese_name(9103))
    done = json.loads(run(app, "demo", "clinical", "--id-number", resident_id(9103), "--name", chinese_name(9103)))
    headers = make.login()
    make.verify(headers, make.patient(headers, 9103), phone="13800138000")
    [bill] = client.get("/api/v1/bills", headers=headers).json["items"]
    assert (bill["id"], bill["kind"], bill["department_name"]) == (done["outpatient_bill"], "outpatient", "心血管内科")
    split = client.post(f"/api/v1/bills/{bill['id']}/pre-settlement", headers=headers).json
    assert split["insurance_fund_fen"] > 0 and split["personal_account_fen"] > 0 and split["self_pay_fen"] > 0
    assert split["insurance_fund_fen"] + split["personal_account_fen"] + split["self_pay_fen"] == bill["total_fen"]

    hospital_key(app, "TAZXYY")
    created = app.test_cli_runner().invoke(args=["staff", "create", "--hospital", "TAZXYY", "--username", "demo-nurse",
                                                 "--password", PASSWORD, "--role", "nurse", "--wards", "XNK1"])
    assert created.exit_code == 0, created.output
    token = client.post("/api/v1/staff/auth/login", json={"username": "demo-nurse", "password": PASSWORD}).json
    stay = client.post(f"/api/v1/staff/admissions/{done['admission']}/pre-settlement",
                       headers={"Authorization": f"Bearer {token['token']}"}).json
    assert stay["insurance_fund_fen"] > 0 and stay["total_fen"] == 3 * 27380 + 50000
