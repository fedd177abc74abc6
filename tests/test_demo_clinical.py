"""`flask demo clinical`: results from three hospitals and an inpatient stay to try the H5 pages with."""
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
    assert [(s["ward"], s["bed_no"], s["charges_total_fen"]) for s in stays] == [("心内科一病区", "12", 3 * 27380)]


def test_demo_clinical_explains_what_is_missing(app):
    result = app.test_cli_runner().invoke(args=["demo", "clinical", "--id-number", resident_id(9102), "--name", "张三"])
    assert result.exit_code != 0 and "demo load" in result.output
    result = app.test_cli_runner().invoke(args=["demo", "clinical", "--id-number", "123", "--name", "张三"])
    assert result.exit_code != 0 and "18" in result.output
