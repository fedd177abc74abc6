"""Ward staff see the results of the patients in their own beds, from every hospital, and every read is logged."""
from patient_api.results.matching import index_for_id_number

from .inpatient import Hospital
from .test_results_api import World


def test_ward_staff_read_their_inpatients_results_only(app, client, make):
    world, h = World(app, client, make), Hospital(app, client, make)
    _, _, person = h.resident()
    admission = h.admit(person, ward="W1")
    other_ward = h.admit(h.resident()[2], ward="W2")
    with app.app_context():
        index = index_for_id_number(person["id_number"])
    report_id = world.report(index, "LAB-W1", hospital="H2")  # another hospital's result: 互认 across the city
    nurse = h.staff(wards="W1")
    url = f"/api/v1/staff/admissions/{admission['id']}/reports"
    listed = client.get(url, headers=nurse).json["items"]
    assert [r["id"] for r in listed] == [report_id]
    assert client.get(f"{url}/{report_id}", headers=nurse).json["items"][0]["name"] == "血红蛋白"
    assert client.get(f"/api/v1/staff/admissions/{other_ward['id']}/reports", headers=nurse).status_code == 404
    assert client.get(f"/api/v1/staff/admissions/{other_ward['id']}/reports/{report_id}",
                      headers=nurse).status_code == 404
    assert client.get(f"{url}?limit=0").status_code == 401  # no session: 401 before the query is read
    logged = [(row[0], row[2], row[4]) for row in world.log()]
    assert logged == [("staff", "nurse_station", "report_list"), ("staff", "nurse_station", "report")]


def test_the_residents_access_log_names_the_staff_role_not_the_login(app, client, make):
    world, h = World(app, client, make), Hospital(app, client, make)
    headers, patient_id, person = h.resident()
    admission = h.admit(person, ward="W1")
    with app.app_context():
        index = index_for_id_number(person["id_number"])
    report_id = world.report(index, "LAB-W9")
    nurse = h.staff(wards="W1", username="li.xiaohong")
    assert client.get(f"/api/v1/staff/admissions/{admission['id']}/reports/{report_id}", headers=nurse).status_code \
        == 200
    log = client.get(f"/api/v1/patients/{patient_id}/access-log", headers=headers)
    assert log.status_code == 200
    staff_rows = [e["actor"] for e in log.json["items"] if e["actor_type"] == "staff"]
    assert staff_rows == ["测试医院H1 护士"] and "li.xiaohong" not in log.get_data(as_text=True)
