"""Sending the outbox channel "wechat_message": one template (or subscribe) message per row.

The destination is an account id; its openid is looked up at send time. Transient failures (-1 busy,
45009 limit, network) raise, so the outbox retries with backoff and finally dead-letters the row.
Permanent refusals (not subscribed, refused, bad openid) and events without a template are marked
sent with a `skipped: …` note: retrying them would only fail again.
"""
import json
import logging

import sqlalchemy as sa

from ..accounts.models import Account
from ..common import outbox
from ..common.clock import now
from ..common.notify import CHANNEL
from ..common.outbox import OutboxMessage
from ..extensions import db
from . import facts, templates
from .token import WeChatError, api_request, call, redact

log = logging.getLogger(__name__)
PERMANENT = {43004: "user not subscribed", 43101: "user refused subscribe messages", 40003: "invalid openid"}
PATHS = {"template": "/cgi-bin/message/template/send", "subscribe": "/cgi-bin/message/subscribe/bizsend"}


class Skipped(Exception):
    """This message will never be sent; not a failure to retry."""


def request_for(message_id, account_id, event, payload_text):
    """(path, body) of WeChat's send request for one outbox row; raises Skipped when there is nothing to send."""
    template = templates.template_for(event)
    if template is None:
        raise Skipped(f"no template configured for {event}")
    openid, subscribed = db.session.execute(sa.select(Account.openid, Account.subscribed)
                                            .where(Account.id == account_id)).first() or (None, None)
    if openid is None:
        raise Skipped("account no longer exists")
    if subscribed is False and template.kind == "template":  # template messages need a follower (else 43004)
        raise Skipped("account unfollowed the official account")
    data, url = templates.render(template, facts.gather(json.loads(payload_text)))
    body = {"touser": openid, "template_id": template.template_id, "data": data}
    if template.kind == "subscribe":
        body["page"] = url
    else:
        # WeChat drops a second send with the same client_msg_id: a retry after a lost answer is not a duplicate.
        body.update(url=url, client_msg_id=message_id)
    return PATHS[template.kind], body


def send(message_id, account_id, event, payload_text):
    """Send one message; returns WeChat's msgid. Raises Skipped (final) or any other error (retry)."""
    try:
        path, body = request_for(message_id, account_id, event, payload_text)
    finally:
        db.session.rollback()  # read only: no transaction stays open during the call
    data = json.dumps(body, ensure_ascii=False).encode()

    def post(token):
        return api_request("POST", path, params={"access_token": token}, data=data,
                           headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        return call(post).get("msgid")
    except WeChatError as exc:
        if exc.errcode in PERMANENT:
            raise Skipped(f"errcode {exc.errcode} {PERMANENT[exc.errcode]}") from None
        raise


def deliver(instant=None, batch=50):
    """Worker job: send due WeChat messages; returns (sent, skipped, failed)."""
    instant = instant or now()
    counts = {"sent": 0, "skipped": 0, "failed": 0}
    for message_id, account_id, event, payload, attempts in outbox.lease_due(CHANNEL, instant, batch):
        error = note = None
        try:
            send(message_id, account_id, event, payload)
        except Skipped as skip:
            note = f"skipped: {skip}"
            log.info("wechat message %s (%s) %s", message_id, event, note)
        except Exception as exc:  # the far side or the network failed: the outbox backoff retries
            db.session.rollback()
            error = redact(f"{type(exc).__name__}: {exc}")
        outbox.record(message_id, attempts, error, instant)
        if note:
            db.session.execute(sa.update(OutboxMessage).where(OutboxMessage.id == message_id).values(last_error=note))
            db.session.commit()
        counts["failed" if error else "skipped" if note else "sent"] += 1
    return counts["sent"], counts["skipped"], counts["failed"]
