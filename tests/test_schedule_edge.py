"""The edge in front of Flask: cached public schedule answers served without entering the app, exactly as the app
would answer them; everything else passes through untouched."""
import logging

import pytest
from prometheus_client import REGISTRY
from werkzeug.test import Client

from patient_api.common.edge import Edge
from patient_api.directory import edge as edge_module
from patient_api.directory import public_cache

from .test_schedule_cache import schedule_urls

IGNORED = {"X-Request-Id", "Date"}


def installed(app, kind):
    """The edge of that class in front of the app."""
    layer = app.wsgi_app
    while not isinstance(layer, kind):
        assert isinstance(layer, Edge), f"no {kind.__name__} in front of the app"
        layer = layer.inner
    return layer


def counting(monkeypatch, edge):
    """Count the requests the edge hands to Flask (in edge.passed)."""
    inner, passed = edge.inner, []

    def handed_on(environ, start_response):
        passed.append(environ["PATH_INFO"])
        return inner(environ, start_response)
    monkeypatch.setattr(edge, "inner", handed_on)
    edge.passed = passed
    return edge


@pytest.fixture
def edge(app, monkeypatch):
    """The schedule edge, counting what it hands to Flask."""
    return counting(monkeypatch, installed(app, edge_module.PublicScheduleEdge))


def headers_of(response):
    return sorted((k, v) for k, v in response.headers.items() if k not in IGNORED)


def test_the_edge_serves_exactly_the_three_public_schedule_endpoints(app):
    assert installed(app, edge_module.PublicScheduleEdge).endpoints == {
        "directory.list_schedules", "directory.get_schedule", "directory.list_slots"}


def test_a_hit_never_enters_flask_and_answers_as_flask_would(app, client, make, edge):
    flask_only = Client(edge.inner)  # the app without the edge: the view's own cache wrapper answers the hit
    for url in schedule_urls(app, make.schedule(capacity=8)):
        first = client.get(url)
        assert first.status_code == 200 and edge.passed == [url.split("?")[0]]  # the miss renders in Flask
        edge.passed.clear()
        hit, via_flask = client.get(url), flask_only.get(url)
        assert edge.passed == [url.split("?")[0]]  # only flask_only's request reached Flask
        assert (hit.status_code, hit.get_data()) == (via_flask.status_code, via_flask.get_data()) == (
            200, first.get_data())
        assert headers_of(hit) == headers_of(via_flask) == headers_of(first)
        etag = {"If-None-Match": hit.headers["ETag"]}
        edge.passed.clear()
        not_modified, via_flask = client.get(url, headers=etag), flask_only.get(url, headers=etag)
        assert (not_modified.status_code, not_modified.get_data()) == (via_flask.status_code, b"") == (304, b"")
        assert headers_of(not_modified) == headers_of(via_flask)
        assert len(edge.passed) == 1
        edge.passed.clear()


class Lines(logging.Handler):
    """Keeps the records it is handed."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_a_hit_is_logged_counted_and_echoes_the_request_id(app, client, make, edge):
    url = schedule_urls(app, make.schedule(capacity=8))[2]
    client.get(url)
    rule = "/api/v1/schedules/<id:schedule_id>/slots"
    labels = {"method": "GET", "endpoint": rule, "status": "200"}
    before = REGISTRY.get_sample_value("patient_api_requests_total", labels) or 0
    access, lines = logging.getLogger("patient_api.access"), Lines()
    access.addHandler(lines)
    try:
        hit = client.get(url, headers={"X-Request-Id": "rush-0700-1"})
        fresh = client.get(url, headers={"X-Request-Id": "not a valid id!"})
    finally:
        access.removeHandler(lines)
    assert edge.passed == [url]  # the first (filling) read only
    assert hit.headers["X-Request-Id"] == "rush-0700-1"
    assert len(fresh.headers["X-Request-Id"]) == 32 and fresh.headers["X-Request-Id"] != "not a valid id!"
    assert [(r.method, r.path, r.status, r.request_id) for r in lines.records] == [
        ("GET", url, 200, "rush-0700-1"), ("GET", url, 200, fresh.headers["X-Request-Id"])]
    assert REGISTRY.get_sample_value("patient_api_requests_total", labels) == before + 2


def test_a_miss_asks_redis_once_and_the_view_reuses_the_answer(app, client, make, monkeypatch):
    url = schedule_urls(app, make.schedule(capacity=8))[0]
    asked = []
    real_probe = public_cache.probe

    def probe(key):
        asked.append(key)
        return real_probe(key)
    monkeypatch.setattr(public_cache, "probe", probe)
    assert client.get(url).status_code == 200  # the miss: probed at the edge, rendered by the view, stored
    assert client.get(url).status_code == 200  # the hit
    assert len(asked) == 2 and asked[0] == asked[1]


@pytest.mark.parametrize("case", ["patient view", "post", "get with a body", "trailing slash", "other route",
                                  "redis down", "cache off"])
def test_everything_else_passes_to_flask_unchanged(app, client, make, edge, monkeypatch, case):
    from .factories import DeadRedis
    schedule_id = make.schedule(capacity=8)
    listing, one, windows = schedule_urls(app, schedule_id)
    for url in (listing, one, windows):
        client.get(url)  # every answer is in the cache
    edge.passed.clear()
    if case == "patient view":
        headers, patient_id = make.resident()
        edge.passed.clear()
        answer = client.get(f"{one}?patient_id={patient_id}", headers=headers)
        assert answer.status_code == 200 and "available_to_patient" in answer.json
    elif case == "post":
        assert client.post(windows, json={}).status_code == 405
    elif case == "get with a body":
        assert client.get(one, data=b"{}", content_type="application/json").json == client.get(one).json
    elif case == "trailing slash":
        assert client.get(one + "/").status_code in (308, 404)
    elif case == "other route":
        assert client.get(f"/api/v1/schedules/{schedule_id}/nothing-here").status_code == 404
    elif case == "redis down":
        monkeypatch.setattr(public_cache, "redis", DeadRedis())
        assert client.get(windows).status_code == 200
    elif case == "cache off":
        monkeypatch.setitem(app.config, "SCHEDULE_CACHE_MS", 0)
        assert client.get(listing).status_code == 200
    assert len(edge.passed) == 1, edge.passed
