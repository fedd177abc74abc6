"""The paid-replay edge: repeated WeChat Pay notifications of a paid order answered in front of Flask exactly as the
app answers them; every other notification reaches Flask with its body whole, its signature checked once."""
import logging

import pytest
import redis as redis_lib
from werkzeug.test import Client

from patient_api.billing import edge as edge_module
from patient_api.billing import notifications, replays
from patient_api.extensions import redis

from .test_notify_replays import held, paid_order  # noqa: F401  (the fixture is used by name)
from .test_payments import NOTIFY, notification, payment_counts, post
from .test_schedule_edge import Lines, counting, headers_of, installed


@pytest.fixture
def edge(app, monkeypatch):
    """The paid-replay edge, counting what it hands to Flask."""
    return counting(monkeypatch, installed(app, edge_module.PaidReplayEdge))


@pytest.fixture
def checks(monkeypatch):
    """A list that gains one entry per signature check (edge or view)."""
    seen, real = [], notifications.verify_notification

    def counted(*args, **kwargs):
        seen.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(notifications, "verify_notification", counted)
    return seen


def test_a_replay_never_enters_flask_and_is_answered_as_flask_would(app, client, held, edge):  # noqa: F811
    order, wire = paid_order(app, client, held)
    edge.passed.clear()
    assert post(client, wire).status_code == 204 and edge.passed == [NOTIFY]  # the first delivery: Flask
    edge.passed.clear()
    lines = Lines()
    logging.getLogger("patient_api").addHandler(lines)
    try:
        replay = post(client, wire)
    finally:
        logging.getLogger("patient_api").removeHandler(lines)
    assert edge.passed == []
    headers, body = wire
    via_flask = Client(edge.inner).post(NOTIFY, data=body, headers=headers)
    assert (replay.status_code, replay.data) == (via_flask.status_code, via_flask.data) == (204, b"")
    assert headers_of(replay) == headers_of(via_flask)
    said = [r.getMessage() for r in lines.records]
    assert [m for m in said if m.startswith("wechatpay notification")] == [
        f"wechatpay notification {wire_id(app, wire)} TRANSACTION.SUCCESS → duplicate"]
    assert [r for r in lines.records if r.name == "patient_api.access"][0].status == 204
    assert payment_counts(app, order["out_trade_no"]) == ("paid", {"issue": 1, "payment": 1})


def wire_id(app, wire):
    """The notification id WeChat gave this delivery."""
    with app.app_context():
        return notifications.verify(*wire)[1]["id"]


def test_a_first_delivery_reaches_flask_and_its_signature_is_checked_once(app, client, held, edge,  # noqa: F811
                                                                          checks):
    order, wire = paid_order(app, client, held)
    edge.passed.clear()
    assert post(client, wire).status_code == 204
    assert edge.passed == [NOTIFY] and checks == [1]
    assert payment_counts(app, order["out_trade_no"]) == ("paid", {"issue": 1, "payment": 1})
    assert post(client, wire).status_code == 204 and edge.passed == [NOTIFY] and checks == [1, 1]


@pytest.mark.parametrize("case", ["bad_signature", "unknown_serial", "other_transaction", "mark_missing",
                                  "redis_down"])
def test_what_the_edge_cannot_answer_goes_to_flask(app, client, held, edge, checks, monkeypatch, case):  # noqa: F811
    order, wire = paid_order(app, client, held)
    assert post(client, wire).status_code == 204
    edge.passed.clear()
    checks.clear()
    headers, body = wire
    expected = 204
    if case == "bad_signature":
        headers = {**headers, "Wechatpay-Signature": headers["Wechatpay-Signature"][:-8] + "AAAAAAA="}
        expected = (401, "bad_signature")
    elif case == "unknown_serial":
        headers = {**headers, "Wechatpay-Serial": "PUB_KEY_ID_SOMEONE_ELSE"}
        expected = (401, "unknown_serial")
    elif case == "other_transaction":
        headers, body = notification(app, order["out_trade_no"], 1200, transaction_id="4200000001202611220000000002")
        expected = (409, "transaction_mismatch")
    elif case == "mark_missing":
        redis.client.delete(replays.PREFIX + order["out_trade_no"])
    else:
        def down(*args, **kwargs):
            raise redis_lib.ConnectionError("Redis is down")
        monkeypatch.setattr(redis.client, "get", down)
    response = client.post(NOTIFY, data=body, headers=headers)
    answered = response.status_code if expected == 204 else (response.status_code, response.json["code"])
    assert answered == expected
    assert edge.passed == [NOTIFY]
    assert checks == [1]  # the edge's check, handed over to the view
    assert payment_counts(app, order["out_trade_no"]) == ("paid", {"issue": 1, "payment": 1})


def test_unsigned_or_oversized_posts_are_not_looked_at(app, client, held, edge, checks):  # noqa: F811
    _, wire = paid_order(app, client, held)
    edge.passed.clear()
    headers, body = wire
    unsigned = {k: v for k, v in headers.items() if k != "Wechatpay-Signature"}
    assert client.post(NOTIFY, data=body, headers=unsigned).status_code == 401
    padded = body + b" " * edge_module.MAX_BODY
    assert client.post(NOTIFY, data=padded, headers=headers).status_code == 401  # signed over other bytes
    assert edge.passed == [NOTIFY, NOTIFY] and checks == [1, 1]  # Flask's own checks only
