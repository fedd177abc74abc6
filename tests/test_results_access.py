"""Who may read reports and records, and the access log: one row per successful read, none for refused ones."""
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from patient_api.accounts.models import Account
from patient_api.common.audit import AuditEntry
from patient_api.common.clock import now
from patient_api.extensions import db
from patient_api.results.models import Report

from .test_records_api import add_encounter, add_entry
from .test_results_api import PEOPLE, World, item

# Every resident endpoint that reads a patient's data: (path, query, resource_type, resource_id key).
READS = [
    ("/api/v1/reports", {"patient_id": "{patient}"}, "report_list", "all"),
    ("/api/v1/reports/{report}", {}, "report", "{report}"),
    ("/api/v1/reports/{report}/history", {}, "report_history", "{report}"),
    ("/api/v1/patients/{patient}/trends", {"code": "718-7"}, "trend", "718-7"),
    ("/api/v1/patients/{patient}/record", {}, "record", "{patient}"),
    ("/api/v1/patients/{patient}/encounters", {}, "encounters", "{patient}"),
    ("/api/v1/patients/{patient}/conditions", {}, "conditions", "{patient}"),
    ("/api/v1/patients/{patient}/allergies", {}, "allergies", "{patient}"),
    ("/api/v1/patients/{patient}/immunizations", {}, "immunizations", "{patient}"),
    ("/api/v1/patients/{patient}/vitals", {}, "vitals", "{patient}"),
]
UNLOGGED = [("/api/v1/patients/{patient}/access-log", {})]
NOT_FOUND = {"{report}": "report_not_found", "{patient}": "patient_not_found"}


@pytest.fixture
def world(app, client, make):
    """A fresh World."""
    return World(app, client, make)


@pytest.fixture
def owner(world):
    """An account whose patient has a report, a held report, an encounter, entries and a vital."""
    me = world.person(world.make.login("openid-owner"))
    me.report = world.report(me.index, "OWN-1", items=[item("OWN-1-1")])
    me.held = world.report(me.index, "OWN-HELD", sensitive=True)
    add_encounter(world, me.index, "OWN-E", 3)
    for kind in ("condition", "allergy", "immunization"):
        add_entry(world, me.index, kind, f"OWN-{kind}", kind, date(2025, 1, 1))
    posted = world.client.post(f"/api/v1/patients/{me.patient_id}/vitals", headers=me.headers,
                               json={"kind": "heart_rate", "value": 70})
    assert posted.status_code == 201
    me.account = account_id(world, "openid-owner")
    return me


def account_id(world, openid):
    """The account of an openid."""
    with world.app.app_context():
        return db.session.scalars(sa.select(Account.id).filter_by(openid=openid)).one()


def fill(text, ids):
    """Put real ids into a template."""
    for placeholder, value in ids.items():
        text = text.replace(placeholder, value)
    return text


def call(world, path, query, headers, ids):
    """GET one endpoint with the ids filled in."""
    return world.client.get(fill(path, ids), headers=headers, query_string={k: fill(v, ids) for k, v in query.items()})


def test_another_accounts_ids_are_404_and_leave_no_trace(world, owner):
    """A stranger gets 404 (with the same code as for a made-up id) on every endpoint, and no log row is written."""
    stranger = world.person()
    theirs = {"{patient}": owner.patient_id, "{report}": owner.report}
    made_up = {"{patient}": "pat_doesnotexist", "{report}": "rpt_doesnotexist"}
    for path, query in [(p, q) for p, q, _, _ in READS] + UNLOGGED:
        placeholder = "{report}" if "{report}" in path else "{patient}"
        for ids in (theirs, made_up):
            response = call(world, path, query, stranger.headers, ids)
            assert (response.status_code, response.json["code"]) == (404, NOT_FOUND[placeholder]), path
            assert owner.report not in response.get_data(as_text=True)
        assert call(world, path, query, {}, theirs).status_code == 401
    vitals = f"/api/v1/patients/{owner.patient_id}/vitals"
    refused = world.client.post(vitals, headers=stranger.headers, json={"kind": "heart_rate", "value": 80})
    assert (refused.status_code, refused.json["code"]) == (404, "patient_not_found")
    assert world.get(vitals, owner.headers)["items"][0]["value"] == 70  # nothing added for the owner
    assert world.get("/api/v1/reports", stranger.headers)["items"] == []
    assert world.log()[:-1] == [] and world.log()[-1][4] == "vitals"  # only the owner's own read just now


def test_held_report_is_404_without_a_log_row(world, owner):
    """The owner's own held report is 404 report_not_found on detail and history, and nothing is logged."""
    for suffix in ("", "/history"):
        response = world.client.get(f"/api/v1/reports/{owner.held}{suffix}", headers=owner.headers)
        assert (response.status_code, response.json["code"]) == (404, "report_not_found")
    assert world.log() == []


def test_each_successful_read_writes_exactly_one_row(world, owner):
    """One row per read: resident actor, the account id, wechat, patient, resource type and id."""
    ids = {"{patient}": owner.patient_id, "{report}": owner.report}
    for n, (path, query, resource_type, resource_id) in enumerate(READS):
        assert call(world, path, query, owner.headers, ids).status_code == 200, path
        rows = world.log()
        assert len(rows) == n + 1
        assert rows[-1] == ("resident", owner.account, "wechat", owner.patient_id, resource_type,
                            fill(resource_id, ids))
    for path, query in UNLOGGED:
        assert call(world, path, query, owner.headers, ids).status_code == 200
    assert len(world.log()) == len(READS)
    world.get("/api/v1/reports", owner.headers, 422, limit=0)  # a refused query writes nothing either
    assert len(world.log()) == len(READS)


def test_listing_all_patients_logs_each_patient_shown(world, owner):
    """Without patient_id, one report_list row per patient whose reports were listed; with it, exactly one."""
    child = world.person(owner.headers)
    world.get("/api/v1/reports", owner.headers)
    assert [(r[3], r[4]) for r in world.log()] == [(owner.patient_id, "report_list")]
    world.report(child.index, "CHILD-1")
    world.get("/api/v1/reports", owner.headers, kind="lab")
    assert sorted(r[3] for r in world.log()[1:]) == sorted([owner.patient_id, child.patient_id])
    assert {r[5] for r in world.log()[1:]} == {"lab"}
    world.get("/api/v1/reports", owner.headers, patient_id=child.patient_id, kind="imaging")
    assert world.log()[3:] == [("resident", owner.account, "wechat", child.patient_id, "report_list", "imaging")]


def test_family_proxy_reads_are_logged_with_their_own_account(world, owner):
    """A second account linked to the same patient reads as itself; the owner sees it as 家属账户."""
    proxy_headers = world.make.login("openid-proxy")
    assert world.make.patient(proxy_headers, n=owner.n, relation="child") == owner.patient_id
    pending = world.get(f"/api/v1/me/patients/{owner.patient_id}/links", owner.headers)["items"][0]
    approved = world.client.post(f"/api/v1/me/patients/{owner.patient_id}/links/{pending['id']}/approve",
                                 headers=owner.headers)
    assert approved.json["status"] == "verified"  # the owner consented to the proxy
    world.get(f"/api/v1/reports/{owner.report}", proxy_headers)
    world.get(f"/api/v1/patients/{owner.patient_id}/record", owner.headers)
    proxy_account = account_id(world, "openid-proxy")
    assert [(r[1], r[4]) for r in world.log()] == [(proxy_account, "report"), (owner.account, "record")]
    seen = world.get(f"/api/v1/patients/{owner.patient_id}/access-log", owner.headers)["items"]
    assert [(e["actor"], e["is_me"], e["resource_type"]) for e in seen] == [
        ("本人账户", True, "record"), ("家属账户（父母）", False, "report")]
    assert all(proxy_account not in str(e) and e["channel"] == "wechat" for e in seen)
    assert len(world.log()) == 2  # reading the log is not logged


def test_access_log_labels_and_paging(world, owner):
    """Hospital reads show the hospital's name; the log is newest first and paged by cursor."""
    world.client.get("/api/v1/integration/reports/OWN-1", headers=world.hospital("H1"))
    for _ in range(3):
        world.get(f"/api/v1/patients/{owner.patient_id}/record", owner.headers)
    url = f"/api/v1/patients/{owner.patient_id}/access-log"
    first = world.get(url, owner.headers, limit=2)
    assert [e["actor"] for e in first["items"]] == ["本人账户", "本人账户"] and first["has_more"]
    rest = world.get(url, owner.headers, limit=2, cursor=first["next_cursor"])
    assert [(e["actor"], e["actor_type"], e["channel"]) for e in rest["items"]] == [
        ("本人账户", "resident", "wechat"), ("测试医院H1", "hospital", "integration")]
    assert rest["items"][0]["at"].endswith("+08:00") and not rest["has_more"]
    world.report(owner.index, "OWN-2")
    reports = world.get("/api/v1/reports", owner.headers, limit=1)["next_cursor"]
    assert "cursor" in world.get(url, owner.headers, 422, cursor=reports)["errors"]  # text id for a numeric key


def test_a_hospital_reads_back_and_releases_only_what_it_sent(app, world, owner):
    """H2 gets 404 for H1's source id (even when it has its own report of that id); reads are logged as hospital."""
    h1, h2 = world.hospital("H1"), world.hospital("H2")
    refused = world.client.get("/api/v1/integration/reports/OWN-1", headers=h2)
    assert (refused.status_code, refused.json["code"]) == (404, "report_not_found")
    released = world.client.post("/api/v1/integration/reports/OWN-HELD/release", headers=h2)
    assert released.status_code == 404
    assert world.log() == []
    own = world.report(owner.index, "OWN-1", hospital="H2", kind="imaging", title="H2 的报告", findings="…")
    read = world.client.get("/api/v1/integration/reports/OWN-1", headers=h2)
    assert (read.status_code, read.json["id"], read.json["title"]) == (200, own, "H2 的报告")
    held = world.client.get("/api/v1/integration/reports/OWN-HELD", headers=h1)
    assert (held.status_code, held.json["sensitive"], held.json["visible"]) == (200, True, False)
    assert held.json["patient_id"] == owner.patient_id
    hospitals = {code: world.db(lambda c=code: db.session.scalar(sa.text(
        "SELECT id FROM hospitals WHERE code = :c"), {"c": c})) for code in ("H1", "H2")}
    assert world.log() == [("hospital", hospitals["H2"], "integration", owner.patient_id, "report", own),
                           ("hospital", hospitals["H1"], "integration", owner.patient_id, "report", owner.held)]
    for _ in range(2):
        assert world.client.post("/api/v1/integration/reports/OWN-HELD/release", headers=h1).json["visible"]
    with app.app_context():
        audits = db.session.execute(sa.select(AuditEntry.actor_id, AuditEntry.action, AuditEntry.resource)
                                    .where(AuditEntry.actor_type == "hospital")).all()
        assert [tuple(a) for a in audits] == [(hospitals["H1"], "report.released", owner.held)]
        assert db.session.get(Report, owner.held).released_at is not None
    assert world.client.get("/api/v1/integration/reports/OWN-1", headers={}).status_code == 401
    assert world.client.get("/api/v1/integration/reports/x%00y", headers=h1).status_code == 404


def test_hospital_read_of_an_unregistered_person_is_logged_by_person(world):
    """Before anyone adds the patient, a hospital read is kept with the person index and no patient id."""
    n = next(PEOPLE)
    world.report(world.index(n), "EARLY-1")
    assert world.client.get("/api/v1/integration/reports/EARLY-1", headers=world.hospital("H1")).json[
        "patient_id"] is None
    assert [(r[0], r[3]) for r in world.log()] == [("hospital", None)]
    registered = world.person(n=n)  # once added, the earlier read shows in the resident's access log
    log = world.get(f"/api/v1/patients/{registered.patient_id}/access-log", registered.headers)["items"]
    assert [(e["actor_type"], e["actor"], e["resource_type"]) for e in log] == [("hospital", "测试医院H1", "report")]


def test_refused_reads_leave_no_row_even_when_time_passes(world, owner):
    """A sensitive report past its hold shows (and is logged) only then; before, the same id was refused."""
    assert world.client.get(f"/api/v1/reports/{owner.held}", headers=owner.headers).status_code == 404
    world.db(lambda: db.session.execute(sa.update(Report).where(Report.id == owner.held).values(
        created_at=now() - timedelta(days=30))))  # received 30 days ago: the hold counts from receipt
    assert world.client.get(f"/api/v1/reports/{owner.held}", headers=owner.headers).status_code == 200
    assert [(r[4], r[5]) for r in world.log()] == [("report", owner.held)]
