"""Command-line tools: demo data, hospital keys, the worker, one-off jobs.

Output: one plain line for a single fact, indented JSON (Chinese kept readable) for a result with several parts.
"""
import json

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .extensions import db

demo = AppGroup("demo", help="Demo data.")
hospital = AppGroup("hospital", help="Hospital integration settings.")
jobs = AppGroup("jobs", help="Run a periodic job once, now.")
staff_cli = AppGroup("staff", help="Hospital staff accounts.")
kiosk_cli = AppGroup("kiosk", help="Hospital kiosks (自助机).")
outbox_cli = AppGroup("outbox", help="Messages to hospitals and WeChat: dead letters and retries.")
wechat_cli = AppGroup("wechat", help="WeChat official account settings.")


def echo_json(data):
    """Print a structured result as indented JSON, never as a Python repr."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@demo.command("load")
@click.option("--days", default=8, show_default=True, help="Days of schedules from today.")
def demo_load(days):
    """Load the demo hospitals, departments, doctors and schedules (idempotent)."""
    from . import demo as demo_data
    demo_data.load(days)
    click.echo("demo data loaded")


@demo.command("clinical")
@click.option("--id-number", required=True, help="A resident ID number (the one you add as 就诊人 in the H5 pages).")
@click.option("--name", required=True)
@click.option("--phone", default="13800138000", show_default=True,
              help="The mobile hospitals hold for the person: 实名认证 codes go there (read them: sms inbox PHONE).")
def demo_clinical(id_number, name, phone):
    """Reports from three hospitals, a phone on file and an inpatient stay for one person (idempotent)."""
    from .demo_clinical import load
    from .errors import ApiError
    try:
        echo_json(load(id_number, name, phone))
    except (LookupError, ValueError, ApiError) as exc:
        raise click.ClickException(getattr(exc, "message", str(exc))) from None


@demo.command("rush-schedule")
@click.option("--capacity", default=30, show_default=True)
@click.option("--fee-fen", default=1200, show_default=True)
def demo_rush_schedule(capacity, fee_fen):
    """Create a schedule released now; prints its id last."""
    from . import demo as demo_data
    click.echo(demo_data.rush_schedule(capacity, fee_fen))


def _hospital(code):
    from .directory.models import Hospital
    row = db.session.scalars(select(Hospital).filter_by(code=code)).first()
    if row is None:
        raise click.ClickException(f"no hospital with code {code}")
    return row


@hospital.command("issue-key")
@click.argument("code")
def issue_key(code):
    """Issue a new integration key (the old one stops working); printed once, stored hashed."""
    from .integration.auth import issue_key as issue
    key = issue(_hospital(code))
    db.session.commit()
    click.echo(f"integration key for {code} (shown once):")
    click.echo(key)


@hospital.command("set-webhook")
@click.argument("code")
@click.argument("url")
def set_webhook(code, url):
    """Set the URL the hospital is called back at."""
    _hospital(code).webhook_url = url
    db.session.commit()
    click.echo(f"webhook for {code}: {url}")


@hospital.command("set-deposits")
@click.argument("code")
@click.option("--cap-fen", type=click.IntRange(1, 100_000_000), required=True,
              help="Most deposit money one admission may hold (the 2025 rule caps inpatient deposits).")
@click.option("--low-fen", type=click.IntRange(0, 100_000_000), required=True,
              help="Below this (deposits − charges) the ward list flags the bed low_deposit.")
def set_deposits(code, cap_fen, low_fen):
    """Set the hospital's inpatient deposit cap and low-deposit threshold, in fen."""
    row = _hospital(code)
    row.deposit_cap_fen, row.low_deposit_fen = cap_fen, low_fen
    db.session.commit()
    click.echo(f"deposits for {code}: cap {cap_fen} fen, low below {low_fen} fen")


@kiosk_cli.command("register")
@click.option("--hospital", "hospital_code", required=True)
@click.option("--name", required=True, help="Where it stands, e.g. 门诊大厅1号机.")
@click.option("--base-url", default=None,
              help="How the kiosk reaches this service (default PATIENT_API_PUBLIC_BASE_URL).")
def kiosk_register(hospital_code, name, base_url):
    """Register a kiosk; prints a one-time provisioning link (15 minutes), then its device id and secret once."""
    from .kiosk.provisioning import default_base_url, issue
    from .kiosk.signing import register
    device, secret = register(_hospital(hospital_code), name)
    db.session.commit()
    link = issue(device, base_url or default_base_url())
    click.echo("open on the kiosk within 15 minutes (works once; sets the kiosk browser up):")
    click.echo(link)
    click.echo(f"kiosk {device.id} registered; secret (shown once):")
    click.echo(f"{device.id} {secret}")


@kiosk_cli.command("disable")
@click.argument("device_id")
def kiosk_disable(device_id):
    """Stop a kiosk's requests at once (lost or replaced device)."""
    from .kiosk.models import KioskDevice
    device = db.session.get(KioskDevice, device_id)
    if device is None:
        raise click.ClickException(f"no kiosk {device_id}")
    device.active = False
    db.session.commit()
    click.echo(f"kiosk {device_id} disabled")


@jobs.command("waitlist")
def waitlist_job():
    """Offer freed tickets to waiters now (and settle earlier offers, close queues past their cutoff)."""
    from .booking.offers import run
    echo_json(run())
    db.session.commit()


@jobs.command("sweep-holds")
def sweep_holds():
    """Expire lapsed unpaid holds now."""
    from .booking.lifecycle import sweep_expired_holds
    click.echo(f"freed {sweep_expired_holds()}")


@jobs.command("no-shows")
def no_shows():
    """Mark no-shows of ended sessions now."""
    from .booking.lifecycle import mark_no_shows
    click.echo(f"marked {mark_no_shows()}")


@jobs.command("release-tickets")
def release_tickets():
    """号源预留: move kept-back tickets past their release time to the public now."""
    from .booking.pools import release_job
    echo_json(release_job())


@jobs.command("homecare")
def homecare_jobs():
    """互联网+护理: lapse requests past their review deadline, alert dispatchers about overdue visits, now."""
    from .homecare.jobs import alert_overdue_visits, lapse_requests
    echo_json({"lapsed": lapse_requests(), "overdue_alerts": alert_overdue_visits()})


@jobs.command("credit")
def credit_jobs():
    """先诊疗后付费 now: settle days already over, run due 无感支付 deductions, remind about and suspend overdue."""
    from .credit.deductions import run
    from .credit.jobs import close_days, remind_and_suspend
    echo_json({"settled": close_days(), "deductions": run(), "overdue": remind_and_suspend()})
    db.session.commit()


@staff_cli.command("create")
@click.option("--hospital", "hospital_code", required=True, help="Hospital code.")
@click.option("--username", required=True)
@click.option("--password", required=True, help="At least 10 characters with letters and digits.")
@click.option("--role", type=click.Choice(["nurse", "cashier", "admin", "dispatcher", "registrar", "family_team",
                                           "referrer"]), required=True)
@click.option("--wards", default="", help="Comma-separated ward codes the account may act on.")
@click.option("--name", default="", help="The person's name as colleagues read it (e.g. in a referral's history).")
def staff_create(hospital_code, username, password, role, wards, name):
    """Create a staff account (the password is stored as a scrypt hash)."""
    from .accounts.staff import create_staff
    from .errors import ApiError
    try:
        staff = create_staff(_hospital(hospital_code), username, password, role,
                             [w.strip() for w in wards.split(",") if w.strip()], name=name.strip() or None)
        db.session.commit()
    except ApiError as exc:
        db.session.rollback()
        details = json.dumps(exc.errors, ensure_ascii=False) if exc.errors else ""
        raise click.ClickException(f"{exc.message} {details}".strip()) from None
    except IntegrityError:
        db.session.rollback()
        raise click.ClickException(f"username {username} is taken") from None
    click.echo(f"created {staff.role} {staff.username} ({staff.id})")


@outbox_cli.command("dead")
def outbox_dead():
    """List messages that used up their retries (newest first)."""
    from .common import outbox
    rows = outbox.dead_letters()
    for row in rows:
        click.echo(f"{row.id}  {row.channel}  {row.destination}  {row.event}  attempts={row.attempts}  "
                   f"created={row.created_at:%Y-%m-%d %H:%M}  error={row.last_error}")
    click.echo(f"{len(rows)} dead")


@outbox_cli.command("retry")
@click.argument("message_id")
def outbox_retry(message_id):
    """Put a dead message back in line."""
    from .common import outbox
    if not outbox.retry(message_id):
        raise click.ClickException(f"{message_id} is not a dead message")
    db.session.commit()
    click.echo(f"{message_id} queued again")


@click.command("worker")
@click.option("--no-cron", is_flag=True, help="Do not start the periodic scheduler (run it on one host only).")
def worker(no_cron):
    """Run an RQ worker for the background jobs."""
    from . import worker as worker_module
    from .extensions import redis
    url = current_app.config.get("REDIS_URL")
    if not url:
        raise click.ClickException("the worker needs REDIS_URL (scripts/serve.sh starts the embedded Redis)")
    worker_module.preload(current_app._get_current_object())
    worker_module.run(redis.client, url, with_cron=not no_cron)


def register(app):
    """Attach the command groups to the app."""
    from . import sms
    from .accounts import cards
    from .billing.reconcile import reconcile_command
    from .family.cli import cli as family_cli
    from .wechat.menu import menu_cli
    wechat_cli.add_command(menu_cli)
    for command in (demo, hospital, jobs, kiosk_cli, outbox_cli, staff_cli, wechat_cli, worker, reconcile_command,
                    sms.cli(), cards.cli(), family_cli()):
        app.cli.add_command(command)
