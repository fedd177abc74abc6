"""The sold-out edge: refused booking attempts answered in front of Flask exactly as the app answers them; every
other booking request reaches Flask with its body whole."""
import logging

import pytest
from prometheus_client import REGISTRY
from werkzeug.test import Client

from patient_api.booking import edge as edge_module
from patient_api.booking.edge import MAX_BODY
from patient_api.extensions import redis as redis_handle

from .test_booking_slots import BOOK, book, slots
from .test_schedule_edge import Lines, counting, headers_of, installed


@pytest.fixture
def edge(app, monkeypatch):
    """The sold-out edge, counting what it hands to Flask."""
    return counting(monkeypatch, installed(app, edge_module.SoldOutEdge))


@pytest.fixture
def sold_out(client, make):
    """A schedule of one ticket, taken; the next attempt flagged it sold out in Redis."""
    schedule_id = make.schedule(capacity=1, fee_fen=0)
    assert book(client, make.resident(), schedule_id).status_code == 201
    assert book(client, make.resident(), schedule_id).json["code"] == "sold_out"
    return schedule_id


def attempt(client, schedule_id, resident, **headers):
    headers_, patient_id = resident
    return client.post(BOOK, json={"schedule_id": schedule_id, "patient_id": patient_id},
                       headers={**headers_, **headers})


def test_a_sold_out_attempt_never_enters_flask_and_is_answered_as_flask_would(client, make, sold_out, edge):
    resident = make.resident()
    edge.passed.clear()
    refused = attempt(client, sold_out, resident)
    assert edge.passed == []
    headers, patient_id = resident
    via_flask = Client(edge.inner).post(BOOK, json={"schedule_id": sold_out, "patient_id": patient_id},
                                        headers=headers)
    assert edge.passed == [BOOK]
    assert (refused.status_code, refused.json) == (via_flask.status_code, via_flask.json) == (
        409, {"code": "sold_out", "message": "号源已约满"})
    assert headers_of(refused) == headers_of(via_flask)


def test_a_full_window_is_refused_at_the_edge(app, client, make, edge):
    schedule_id = make.schedule(capacity=16, fee_fen=1200)  # 8 windows of 2 tickets
    window = slots(client, schedule_id)[2]["start"]
    for _ in range(2):
        assert book(client, make.resident(), schedule_id, slot_start=window).status_code == 201
    assert book(client, make.resident(), schedule_id, slot_start=window).json["code"] == "slot_full"  # flags it
    late, later = make.resident(), make.resident()
    edge.passed.clear()
    refused = book(client, late, schedule_id, slot_start=window)
    assert (refused.status_code, refused.json["code"], edge.passed) == (409, "slot_full", [])
    other = book(client, later, schedule_id, slot_start=slots(client, schedule_id)[3]["start"])
    assert other.status_code == 201 and edge.passed[-1] == BOOK  # another window reaches Flask and books


def test_a_refusal_is_logged_counted_and_echoes_the_request_id(client, make, sold_out, edge):
    resident = make.resident()
    labels = {"method": "POST", "endpoint": "/api/v1/appointments", "status": "409"}
    before = REGISTRY.get_sample_value("patient_api_requests_total", labels) or 0
    access, lines = logging.getLogger("patient_api.access"), Lines()
    access.addHandler(lines)
    try:
        refused = attempt(client, sold_out, resident, **{"X-Request-Id": "rush-0700-2"})
    finally:
        access.removeHandler(lines)
    assert refused.headers["X-Request-Id"] == "rush-0700-2"
    assert [(r.method, r.path, r.status, r.request_id) for r in lines.records] == [
        ("POST", BOOK, 409, "rush-0700-2")]
    assert REGISTRY.get_sample_value("patient_api_requests_total", labels) == before + 1


def test_a_booking_it_does_not_refuse_reaches_flask_with_its_body_and_its_session(client, make, edge, monkeypatch):
    from patient_api.common import auth
    schedule_id = make.schedule(capacity=2, fee_fen=0)
    resident = make.resident()
    edge.passed.clear()
    looked_up, resolve = [], auth.resolve_session
    monkeypatch.setattr(auth, "resolve_session", lambda *a, **k: looked_up.append(1) or resolve(*a, **k))
    booked = attempt(client, schedule_id, resident)
    assert booked.status_code == 201 and booked.json["schedule_id"] == schedule_id
    assert edge.passed == [BOOK]
    assert len(looked_up) == 1  # the edge's session round trip served the view too


@pytest.mark.parametrize("case", ["no session", "unknown token", "not json", "bad json", "too large", "redis down"])
def test_everything_else_passes_to_flask(app, client, make, sold_out, edge, monkeypatch, case):
    headers, patient_id = make.resident()
    body = {"schedule_id": sold_out, "patient_id": patient_id}
    edge.passed.clear()
    if case == "no session":
        answer, expected = client.post(BOOK, json=body), 401
    elif case == "unknown token":
        answer, expected = client.post(BOOK, json=body, headers={"Authorization": "Bearer nope"}), 401
    elif case == "not json":
        answer, expected = client.post(BOOK, data="schedule_id=x", headers=headers,
                                       content_type="application/x-www-form-urlencoded"), 422
    elif case == "bad json":
        answer, expected = client.post(BOOK, data=b'{"schedule_id": ', headers=headers,
                                       content_type="application/json"), 400
    elif case == "too large":
        body["note"] = "x" * MAX_BODY
        answer, expected = client.post(BOOK, json=body, headers=headers), 409  # Flask refuses it from the flags
    elif case == "redis down":
        from .factories import DeadRedis
        monkeypatch.setattr(redis_handle, "_client", DeadRedis())
        answer, expected = client.post(BOOK, json=body, headers=headers), 503
    assert answer.status_code == expected, answer.json
    assert edge.passed == [BOOK]


def test_a_retry_of_an_answered_booking_reaches_flask_and_is_replayed(client, make, edge):
    schedule_id = make.schedule(capacity=1, fee_fen=0)
    resident = make.resident()
    first = attempt(client, schedule_id, resident, **{"Idempotency-Key": "retry-1"})
    assert first.status_code == 201
    assert book(client, make.resident(), schedule_id).json["code"] == "sold_out"  # the database flags it
    edge.passed.clear()
    fresh_key = attempt(client, schedule_id, resident, **{"Idempotency-Key": "retry-2"})
    assert (fresh_key.json["code"], edge.passed) == ("sold_out", [])  # no answer under this key: refused here
    retry = attempt(client, schedule_id, resident, **{"Idempotency-Key": "retry-1"})
    assert (retry.status_code, retry.json, retry.headers["Idempotent-Replayed"]) == (201, first.json, "true")
    assert edge.passed == [BOOK]


def test_a_key_someone_else_used_gets_no_replay_of_their_answer(client, make, edge):
    """The marker is by the key's value (read before the account is known): another account presenting it reaches
    Flask, where the replay is scoped to the caller, and is refused there from the flags."""
    schedule_id = make.schedule(capacity=1, fee_fen=0)
    first = attempt(client, schedule_id, make.resident(), **{"Idempotency-Key": "shared-key"})
    assert first.status_code == 201
    assert book(client, make.resident(), schedule_id).json["code"] == "sold_out"
    other = make.resident()
    edge.passed.clear()
    answer = attempt(client, schedule_id, other, **{"Idempotency-Key": "shared-key"})
    assert (answer.status_code, answer.json["code"], edge.passed) == (409, "sold_out", [BOOK])
    assert "Idempotent-Replayed" not in answer.headers


def test_an_edge_that_fails_hands_the_request_to_the_app(client, make, sold_out, edge, monkeypatch):
    resident = make.resident()
    edge.passed.clear()

    def broken(environ):
        raise RuntimeError("a bug in the edge")
    monkeypatch.setattr(edge, "answer", broken)
    refused = attempt(client, sold_out, resident)
    assert (refused.status_code, refused.json["code"], edge.passed) == (409, "sold_out", [BOOK])
