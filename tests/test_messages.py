"""消息 inbox: the account's WeChat messages (sent, refused, never sent), newest first, with read state."""
import sqlalchemy as sa

from patient_api.common import outbox
from patient_api.common.notify import CHANNEL
from patient_api.common.outbox import OutboxMessage
from patient_api.extensions import db

from .factories import chinese_name, resident_id


def account_of(client, headers):
    return client.get("/api/v1/auth/session", headers=headers).json["account_id"]


def tell(app, account_id, event, payload):
    """Queue a WeChat message to the account, as a producer would; returns the outbox row id."""
    with app.app_context():
        row = outbox.enqueue(CHANNEL, account_id, event, payload)
        db.session.commit()
        return row.id


def set_row(app, message_id, **values):
    with app.app_context():
        db.session.execute(sa.update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values))
        db.session.commit()


def person(make, n):
    """A signed-in account whose verified self link is person n; returns (headers, patient_id)."""
    headers = make.login()
    patient_id = make.patient(headers, n)
    make.verify(headers, patient_id)
    return headers, patient_id


def test_a_family_request_arrives_in_the_inbox_and_opens_the_links_page(client, make):
    me, patient_id = person(make, 4101)
    family = make.login()
    added = client.post("/api/v1/me/patients", json={"name": chinese_name(4101), "id_number": resident_id(4101),
                                                     "relation": "parent"}, headers=family)
    assert added.status_code == 201 and added.json["link_status"] == "pending"

    inbox = client.get("/api/v1/me/messages", headers=me)
    assert inbox.status_code == 200
    assert inbox.json["unread_count"] == 1
    [message] = inbox.json["items"]
    assert message["event"] == "proxy.requested" and message["title"] == "家人申请代您办理"
    assert message["path"] == f"/patients/{patient_id}/links"
    assert message["read"] is False and message["delivery"] == "pending"  # not sent (yet): listed all the same
    assert "*" in message["lines"][0]  # the person's name masked
    assert client.get("/api/v1/me/messages", headers=family).json["items"] == []  # not the family's message


def test_newest_first_paged_by_cursor_with_every_delivery_state(app, client, make):
    me = make.login()
    account = account_of(client, me)
    ids = [tell(app, account, "proxy.declined", {"patient_id": "pat_x"}) for _ in range(5)]
    set_row(app, ids[0], status="dead", last_error="ConnectionError: timed out")  # WeChat never got it
    set_row(app, ids[1], status="sent", last_error="skipped: errcode 43004 user not subscribed")  # refused
    set_row(app, ids[2], status="sent")
    with app.app_context():  # distinct times, oldest first as queued
        from datetime import timedelta

        from patient_api.common.clock import now
        base = now() - timedelta(hours=1)
        for i, message_id in enumerate(ids):
            db.session.execute(sa.update(OutboxMessage).where(OutboxMessage.id == message_id)
                               .values(created_at=base + timedelta(minutes=i)))
        db.session.commit()

    first = client.get("/api/v1/me/messages?limit=2", headers=me).json
    assert [m["id"] for m in first["items"]] == [ids[4], ids[3]] and first["has_more"]
    second = client.get(f"/api/v1/me/messages?limit=2&cursor={first['next_cursor']}", headers=me).json
    third = client.get(f"/api/v1/me/messages?limit=2&cursor={second['next_cursor']}", headers=me).json
    assert [m["id"] for m in second["items"] + third["items"]] == [ids[2], ids[1], ids[0]]
    assert not third["has_more"] and third["next_cursor"] is None
    states = {m["id"]: m["delivery"] for m in first["items"] + second["items"] + third["items"]}
    assert states == {ids[4]: "pending", ids[3]: "pending", ids[2]: "sent", ids[1]: "not_sent", ids[0]: "failed"}
    assert first["unread_count"] == 5


def test_reading_marks_one_message_and_never_another_accounts(app, client, make):
    me, other = make.login(), make.login()
    mine = tell(app, account_of(client, me), "proxy.revoked", {"patient_id": "pat_x"})
    theirs = tell(app, account_of(client, other), "proxy.revoked", {"patient_id": "pat_x"})

    read = client.post(f"/api/v1/me/messages/{mine}/read", headers=me)
    assert read.status_code == 200 and read.json["read"] is True and read.json["read_at"]
    again = client.post(f"/api/v1/me/messages/{mine}/read", headers=me)
    assert again.status_code == 200 and again.json["read_at"] == read.json["read_at"]
    listed = client.get("/api/v1/me/messages", headers=me).json
    assert listed["unread_count"] == 0 and listed["items"][0]["read"] is True
    assert client.get("/api/v1/me/messages?unread=true", headers=me).json["items"] == []

    refused = client.post(f"/api/v1/me/messages/{theirs}/read", headers=me)
    assert refused.status_code == 404 and refused.json["code"] == "message_not_found"
    assert client.post("/api/v1/me/messages/obx_nosuchmessage/read", headers=me).status_code == 404
    assert theirs not in [m["id"] for m in listed["items"]]
    assert client.get("/api/v1/me/messages", headers=other).json["items"][0]["read"] is False
    assert client.get("/api/v1/me/messages").status_code == 401


def test_clinical_news_is_withheld_once_the_account_may_no_longer_read_it(app, client, make):
    me, patient_id = person(make, 4103)
    account = account_of(client, me)
    tell(app, account, "report.ready", {"patient_id": patient_id, "report_id": "rpt_gone"})
    shown = client.get("/api/v1/me/messages", headers=me).json["items"][0]
    assert shown["title"] == "报告已出" and shown["path"] == "/reports/rpt_gone"
    assert client.delete(f"/api/v1/me/patients/{patient_id}", headers=me).status_code == 204
    withheld = client.get("/api/v1/me/messages", headers=me).json["items"][0]
    assert withheld["title"] == "报告已出" and withheld["path"] is None
    assert withheld["lines"] == ["您已不再是该就诊人的授权账户，内容不再显示"]
