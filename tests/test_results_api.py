"""Reports for residents: listing, kinds, paging, flags, preliminary, release of sensitive reports, amendments,
trends across hospitals and 互认."""
import base64
import itertools
import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from patient_api.common.clock import now
from patient_api.directory.models import Hospital
from patient_api.extensions import db
from patient_api.records.models import AccessLogEntry
from patient_api.results import rules, store
from patient_api.results.inputs import ObservationIn, ReportIn
from patient_api.results.matching import index_for_id_number
from patient_api.results.models import Report
from patient_api.results.queries import visible_clause

from .factories import hospital_key, resident_id

PEOPLE = itertools.count(7000)  # resident ID numbers of their own, apart from the factories' sequence
REPORTS = "/api/v1/reports"


def item(source_id, code="718-7", value_num=135.0, low=115.0, high=150.0, **fields):
    """A numeric result with a reference range (flag computed unless given)."""
    fields.setdefault("name", "血红蛋白")
    fields.setdefault("unit", "g/L")
    fields.setdefault("value", f"{value_num:g}" if value_num is not None else None)
    return ObservationIn(source_id=source_id, code=code, value_num=value_num, ref_low=low, ref_high=high, **fields)


class World:
    """Residents, hospitals and their reports, written through results.store as ingest would."""

    def __init__(self, app, client, make):
        self.app, self.client, self.make = app, client, make
        self.keys = {}

    def person(self, headers=None, n=None, verified=True):
        """A patient added (and by default verified) by an account (a new one unless headers are given):
        ids, headers, person index."""
        headers = headers or self.make.login()
        n = next(PEOPLE) if n is None else n
        patient_id = self.make.patient(headers, n=n)
        if verified:
            self.make.verify(headers, patient_id)
        return SimpleNamespace(headers=headers, patient_id=patient_id, n=n, index=self.index(n))

    def index(self, n):
        """The person index of resident n, registered or not."""
        with self.app.app_context():
            return index_for_id_number(resident_id(n))

    def hospital(self, code="H1", level=None):
        """A hospital with an integration key; returns its Authorization headers."""
        if code not in self.keys:
            self.keys[code] = hospital_key(self.app, code)
        if level:
            self.db(lambda: db.session.execute(sa.update(Hospital).filter_by(code=code).values(level=level)))
        return self.keys[code]

    def db(self, work):
        """Run work() in an app context and commit."""
        with self.app.app_context():
            result = work()
            db.session.commit()
            return result

    def report(self, index, source_id, hospital="H1", ago=timedelta(hours=1), items=None, **fields):
        """Store a report (lab by default) issued `ago`; returns its id."""
        self.hospital(hospital)
        fields.setdefault("kind", "lab")
        fields.setdefault("title", "血常规")
        fields.setdefault("status", "final")
        if items is None and fields["kind"] == "lab":
            items = [item(f"{source_id}-1")]
        report_in = ReportIn(source_id=source_id, source_format="fhir", issued_at=now() - ago, items=items or [],
                             **fields)

        def save():
            hospital_row = db.session.scalars(sa.select(Hospital).filter_by(code=hospital)).one()
            store.save_report(hospital_row, index, report_in)
            return db.session.scalars(sa.select(Report.id).filter_by(hospital_id=hospital_row.id,
                                                                     source_id=source_id)).one()
        return self.db(save)

    def observation(self, index, observation_in, hospital="H1"):
        """Store a stand-alone observation."""
        self.hospital(hospital)
        self.db(lambda: store.save_observation(
            db.session.scalars(sa.select(Hospital).filter_by(code=hospital)).one(), index, observation_in))

    def log(self):
        """Every access-log row: [(actor_type, actor_id, channel, patient_id, resource_type, resource_id)]."""
        with self.app.app_context():
            return [tuple(row) for row in db.session.execute(sa.select(
                AccessLogEntry.actor_type, AccessLogEntry.actor_id, AccessLogEntry.channel, AccessLogEntry.patient_id,
                AccessLogEntry.resource_type, AccessLogEntry.resource_id).order_by(AccessLogEntry.id))]

    def get(self, url, headers, status=200, **params):
        """GET and check the status."""
        response = self.client.get(url, headers=headers, query_string=params)
        assert response.status_code == status, response.json
        return response.json


@pytest.fixture
def world(app, client, make):
    """A fresh World."""
    return World(app, client, make)


def test_list_shows_summaries_newest_first(world):
    """Every kind, newest first, with hospital, local issue time, abnormal count, critical and 互认 marks."""
    me = world.person()
    world.hospital("H2", level="一级")
    lab = world.report(me.index, "L1", ago=timedelta(days=3), items=[
        item("L1-1"), item("L1-2", value_num=160.0), item("L1-3", code="6690-2", value_num=1.0, low=3.5, high=9.5,
                                                           flag="LL", name="白细胞")])
    imaging = world.report(me.index, "I1", hospital="H2", ago=timedelta(days=2), kind="imaging", title="胸部CT",
                           code="CT-CHEST", findings="双肺纹理清晰", impression="未见异常")
    document = world.report(me.index, "D1", ago=timedelta(days=1), kind="outpatient", title="门诊病历", body="主诉…")
    items = world.get(REPORTS, me.headers)["items"]
    assert [r["id"] for r in items] == [document, imaging, lab]
    first = items[2]
    assert first["patient_id"] == me.patient_id and first["hospital_name"] == "测试医院H1"
    assert first["issued_at"].endswith("+08:00")
    assert (first["abnormal_count"], first["critical"], first["status"], first["preliminary"]) == (2, True, "final",
                                                                                                  False)
    assert (first["version"], first["amended"], first["kind"]) == (1, False, "lab")
    assert items[1]["hospital_name"] == "测试医院H2" and items[1]["abnormal_count"] == 0
    assert not items[1]["critical"] and not items[1]["mutually_recognised"]  # 一级 hospital: no 互认


@pytest.mark.parametrize("kind", ["lab", "imaging", "outpatient", "inpatient"])
def test_kind_filter(world, kind):
    """?kind= keeps that kind only."""
    me = world.person()
    ids = {k: world.report(me.index, f"K-{k}", kind=k, title=k) for k in ("lab", "imaging", "outpatient", "inpatient")}
    assert [r["id"] for r in world.get(REPORTS, me.headers, kind=kind)["items"]] == [ids[kind]]


def test_hospital_filter_pages_within_that_hospital(world):
    """?hospital_id= keeps that hospital's reports only, paged among them; with a kind both apply."""
    me = world.person()
    h1 = [world.report(me.index, f"HF1-{n}", ago=timedelta(days=n)) for n in range(3)]
    h2 = world.report(me.index, "HF2", hospital="H2", ago=timedelta(hours=2))
    world.report(me.index, "HF2-CT", hospital="H2", kind="imaging", title="胸部CT", ago=timedelta(days=5))
    ids = world.db(lambda: dict(db.session.execute(sa.select(Hospital.code, Hospital.id)).all()))
    first = world.get(REPORTS, me.headers, hospital_id=ids["H1"], limit=2)
    assert [r["id"] for r in first["items"]] == h1[:2] and first["next_cursor"]
    rest = world.get(REPORTS, me.headers, hospital_id=ids["H1"], limit=2, cursor=first["next_cursor"])
    assert [r["id"] for r in rest["items"]] == h1[2:] and rest["next_cursor"] is None
    assert [r["id"] for r in world.get(REPORTS, me.headers, hospital_id=ids["H2"], kind="lab")["items"]] == [h2]
    assert world.get(REPORTS, me.headers, hospital_id="no-such-hospital")["items"] == []
    world.get(REPORTS, me.headers, 422, hospital_id="bad id!")


def test_patient_filter_and_bad_queries(world):
    """patient_id narrows to one linked patient; a bad kind, limit or unknown field is 422, a stranger 404."""
    me = world.person()
    child = world.person(me.headers)
    mine, childs = world.report(me.index, "P1"), world.report(child.index, "P2")
    assert [r["id"] for r in world.get(REPORTS, me.headers)["items"]] == [childs, mine]
    only = world.get(REPORTS, me.headers, patient_id=child.patient_id)["items"]
    assert [(r["id"], r["patient_id"]) for r in only] == [(childs, child.patient_id)]
    for params in ({"kind": "xray"}, {"limit": 0}, {"limit": 101}, {"colour": "red"}, {"offset": -1}):
        world.get(REPORTS, me.headers, 422, **params)
    stranger = world.person()
    assert world.get(REPORTS, me.headers, 404, patient_id=stranger.patient_id)["code"] == "patient_not_found"


def test_paging_by_cursor_and_offset(world):
    """Default 20, cursor pages stay stable when a newer report arrives, offset pages, bad cursors are 422."""
    me = world.person()
    ids = [world.report(me.index, f"PG{n}", ago=timedelta(hours=n + 1)) for n in range(25)]  # ids[0] newest
    first = world.get(REPORTS, me.headers)
    assert [r["id"] for r in first["items"]] == ids[:20] and first["has_more"] and first["limit"] == 20
    world.report(me.index, "PG-new", ago=timedelta(minutes=1))
    second = world.get(REPORTS, me.headers, cursor=first["next_cursor"])
    assert [r["id"] for r in second["items"]] == ids[20:] and not second["has_more"]
    assert second["next_cursor"] is None
    by_offset = world.get(REPORTS, me.headers, limit=10, offset=11)
    assert [r["id"] for r in by_offset["items"]] == ids[10:20]  # the new report shifted offsets by one
    assert by_offset["offset"] == 11 and by_offset["next_offset"] == 21
    world.get(REPORTS, me.headers, 422, cursor=first["next_cursor"], offset=5)
    forged = [["9999-12-31T23:59:59-12:00", "x"], ["2026-01-01T00:00:00", "x"], ["2026-01-01T00:00:00+00:00", "a\x00b"],
              ["2026-01-01T00:00:00+00:00", 5], ["2026-01-01T00:00:00+00:00", True], ["x", "y", "z"], 7]
    for bad in ["not-a-cursor", "é"] + [encode(value) for value in forged]:
        assert "cursor" in world.get(REPORTS, me.headers, 422, cursor=bad)["errors"], bad


def encode(value):
    """A cursor forged from any JSON value."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def test_preliminary_marked_and_withdrawn_hidden(world):
    """Preliminary and partial reports show marked; registered, cancelled and entered-in-error ones never show."""
    me = world.person()
    shown = {status: world.report(me.index, f"S-{status}", status=status) for status in ("preliminary", "partial")}
    hidden = [world.report(me.index, f"H-{s}", status=s) for s in ("registered", "cancelled", "entered-in-error")]
    items = world.get(REPORTS, me.headers)["items"]
    assert {(r["id"], r["status"], r["preliminary"]) for r in items} == {
        (shown["preliminary"], "preliminary", True), (shown["partial"], "partial", True)}
    for report_id in hidden:
        assert world.get(f"{REPORTS}/{report_id}", me.headers, 404)["code"] == "report_not_found"
    assert world.get(f"{REPORTS}/{shown['preliminary']}", me.headers)["preliminary"] is True


def test_lab_detail_items(world):
    """Items carry code, name, value, unit, reference range (given or built from bounds), flag and critical."""
    me = world.person()
    report_id = world.report(me.index, "LD", items=[
        item("LD-1", value_num=160.0), item("LD-2", value_num=2.0, low=3.5, high=None, code="2345-7", name="葡萄糖",
                                            unit="mmol/L", flag="LL"),
        item("LD-3", value_num=None, low=None, high=None, code="5196-1", name="乙肝表面抗原", value="阴性",
             unit=None, reference_range="阴性")])
    body = world.get(f"{REPORTS}/{report_id}", me.headers)
    assert [(i["code"], i["value"], i["unit"], i["reference_range"], i["flag"], i["critical"]) for i in body["items"]] \
        == [("718-7", "160", "g/L", "115-150", "H", False), ("2345-7", "2", "mmol/L", ">3.5", "LL", True),
            ("5196-1", "阴性", None, "阴性", None, False)]
    assert (body["abnormal_count"], body["critical"], body["amended"], body["version"]) == (2, True, False, 1)


def test_imaging_and_document_detail(world):
    """Imaging shows findings and impression; documents their text."""
    me = world.person()
    imaging = world.report(me.index, "IM", kind="imaging", title="胸部CT", findings="双肺纹理清晰",
                           impression="未见异常")
    document = world.report(me.index, "DS", kind="inpatient", title="出院小结", body="住院经过…")
    image = world.get(f"{REPORTS}/{imaging}", me.headers)
    assert (image["findings"], image["impression"], image["items"]) == ("双肺纹理清晰", "未见异常", [])
    assert world.get(f"{REPORTS}/{document}", me.headers)["body"] == "住院经过…"


def test_sensitive_held_until_released(world):
    """A sensitive report is invisible (404, not listed) until its hospital releases it."""
    me = world.person()
    held = world.report(me.index, "SEN-1", sensitive=True, title="HIV 抗体")
    assert world.get(REPORTS, me.headers)["items"] == []
    assert world.get(f"{REPORTS}/{held}", me.headers, 404)["code"] == "report_not_found"
    released = world.client.post("/api/v1/integration/reports/SEN-1/release", headers=world.hospital("H1"))
    assert released.status_code == 200 and released.json["visible"] is True
    assert [r["id"] for r in world.get(REPORTS, me.headers)["items"]] == [held]
    assert world.get(f"{REPORTS}/{held}", me.headers)["title"] == "HIV 抗体"


def test_sensitive_shows_by_itself_after_the_hold(app, world):
    """Received longer than RESULT_SENSITIVE_HOLD_DAYS ago, a held report shows without a release; issued long
    before it was sent, it is still held for the whole period from receipt."""
    me = world.person()
    days = app.config["RESULT_SENSITIVE_HOLD_DAYS"]
    fresh = world.report(me.index, "SEN-2", sensitive=True, ago=timedelta(days=days + 1))
    assert world.get(REPORTS, me.headers)["items"] == []
    world.db(lambda: db.session.execute(sa.update(Report).where(Report.id == fresh).values(
        created_at=now() - timedelta(days=days, minutes=1))))
    assert [r["id"] for r in world.get(REPORTS, me.headers)["items"]] == [fresh]
    world.get(f"{REPORTS}/{fresh}", me.headers)


def test_sql_visibility_matches_the_rule(app, world):
    """visible_clause (used for paging) and rules.visible agree on every combination."""
    me = world.person()
    days = app.config["RESULT_SENSITIVE_HOLD_DAYS"]
    n = itertools.count()
    for status in ("final", "preliminary", "cancelled", "registered"):
        for sensitive in (False, True):
            for ago in (timedelta(hours=1), timedelta(days=days, hours=1)):
                report_id = world.report(me.index, f"V{next(n)}", status=status, sensitive=sensitive, ago=ago)
                if sensitive and status == "final" and ago.days == 0:
                    world.db(lambda rid=report_id: store.release(db.session.get(Report, rid)))
    world.db(lambda: db.session.execute(sa.update(Report).values(created_at=Report.issued_at)))  # received then

    def compare():
        by_sql = set(db.session.scalars(sa.select(Report.id).where(visible_clause())))
        by_rule = {r.id for r in db.session.scalars(sa.select(Report)) if rules.visible(r)}
        return by_sql, by_rule
    by_sql, by_rule = world.db(compare)
    assert by_sql == by_rule and len(by_sql) == 7


def test_amended_report_shows_latest_with_history(world):
    """A corrected report replaces the shown one (version 2, amended) and keeps version 1 in its history."""
    me = world.person()
    report_id = world.report(me.index, "AM", items=[item("AM-1", value_num=160.0)])
    world.report(me.index, "AM", status="amended", items=[item("AM-1", value_num=140.0)])
    body = world.get(f"{REPORTS}/{report_id}", me.headers)
    assert (body["version"], body["amended"], body["status"]) == (2, True, "amended")
    assert [(i["value"], i["flag"]) for i in body["items"]] == [("140", "N")]
    history = world.get(f"{REPORTS}/{report_id}/history", me.headers)
    assert (history["report_id"], history["version"]) == (report_id, 2)
    assert [(v["version"], v["status"]) for v in history["items"]] == [(1, "final")]
    old = history["items"][0]
    assert [(i["value"], i["flag"], i["reference_range"]) for i in old["items"]] == [("160", "H", "115-150")]
    assert old["issued_at"].endswith("+08:00") and old["replaced_at"].endswith("+08:00")
    assert world.get(f"{REPORTS}/{world.report(me.index, 'NEW')}/history", me.headers)["items"] == []


def test_trend_across_three_hospitals(world):
    """One code from three hospitals and a stand-alone result, oldest first; held reports and other codes left out."""
    me = world.person()
    for days_ago, hospital, value in ((30, "H1", 120.0), (20, "H2", 128.0), (10, "H3", 160.0)):
        world.report(me.index, f"T-{hospital}", hospital=hospital, ago=timedelta(days=days_ago),
                     items=[item(f"T-{hospital}-1", value_num=value, observed_at=now() - timedelta(days=days_ago)),
                            item(f"T-{hospital}-2", code="6690-2", value_num=5.0, low=3.5, high=9.5)])
    world.report(me.index, "T-held", sensitive=True, items=[item("T-held-1", value_num=99.0)])
    world.observation(me.index, item("T-point", value_num=131.0, observed_at=now() - timedelta(days=5)), "H2")
    body = world.get(f"/api/v1/patients/{me.patient_id}/trends", me.headers, code="718-7")
    points = body["items"]
    assert [(p["value_num"], p["flag"]) for p in points] == [(120.0, "N"), (128.0, "N"), (160.0, "H"), (131.0, "N")]
    assert [p["hospital_name"] for p in points] == ["测试医院H1", "测试医院H2", "测试医院H3", "测试医院H2"]
    assert points[-1]["report_id"] is None and all(p["observed_at"].endswith("+08:00") for p in points)
    assert world.get(f"/api/v1/patients/{me.patient_id}/trends", me.headers, 422)["errors"] == {
        "code": ["必填"]}


def test_mutual_recognition_flag(world):
    """互认 is shown for a final lab of listed codes from a 二级+ hospital, not for unlisted codes or 一级 hospitals."""
    me = world.person()
    world.hospital("H9", level="一级")
    listed = world.report(me.index, "MR-1", items=[item("MR-1-1", code="718-7")])
    local = world.report(me.index, "MR-2", items=[item("MR-2-1", code="LOCAL-1")])
    small = world.report(me.index, "MR-3", hospital="H9", items=[item("MR-3-1", code="718-7")])
    marks = {r["id"]: r["mutually_recognised"] for r in world.get(REPORTS, me.headers)["items"]}
    assert marks == {listed: True, local: False, small: False}
    assert world.get(f"{REPORTS}/{listed}", me.headers)["mutually_recognised"] is True


def test_reports_from_before_registration_show_once_the_patient_is_added(world):
    """Data keyed by person index waits for the patient; the first account to add them sees it."""
    n = next(PEOPLE)
    report_id = world.report(world.index(n), "EARLY")
    me = world.person(n=n)
    assert [r["id"] for r in world.get(REPORTS, me.headers)["items"]] == [report_id]
