"""Follow / unfollow: the callback queues the change for the worker, which records it; unfollowers get no templates."""
import json
import time

import sqlalchemy as sa
from rq import Queue

from patient_api.accounts.models import Account
from patient_api.extensions import db
from patient_api.wechat import subscriptions
from patient_api.worker import QUEUE

from .test_wechat_callback import event_xml, post_plain, wechat  # noqa: F401  (fixture)
from .test_wechat_messages import deliver, enqueue, resident, templates  # noqa: F401  (fixture)

OPENID = "oFollow-2026-0001"


def queued_changes(redis_client):
    """(openid, subscribed, create_time) of the follow changes waiting for the worker, oldest first."""
    return [tuple(job.args) for job in Queue(QUEUE, connection=redis_client).jobs
            if job.func_name.endswith("record_subscription")]


def test_follow_and_unfollow_are_queued_then_recorded_newest_wins(app, client, wechat, redis_client):  # noqa: F811
    now = int(time.time())
    assert post_plain(client, event_xml("subscribe", sender=OPENID, created=now - 60)).status_code == 200
    assert post_plain(client, event_xml("unsubscribe", sender=OPENID, created=now)).status_code == 200
    changes = queued_changes(redis_client)
    assert changes == [(OPENID, True, now - 60), (OPENID, False, now)]
    with app.app_context():  # the worker runs them, here in the late order: the older follow must not win
        assert subscriptions.record(*changes[1]) is False
        assert subscriptions.record(*changes[0]) is False
        account = db.session.scalars(sa.select(Account).filter_by(openid=OPENID)).one()
        assert account.subscribed is False and int(account.subscription_changed_at.timestamp()) == now
        assert subscriptions.record(OPENID, True, now + 5) is True  # followed again


def test_an_unfollower_gets_no_template_message(app, make, templates, monkeypatch):  # noqa: F811
    _, account_id, _ = resident(make)
    with app.app_context():
        openid = db.session.get(Account, account_id).openid
        subscriptions.record(openid, False, int(time.time()))
    enqueue(app, account_id, "refund.done", {"refund_id": "rfd_x"})
    sent = []
    monkeypatch.setattr("patient_api.wechat.token.requests.request", lambda *a, **k: sent.append(a))
    assert deliver(app) == (0, 1, 0) and sent == []
    with app.app_context():
        from patient_api.common.outbox import OutboxMessage
        row = db.session.scalars(sa.select(OutboxMessage).filter_by(event="refund.done")).one()
        assert row.status == "sent" and "unfollowed" in row.last_error
    assert json.loads(row.payload) == {"refund_id": "rfd_x"}
