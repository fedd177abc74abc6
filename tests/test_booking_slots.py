"""Booking a chosen time window (分时段): the window's ticket, slot_full, bad or past windows, races, kiosks."""
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from patient_api.booking import services, tickets
from patient_api.booking.models import Appointment
from patient_api.common.clock import now
from patient_api.directory import services as directory
from patient_api.directory.models import Schedule, Ticket
from patient_api.errors import ApiError
from patient_api.extensions import db

from .factories import chinese_name, resident_id
from .kiosk import Kiosk
from .sqlcount import statements
from .test_races import active_count, fire, residents, threads_for

BOOK = "/api/v1/appointments"


def slots(client, schedule_id):
    return client.get(f"/api/v1/schedules/{schedule_id}/slots").json["items"]


def book(client, resident, schedule_id, slot_start=None):
    """POST /appointments for a (headers, patient_id) resident, with slot_start when given."""
    headers, patient_id = resident
    body = {"schedule_id": schedule_id, "patient_id": patient_id}
    if slot_start is not None:
        body["slot_start"] = slot_start
    return client.post(BOOK, json=body, headers=headers)


def sold_out_flag(redis_client, schedule_id):
    return bool(redis_client.exists(f"soldout:{schedule_id}"))


def window_tickets(schedule_id, start):
    """(seq, status, appointment_id) of one window's tickets, in queue order (inside an app context)."""
    return db.session.execute(sa.select(Ticket.seq, Ticket.status, Ticket.appointment_id).where(
        Ticket.schedule_id == schedule_id, Ticket.window_start == datetime.fromisoformat(start))
        .order_by(Ticket.seq)).all()


def free_tickets(schedule_id):
    return db.session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(
        Ticket.schedule_id == schedule_id, Ticket.status == "free"))


def test_chosen_window_gets_a_ticket_of_that_window(app, client, make):
    schedule_id = make.schedule(capacity=16, fee_fen=1200)  # 8 windows of 30 minutes, 2 tickets each
    windows = slots(client, schedule_id)
    assert [w["status"] for w in windows] == ["open"] * 8
    chosen = windows[2]
    assert chosen["start"].endswith("T09:00:00+08:00")
    first, second = make.resident(), make.resident()
    taken = [book(client, who, schedule_id, slot_start=chosen["start"]) for who in (first, second)]
    assert [r.status_code for r in taken] == [201, 201]
    assert [r.json["queue_no"] for r in taken] == [5, 6]  # the window's own queue numbers, not 1 and 2
    assert {(r.json["visit_start"], r.json["visit_end"]) for r in taken} == {(chosen["start"], chosen["end"])}
    assert {r.json["status"] for r in taken} == {"pending_payment"}
    after = slots(client, schedule_id)
    assert (after[2]["available"], after[2]["status"], after[2]["capacity"]) == (0, "full", 2)
    assert [w["status"] for i, w in enumerate(after) if i != 2] == ["open"] * 7
    assert client.get(f"/api/v1/schedules/{schedule_id}").json["available"] == 14
    unchosen = book(client, make.resident(), schedule_id)  # without slot_start: the next free ticket, as before
    assert (unchosen.status_code, unchosen.json["queue_no"]) == (201, 1)
    assert unchosen.json["visit_start"] == windows[0]["start"]
    with app.app_context():
        assert [(seq, status) for seq, status, _ in window_tickets(schedule_id, chosen["start"])] == [
            (5, "held"), (6, "held")]


def test_same_window_written_in_utc_is_the_same_window(client, make):
    schedule_id = make.schedule(capacity=16, fee_fen=0)
    chosen = slots(client, schedule_id)[1]
    in_utc = datetime.fromisoformat(chosen["start"]).astimezone(timezone.utc).isoformat()
    assert in_utc.endswith("+00:00")
    response = book(client, make.resident(), schedule_id, slot_start=in_utc)
    assert response.status_code == 201 and response.json["visit_start"] == chosen["start"]
    assert response.json["status"] == "booked" and response.json["queue_no"] == 3


def test_full_window_is_409_slot_full_while_other_windows_still_book(client, make, redis_client):
    schedule_id = make.schedule(capacity=16)
    windows = slots(client, schedule_id)
    for _ in range(2):
        assert book(client, make.resident(), schedule_id, slot_start=windows[0]["start"]).status_code == 201
    full = book(client, make.resident(), schedule_id, slot_start=windows[0]["start"])
    assert full.status_code == 409 and full.json["code"] == "slot_full"
    assert full.json["message"] == "该时段已约满，请选择其他时段" and "errors" not in full.json
    assert not sold_out_flag(redis_client, schedule_id)  # the other windows are still on sale
    other = book(client, make.resident(), schedule_id, slot_start=windows[7]["start"])
    assert (other.status_code, other.json["queue_no"], other.json["visit_start"]) == (201, 15, windows[7]["start"])
    unchosen = book(client, make.resident(), schedule_id)
    assert (unchosen.status_code, unchosen.json["queue_no"]) == (201, 3)  # skips the full window
    assert [w["status"] for w in slots(client, schedule_id)][:2] == ["full", "open"]


def test_a_full_window_is_refused_before_the_patients_checks_and_locks(app, client, make, redis_client):
    """An attempt at a window nobody can take a ticket of is answered from the window's one count: no patient row
    read or locked, no holds expired, no limits counted, no claim tried — the 07:00 attempts racing the first
    refusal's Redis flag cost the database little. The window is flagged, the schedule is not."""
    schedule_id = make.schedule(capacity=16)
    start = slots(client, schedule_id)[0]["start"]
    for _ in range(2):
        assert book(client, make.resident(), schedule_id, slot_start=start).status_code == 201
    late = make.resident()
    redis_client.delete(f"soldout:{schedule_id}:w")  # as if this attempt passed the edge before the flag was set
    with statements(app) as sql:
        refused = book(client, late, schedule_id, slot_start=start)
    assert (refused.status_code, refused.json["code"]) == (409, "slot_full")
    assert refused.json["message"] == "该时段已约满，请选择其他时段"
    assert not any(" for update" in s.lower() or s.lower().startswith("update patients") for s in sql)  # no lock
    assert not any("from appointments" in s.lower() for s in sql)  # no limits counted, no holds expired
    assert not any(s.lower().startswith("update tickets") for s in sql)  # no claim tried
    assert len(sql) <= 5, sql  # link, schedule, the window's count, the schedule's count (for the sold-out flag)
    assert redis_client.hexists(f"soldout:{schedule_id}:w", datetime.fromisoformat(start)
                                .astimezone(timezone.utc).isoformat())
    assert not sold_out_flag(redis_client, schedule_id)


def test_sold_out_flag_is_set_only_when_the_last_window_fills(client, make, redis_client):
    schedule_id = make.schedule(capacity=2)  # one ticket in each of the first two windows
    windows = slots(client, schedule_id)
    assert [(w["capacity"], w["status"]) for w in windows] == [(1, "open"), (1, "open")]
    assert book(client, make.resident(), schedule_id, slot_start=windows[1]["start"]).status_code == 201
    second = book(client, make.resident(), schedule_id, slot_start=windows[1]["start"])
    assert second.json["code"] == "slot_full" and not sold_out_flag(redis_client, schedule_id)
    assert book(client, make.resident(), schedule_id, slot_start=windows[0]["start"]).status_code == 201
    last = book(client, make.resident(), schedule_id, slot_start=windows[0]["start"])
    assert (last.status_code, last.json["code"]) == (409, "slot_full")
    assert "其他时段也已约满" in last.json["message"] and sold_out_flag(redis_client, schedule_id)
    shed = book(client, make.resident(), schedule_id, slot_start=windows[0]["start"])  # turned away in Redis now
    assert (shed.status_code, shed.json["code"]) == (409, "sold_out")


@pytest.mark.parametrize("slot_start, code", [
    ("T08:15:00+08:00", "invalid_slot"),  # inside a window, not its start
    ("T12:00:00+08:00", "invalid_slot"),  # the end of the session
    ("next-day", "invalid_slot"),  # a window of another schedule (the next day)
    ("soon", "validation_error"),  # not a datetime at all
])
def test_slot_start_that_is_not_a_window_of_the_schedule_is_422(client, make, slot_start, code):
    schedule_id = make.schedule(capacity=16)
    other_day = make.schedule(capacity=16, days_ahead=2)
    day = slots(client, schedule_id)[0]["start"][:10]
    if slot_start == "next-day":
        slot_start = slots(client, other_day)[0]["start"]
    elif slot_start.startswith("T"):
        slot_start = day + slot_start
    response = book(client, make.resident(), schedule_id, slot_start=slot_start)
    assert response.status_code == 422 and response.json["code"] == code
    assert list(response.json["errors"]) == ["slot_start"]
    if code == "invalid_slot":
        assert response.json["message"] == "所选时段不属于该排班，请重新选择时段"
        assert "时段" in response.json["errors"]["slot_start"][0]
    assert client.get(f"/api/v1/schedules/{schedule_id}").json["available"] == 16


def test_null_slot_start_books_the_next_free_ticket(client, make):
    schedule_id = make.schedule(capacity=16)
    headers, patient_id = make.resident()
    response = client.post(BOOK, json={"schedule_id": schedule_id, "patient_id": patient_id, "slot_start": None},
                           headers=headers)
    assert response.status_code == 201 and response.json["queue_no"] == 1


def test_window_already_over_is_409_slot_past_and_listed_as_past(app, client, make):
    schedule_id = make.schedule(capacity=16, fee_fen=0)
    windows = slots(client, schedule_id)
    (_, patient_id, account_id), = residents(app, 1)
    with app.app_context():
        during = datetime.fromisoformat(windows[1]["start"]) + timedelta(minutes=10)  # 08:40 on the visit day
        with pytest.raises(ApiError) as past:
            services.book(account_id, patient_id, schedule_id, instant=during,
                          slot_start=datetime.fromisoformat(windows[0]["start"]))
        assert (past.value.status, past.value.code) == (409, "slot_past")
        assert past.value.message == "该时段已结束，请选择其他时段"
        db.session.rollback()
        listed = directory.slots(schedule_id, instant=during)
        assert [w["status"] for w in listed[:3]] == ["past", "open", "open"]
        current = services.book(account_id, patient_id, schedule_id, instant=during,
                                slot_start=datetime.fromisoformat(windows[1]["start"]))  # started, not over
        assert current.queue_no == 3
        db.session.commit()


def test_list_counts_only_tickets_booking_can_still_claim(app, client, make):
    """A session in progress whose free tickets lie in windows already over must not show them as 余号."""
    schedule_id = make.schedule(capacity=16, fee_fen=0)
    windows = slots(client, schedule_id)
    with app.app_context():
        def listed(instant):
            return directory.with_pools([db.session.get(Schedule, schedule_id)], instant)[0].public_available

        first_start = datetime.fromisoformat(windows[0]["start"])
        last_end = datetime.fromisoformat(windows[-1]["end"])
        last_size = windows[-1]["capacity"]
        for instant, expected in ((first_start - timedelta(hours=1), 16),
                                  (datetime.fromisoformat(windows[1]["start"]) + timedelta(minutes=10),
                                   16 - windows[0]["capacity"]),
                                  (last_end - timedelta(minutes=1), last_size)):
            assert listed(instant) == expected == tickets.claimable_count(schedule_id, instant)
        assert last_size < 16


def test_chosen_window_reclaims_a_lapsed_hold_of_that_window(app, client, make):
    schedule_id = make.schedule(capacity=2, fee_fen=1200)
    windows = slots(client, schedule_id)
    (_, first, first_account), (_, second, second_account) = residents(app, 2)
    start = datetime.fromisoformat(windows[1]["start"])
    with app.app_context():
        held = services.book(first_account, first, schedule_id, slot_start=start)
        db.session.commit()
        later = now() + timedelta(minutes=16)
        taken = services.book(second_account, second, schedule_id, instant=later, slot_start=start)
        db.session.commit()
        assert (taken.queue_no, taken.visit_start) == (held.queue_no, start)
        assert db.session.get(Appointment, held.id).status == "expired"
        assert db.session.get(Schedule, schedule_id).available == 1 == free_tickets(schedule_id)


def test_kiosk_books_a_chosen_window(app, client, make):
    kiosk = Kiosk(app, client)
    make.patient(make.login(), 806)
    schedule_id = make.schedule(capacity=16)
    windows = slots(client, schedule_id)
    kiosk.card(method="id_card", id_number=resident_id(806), name=chinese_name(806))
    bad = kiosk.call("POST", "/api/v1/kiosk/appointments", {"schedule_id": schedule_id,
                                                           "slot_start": windows[0]["start"][:10] + "T08:10:00+08:00"})
    assert (bad.status_code, bad.json["code"], list(bad.json["errors"])) == (422, "invalid_slot", ["slot_start"])
    booked = kiosk.call("POST", "/api/v1/kiosk/appointments",
                        {"schedule_id": schedule_id, "slot_start": windows[4]["start"]})
    assert booked.status_code == 201
    assert (booked.json["queue_no"], booked.json["visit_start"]) == (9, windows[4]["start"])


def test_40_residents_race_for_a_window_of_6_tickets(app, client, make, redis_client):
    capacity, per_window = 48, 6
    schedule_id = make.schedule(capacity=capacity, fee_fen=1200)
    window = slots(client, schedule_id)[3]
    assert window["capacity"] == per_window
    people = residents(app, 40)
    results = fire(app, [(h, {"schedule_id": schedule_id, "patient_id": p, "slot_start": window["start"]})
                         for h, p, _ in people], threads_for(app))
    outcome = Counter(status if status == 201 else body["code"] for status, body in results)
    assert outcome == {201: per_window, "slot_full": 40 - per_window}
    winners = {body["id"] for status, body in results if status == 201}
    assert {body["visit_start"] for status, body in results if status == 201} == {window["start"]}
    assert sorted(body["queue_no"] for status, body in results if status == 201) == list(range(19, 25))
    assert not sold_out_flag(redis_client, schedule_id)
    with app.app_context():
        tickets = window_tickets(schedule_id, window["start"])
        assert [status for _, status, _ in tickets] == ["held"] * per_window  # never over-claimed
        assert {appointment_id for _, _, appointment_id in tickets} == winners
        assert active_count(schedule_id) == per_window
        schedule = db.session.get(Schedule, schedule_id)
        assert schedule.available == free_tickets(schedule_id) == capacity - per_window
        taken_elsewhere = db.session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(
            Ticket.schedule_id == schedule_id, Ticket.status != "free",
            Ticket.window_start != datetime.fromisoformat(window["start"])))
        assert taken_elsewhere == 0
    assert [w["status"] for w in slots(client, schedule_id)].count("full") == 1


def test_window_choosers_and_next_free_bookers_racing_never_oversell(app, client, make, redis_client):
    capacity = 16
    schedule_id = make.schedule(capacity=capacity, fee_fen=1200)
    window = slots(client, schedule_id)[0]  # also the tickets the next-free bookers reach first
    choosers, others = residents(app, 30), residents(app, 30, start=20_000)
    calls = [(h, {"schedule_id": schedule_id, "patient_id": p, "slot_start": window["start"]}) for h, p, _ in choosers]
    calls += [(h, {"schedule_id": schedule_id, "patient_id": p}) for h, p, _ in others]
    results = fire(app, calls, threads_for(app))
    chose = Counter(status if status == 201 else body["code"] for status, body in results[:30])
    rest = Counter(status if status == 201 else body["code"] for status, body in results[30:])
    assert chose[201] + rest[201] == capacity  # every ticket taken exactly once
    assert chose[201] <= window["capacity"] and set(chose) <= {201, "slot_full", "sold_out"}
    assert set(rest) == {201, "sold_out"} and rest[201] + rest["sold_out"] == 30
    chosen_visits = {body["visit_start"] for status, body in results[:30] if status == 201}
    assert chosen_visits <= {window["start"]}
    assert sold_out_flag(redis_client, schedule_id)
    with app.app_context():
        assert active_count(schedule_id) == capacity
        assert db.session.get(Schedule, schedule_id).available == 0 == free_tickets(schedule_id)
        per_ticket = db.session.execute(sa.select(Appointment.ticket_id, sa.func.count()).where(
            Appointment.schedule_id == schedule_id, Appointment.status == "pending_payment")
            .group_by(Appointment.ticket_id)).all()
        assert len(per_ticket) == capacity and all(n == 1 for _, n in per_ticket)
