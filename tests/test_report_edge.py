"""The report-read edge: on PostgreSQL a resident's list and report are answered in front of Flask exactly as the
app answers them, each read access-logged once with the answer's request id; everything else (and everything on
SQLite, where the edge stays off) reaches Flask."""
import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from werkzeug.exceptions import HTTPException
from werkzeug.test import Client

from patient_api.extensions import db
from patient_api.records.models import AccessLogEntry
from patient_api.results import edge as edge_module

from .test_results_api import REPORTS, World
from .test_schedule_edge import Lines, counting, headers_of, installed


@pytest.fixture
def edge(app, monkeypatch):
    """The report edge, counting what it hands to Flask."""
    return counting(monkeypatch, installed(app, edge_module.ReportReadEdge))


@pytest.fixture
def world(app, client, make):
    return World(app, client, make)


@pytest.fixture
def postgres(app):
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


def log_rows(app):
    """(patient_id, resource_type, resource_id, request_id) of every access-log row, oldest first."""
    with app.app_context():
        log = AccessLogEntry.__table__
        return [tuple(row) for row in db.session.execute(sa.select(
            log.c.patient_id, log.c.resource_type, log.c.resource_id, log.c.request_id).order_by(log.c.id))]


def reads(world, me):
    """Two people, three reports: the URLs of the reads the edge answers on PostgreSQL."""
    child = world.person(me.headers)
    ids = [world.report(me.index, f"E{n}", ago=timedelta(hours=n + 1)) for n in range(2)]
    ids.append(world.report(child.index, "E2", ago=timedelta(hours=5)))
    first = world.get(REPORTS, me.headers, limit=2)
    return [REPORTS, f"{REPORTS}?patient_id={child.patient_id}", f"{REPORTS}?limit=2",
            f"{REPORTS}?limit=2&cursor={first['next_cursor']}", f"{REPORTS}?kind=lab",
            f"{REPORTS}/{ids[0]}", f"{REPORTS}/{ids[2]}"]


def test_reads_are_answered_in_front_of_flask_exactly_as_flask_answers_them(app, client, world, edge, postgres):
    me = world.person()
    flask_only = Client(edge.inner)
    for url in reads(world, me):
        edge.passed.clear()
        before = len(log_rows(app))
        ours = client.get(url, headers=me.headers)
        assert edge.passed == ([] if postgres else [url.split("?")[0]]), url
        theirs = flask_only.get(url, headers=me.headers)
        assert ours.status_code == theirs.status_code == 200, (url, ours.json)
        assert ours.json == theirs.json, url
        assert headers_of(ours) == headers_of(theirs)
        # A row per person shown (the one asked for, else those on the page), per read: ours and Flask's.
        shown = ({item["patient_id"] for item in ours.json["items"]} if url.split("?")[0] == REPORTS else {"one"})
        wanted = 1 if "patient_id=" in url else len(shown)
        assert len(log_rows(app)) == before + 2 * wanted, url


@pytest.mark.parametrize("case", ["stranger_patient", "someone_elses_report", "unverified"])
def test_refusals_are_the_apps_and_log_nothing(app, client, world, edge, case):
    owner = world.person()
    report_id = world.report(owner.index, "R1")
    if case == "stranger_patient":
        reader, url = world.person(), f"{REPORTS}?patient_id={owner.patient_id}"
    elif case == "someone_elses_report":
        reader, url = world.person(), f"{REPORTS}/{report_id}"
    else:
        reader, url = world.person(n=owner.n, verified=False), f"{REPORTS}/{report_id}"
    before = log_rows(app)
    ours = client.get(url, headers=reader.headers)
    theirs = Client(edge.inner).get(url, headers=reader.headers)
    assert (ours.status_code, ours.json) == (theirs.status_code, theirs.json)
    assert ours.status_code == (403 if case == "unverified" else 404)
    assert headers_of(ours) == headers_of(theirs)
    assert log_rows(app) == before


@pytest.mark.parametrize("case", ["no_token", "lapsed_session", "bad_query", "unknown_field", "history",
                                  "trailing_slash"])
def test_everything_else_passes_to_flask(app, client, world, edge, case):
    me = world.person()
    report_id = world.report(me.index, "P1")
    headers, url, status = me.headers, REPORTS, None
    if case == "no_token":
        headers, status = {}, 401
    elif case == "lapsed_session":
        headers, status = {"Authorization": "Bearer not-a-session"}, 401
    elif case == "bad_query":
        url, status = f"{REPORTS}?limit=0", 422
    elif case == "unknown_field":
        url, status = f"{REPORTS}?colour=red", 422
    elif case == "history":
        url, status = f"{REPORTS}/{report_id}/history", 200
    else:
        url = f"{REPORTS}/"
    edge.passed.clear()
    before = log_rows(app)
    answer = client.get(url, headers=headers)
    assert edge.passed == [url.split("?")[0]]
    if status is not None:
        assert answer.status_code == status, answer.json
    else:
        assert answer.status_code in (308, 404)
    assert len(log_rows(app)) == len(before) + (1 if case == "history" else 0)


def test_a_read_is_logged_counted_and_its_row_carries_the_answers_request_id(app, client, world, edge, postgres):
    me = world.person()
    report_id = world.report(me.index, "L1")
    labels = {"method": "GET", "endpoint": "/api/v1/reports/<id:report_id>", "status": "200"}
    before = REGISTRY.get_sample_value("patient_api_requests_total", labels) or 0
    access, lines = logging.getLogger("patient_api.access"), Lines()
    access.addHandler(lines)
    edge.passed.clear()
    try:
        given = client.get(f"{REPORTS}/{report_id}", headers={**me.headers, "X-Request-Id": "notice-open-1"})
        made = client.get(f"{REPORTS}/{report_id}", headers=me.headers)
    finally:
        access.removeHandler(lines)
    assert given.headers["X-Request-Id"] == "notice-open-1"
    assert [(r.method, r.status, r.request_id) for r in lines.records] == [
        ("GET", 200, "notice-open-1"), ("GET", 200, made.headers["X-Request-Id"])]
    assert log_rows(app)[-2:] == [(me.patient_id, "report", report_id, "notice-open-1"),
                                  (me.patient_id, "report", report_id, made.headers["X-Request-Id"])]
    assert REGISTRY.get_sample_value("patient_api_requests_total", labels) == before + 2
    assert edge.passed == ([] if postgres else [f"{REPORTS}/{report_id}"] * 2)


def test_an_edge_that_fails_hands_the_request_to_the_app(app, client, world, edge, monkeypatch):
    me = world.person()
    report_id = world.report(me.index, "L1")

    def broken(environ):
        raise RuntimeError("a bug in the edge")
    monkeypatch.setattr(edge, "answer", broken)
    edge.passed.clear()
    before = len(log_rows(app))
    answer = client.get(f"{REPORTS}/{report_id}", headers=me.headers)
    assert (answer.status_code, answer.json["id"], edge.passed) == (200, report_id, [f"{REPORTS}/{report_id}"])
    assert len(log_rows(app)) == before + 1


def test_a_query_string_is_read_once_and_its_arguments_cannot_be_changed_by_a_read(edge):
    """The list's arguments are kept per query string (the view's parser and schema); what is kept is read-only,
    so one request cannot change the next one's arguments; a query that does not validate is not kept."""
    edge.arguments.cache_clear()
    first = edge.arguments("limit=5&kind=lab")
    assert dict(first) == {"limit": 5, "kind": "lab"}
    assert edge.arguments("limit=5&kind=lab") is first and edge.arguments.cache_info().hits == 1
    with pytest.raises(TypeError):
        first["limit"] = 100
    with pytest.raises(HTTPException):  # webargs' 422, which the edge leaves to Flask
        edge.arguments("limit=0")
    assert edge.arguments.cache_info().currsize == 1
