"""Text messages (one-time codes): queued in the outbox with the producer's transaction, sent by the worker.

Providers: `sandbox` keeps messages in a table for the demo and tests (refused in production) and
`tencent` sends through Tencent Cloud SMS. The phone and the template values travel encrypted.
"""
import json
import logging

from flask import current_app

from ..common import crypto, outbox
from ..common.phone import mobile
from ..extensions import db
from .errors import SmsSendError
from .models import SandboxSms

log = logging.getLogger(__name__)
CHANNEL = "sms"
TEXTS = {"verification": "【{sign}】您的验证码为{0}，{1}分钟内有效。如非本人操作，请忽略本短信。"}


def send(phone_enc, template, params):
    """Queue a templated message to an (encrypted) phone; it leaves only if the caller's transaction commits."""
    outbox.enqueue(CHANNEL, "-", template, {"phone": phone_enc, "params": crypto.encrypt(json.dumps(params))})


class Sandbox:
    """Development and test provider: the message is stored, readable with `flask --app wsgi sms inbox PHONE`."""

    def __init__(self, config):
        self.sign = config["SMS_SIGN_NAME"]

    def send(self, phone, template, params):
        text = TEXTS[template].format(*params, sign=self.sign)
        row = SandboxSms(phone_index=crypto.blind_index(phone), text=text)
        db.session.add(row)
        db.session.commit()
        return row.id


def provider(config=None):
    """The configured provider (SMS_PROVIDER: sandbox | tencent)."""
    config = config or current_app.config
    if config["SMS_PROVIDER"] == "tencent":
        from .tencent import TencentSms
        return TencentSms(config)
    return Sandbox(config)


def deliver(instant=None, batch=50):
    """Worker job: send due messages; permanent refusals are not retried. Returns (sent, failed)."""
    chosen = provider()

    def send_one(_destination, template, payload):
        data = json.loads(payload)
        try:
            chosen.send(crypto.decrypt(data["phone"]), template, json.loads(crypto.decrypt(data["params"])))
        except SmsSendError as exc:
            if exc.retryable:
                raise
            log.warning("sms not sent and not retried: %s", exc.code)  # the resident asks for a new code
    return outbox.drain(CHANNEL, send_one, instant, batch)


def inbox(phone, limit=20):
    """Sandbox messages to that phone, newest last."""
    import sqlalchemy as sa
    rows = db.session.scalars(sa.select(SandboxSms).filter_by(phone_index=crypto.blind_index(phone))
                              .order_by(SandboxSms.created_at.desc(), SandboxSms.id.desc()).limit(limit)).all()
    return list(reversed(rows))


def cli():
    """`flask sms inbox PHONE` and `flask sms deliver`: the sandbox inbox, and sending due messages now."""
    import click
    from flask.cli import AppGroup
    group = AppGroup("sms", help="Text messages (sandbox inbox; send due messages).")

    @group.command("inbox")
    @click.argument("phone")
    def inbox_command(phone):
        """Messages the sandbox provider 'sent' to PHONE, newest last (development and tests only)."""
        if current_app.config["SMS_PROVIDER"] != "sandbox":
            raise click.ClickException("the sandbox inbox exists only with PATIENT_API_SMS_PROVIDER=sandbox")
        number = mobile(phone)
        if number is None:
            raise click.ClickException("手机号码无效")
        deliver()  # anything still queued lands first
        rows = inbox(number)
        if not rows:
            click.echo("（没有短信）")
        for row in rows:
            click.echo(f"{row.created_at.isoformat(timespec='seconds')}  {row.text}")

    @group.command("deliver")
    def deliver_command():
        """Send due text messages now."""
        sent, failed = deliver()
        click.echo(f"sent {sent}, failed {failed}")
    return group
