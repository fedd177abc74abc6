"""An up-referral's appointment cancelled by the resident: the referral goes back to `sent` (appointment cleared,
history 预约已取消) through booking's appointment.cancelled event, and the referrer books again."""
import sqlalchemy as sa

from patient_api.common.audit import AuditEntry
from patient_api.directory.models import Ticket
from patient_api.extensions import db

from .referrals import API, World


def kept_free(app, schedule_id):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(
            Ticket.schedule_id == schedule_id, Ticket.reserved_for == "referral", Ticket.status == "free"))


def test_a_residents_cancel_sends_the_referral_back_to_sent_and_the_referrer_books_again(app, client, make):
    w = World(app, client, make)
    referral = w.send(w.up())
    appointment_id = referral["appointment"]["id"]
    assert referral["status"] == "booked" and kept_free(app, w.schedule_id) == 1
    cancelled = client.post(f"{API}/appointments/{appointment_id}/cancel", headers=w.headers)
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled", cancelled.json
    assert kept_free(app, w.schedule_id) == 2  # the ticket is back in the referral pool
    shown = client.get(f"{API}/staff/referrals/{referral['id']}", headers=w.clinic).json
    assert (shown["status"], shown["appointment"]) == ("sent", None)
    assert shown["history"][-1] | {"at": None} == {"status": "sent", "note": "预约已取消", "by": "就诊人", "at": None}
    assert [line["status"] for line in shown["history"]] == ["sent", "booked", "sent"]
    mine = client.get(f"{API}/me/referrals/{referral['id']}", headers=w.headers).json
    assert mine["status"] == "sent" and mine["history"][-1]["note"] == "预约已取消"
    with app.app_context():
        audit = db.session.scalars(sa.select(AuditEntry).filter_by(action="referral.appointment_cancelled")).one()
        assert audit.resource == referral["id"]
    again = w.step(w.clinic, referral["id"], "booking", {"schedule_id": w.schedule_id})
    assert again["status"] == "booked" and again["appointment"]["id"] != appointment_id
    assert [line["status"] for line in again["history"]] == ["sent", "booked", "sent", "booked"]


def test_the_referrals_own_decline_and_cancel_do_not_reopen_it(app, client, make):
    w = World(app, client, make)
    declined = w.step(w.city, w.send(w.up())["id"], "decline", {"reason": "本院床位已满"})
    assert declined["status"] == "declined" and declined["appointment"]["status"] == "cancelled"
    assert [line["status"] for line in declined["history"]] == ["sent", "booked", "declined"]
    _, _, id_number = w.resident()
    cancelled = w.step(w.clinic, w.send(w.up(id_number=id_number, report_ids=[]))["id"], "cancel",
                       {"reason": "患者要求暂缓"})
    assert [line["status"] for line in cancelled["history"]] == ["sent", "booked", "cancelled"]
    assert all(line["note"] is None for line in declined["history"] + cancelled["history"])
