"""`flask demo clinical`: results from three hospitals and an inpatient stay to try the H5 pages with."""
from .factories import chinese_name, resident_id


def run(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_person_gets_reports_then_a_stay_once_registered(app, client, make):
    run(app, "demo", "load", "--days", "1")
    number, name = resident_id(9101), chinese_name(9101)
    assert "skipped: add the patient first" in run(app, "demo", "clinical", "--id-number", number, "--name", name)
    headers = make.login()
    patient_id = make.patient(headers, 9101)
    run(app, "demo", "clinical", "--id-number", number, "--name", name)
    run(app, "demo", "clinical", "--id-number", number, "--name", name)  # a second run changes nothing
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
