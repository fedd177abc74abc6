"""Schedules read for one 就诊人: `available_to_patient` counts the elder-kept tickets a verified family proxy may book.

The counts come from booking's own eligibility rule, so a family member never sees a ticket that booking then refuses
(docs/booking-pools.md); the public view without `patient_id` is unchanged.
"""
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from patient_api.accounts.models import PatientLink
from patient_api.booking import services
from patient_api.common.clock import today_local
from patient_api.directory import services as directory
from patient_api.directory.models import Schedule, Ticket
from patient_api.extensions import db

from .factories import day_start, resident_id
from .pools import elder_id, pooled_schedule, refused
from .sqlcount import statements
from .test_races import residents

LATER = {"release_hours_before": 2}  # tomorrow's session: still kept back today
SCHEDULES = "/api/v1/schedules"


def born_years_ago(years):
    """A birth date (YYYYMMDD) of someone `years` old tomorrow, the visit day."""
    day = today_local() + timedelta(days=1)
    return f"{day.year - years}{day.month:02d}{min(day.day, 28):02d}"


def fill_public(app, client, schedule_id, count, start):
    """`count` other residents book the public tickets."""
    for headers, patient_id, _ in residents(app, count, start=start):
        booked = client.post("/api/v1/appointments", json={"schedule_id": schedule_id, "patient_id": patient_id},
                             headers=headers)
        assert booked.status_code == 201, booked.json


def views(client, headers, patient_id, schedule_id):
    """The schedule as the list, the item and the slots show it to this account for this patient."""
    query = {"patient_id": patient_id}
    listed = client.get(SCHEDULES, query_string=query, headers=headers)
    one = client.get(f"{SCHEDULES}/{schedule_id}", query_string=query, headers=headers)
    slots = client.get(f"{SCHEDULES}/{schedule_id}/slots", query_string=query, headers=headers)
    assert (listed.status_code, one.status_code, slots.status_code) == (200, 200, 200), (listed.json, one.json)
    item = next(row for row in listed.json["items"] if row["id"] == schedule_id)
    assert item == one.json
    assert "birth" not in str(one.json) and "age" not in one.json  # eligibility only, never the age itself
    return one.json, slots.json["items"]


def book(client, headers, patient_id, schedule_id):
    return client.post("/api/v1/appointments", json={"schedule_id": schedule_id, "patient_id": patient_id},
                       headers=headers)


@pytest.fixture
def proxy_of_elder(make):
    """A family member whose parent link to a 70-year-old is verified: (headers, patient_id)."""
    headers = make.login()
    patient_id = make.patient(headers, 911, id_number=elder_id(911, born=born_years_ago(70)), relation="parent")
    assert make.verify(headers, patient_id)["link_status"] == "verified"
    return headers, patient_id


def test_a_verified_proxy_of_a_70_year_old_sees_and_books_the_elder_kept_tickets(app, client, proxy_of_elder):
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.4, **LATER}}, capacity=5)
    headers, patient_id = proxy_of_elder
    schedule, slots = views(client, headers, patient_id, schedule_id)
    assert (schedule["available"], schedule["available_to_patient"], schedule["kept_for_patient"]) == (3, 5, {
        "elder": 2})
    assert sum(slot["available_to_patient"] for slot in slots) == 5
    assert sum(slot["kept_for_patient"]["elder"] for slot in slots) == 2
    fill_public(app, client, schedule_id, 3, start=42_000)
    schedule, slots = views(client, headers, patient_id, schedule_id)
    assert (schedule["available"], schedule["available_to_patient"], schedule["kept_for_patient"]) == (0, 2, {
        "elder": 2})
    kept_window = next(slot for slot in slots if slot["kept_for_patient"]["elder"])
    assert kept_window["available"] == 0 and kept_window["available_to_patient"] == 1
    done = book(client, headers, patient_id, schedule_id)
    assert done.status_code == 201 and done.json["pool"] == "elder"
    public = client.get(f"{SCHEDULES}/{schedule_id}").json
    assert "available_to_patient" not in public and public["available"] == 0  # the public view is unchanged


def test_the_count_is_what_booking_then_allows(app, client, make):
    """Proxies of different elders book until refused: successes == the available_to_patient they were shown, and
    each one's count drops by the ticket the one before took."""
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.3, **LATER}, "referral": {"share": 0.2, **LATER}},
                                  capacity=10)
    fill_public(app, client, schedule_id, 4, start=43_000)
    proxies = []
    for n in range(921, 927):
        headers = make.login()
        patient_id = make.patient(headers, n, id_number=elder_id(n, born=born_years_ago(66 + n % 5)),
                                  relation="parent")
        make.verify(headers, patient_id)
        proxies.append((headers, patient_id))
    first = views(client, *proxies[0], schedule_id)[0]
    assert first["kept_for_patient"] == {"elder": 3}  # the referral pool is not the elders'
    promised = first["available_to_patient"]
    assert promised == 4
    successes = 0
    for headers, patient_id in proxies:
        shown = views(client, headers, patient_id, schedule_id)[0]["available_to_patient"]
        assert shown == promised - successes
        answer = book(client, headers, patient_id, schedule_id)
        if answer.status_code != 201:
            refused(answer, 409, "sold_out")
            break
        successes += 1
    assert successes == promised


@pytest.mark.parametrize("who", ["self", "claimed", "sixty"])
def test_others_see_only_public_tickets(app, client, make, who):
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.4, **LATER}}, capacity=5)
    headers = make.login()
    if who == "sixty":
        patient_id = make.patient(headers, 931, id_number=elder_id(931, born=born_years_ago(60)), relation="parent")
        make.verify(headers, patient_id)
    else:
        patient_id = make.patient(headers, 932, id_number=elder_id(932, born=born_years_ago(70)),
                                  relation="self" if who == "self" else "parent")
        if who == "self":
            make.verify(headers, patient_id)
    schedule, slots = views(client, headers, patient_id, schedule_id)
    assert (schedule["available_to_patient"], schedule["kept_for_patient"]) == (3, {})
    assert [slot["available_to_patient"] for slot in slots] == [slot["available"] for slot in slots]
    fill_public(app, client, schedule_id, 3, start=44_000)
    assert views(client, headers, patient_id, schedule_id)[0]["available_to_patient"] == 0
    refused(book(client, headers, patient_id, schedule_id), 409, "sold_out")


def test_another_accounts_patient_is_not_found_and_anonymous_is_401(app, client, make, proxy_of_elder):
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.4, **LATER}}, capacity=5)
    _, patient_id = proxy_of_elder
    stranger = make.login()
    for path in (SCHEDULES, f"{SCHEDULES}/{schedule_id}", f"{SCHEDULES}/{schedule_id}/slots"):
        refused(client.get(path, query_string={"patient_id": patient_id}, headers=stranger), 404, "patient_not_found")
        refused(client.get(path, query_string={"patient_id": "pat_nobody"}, headers=stranger), 404,
                "patient_not_found")
        refused(client.get(path, query_string={"patient_id": patient_id}), 401, "unauthorized")
        assert client.get(path).status_code == 200  # the public view still needs no sign-in


def test_a_revoked_link_is_not_found(app, client, make, proxy_of_elder):
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.4, **LATER}}, capacity=5)
    headers, patient_id = proxy_of_elder
    with app.app_context():
        db.session.execute(sa.update(PatientLink).where(PatientLink.patient_id == patient_id).values(status="revoked"))
        db.session.commit()
    refused(client.get(f"{SCHEDULES}/{schedule_id}", query_string={"patient_id": patient_id}, headers=headers), 404,
            "patient_not_found")


@pytest.mark.parametrize("bad", ["", "x" * 41, "pat\x00nul", "pat\x07bell"])
def test_bad_patient_ids_are_422_with_a_chinese_message(app, client, make, bad):
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.4, **LATER}}, capacity=5)
    headers = make.login()
    for path in (SCHEDULES, f"{SCHEDULES}/{schedule_id}", f"{SCHEDULES}/{schedule_id}/slots"):
        refused(client.get(path, query_string={"patient_id": bad}, headers=headers), 422, "validation_error")


@pytest.mark.parametrize("odd", ["' OR 1=1 --", "病人", "../../etc", "%00", resident_id(5)])
def test_odd_but_well_formed_patient_ids_are_404(app, client, make, odd):
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.4, **LATER}}, capacity=5)
    headers = make.login()
    for path in (SCHEDULES, f"{SCHEDULES}/{schedule_id}", f"{SCHEDULES}/{schedule_id}/slots"):
        refused(client.get(path, query_string={"patient_id": odd}, headers=headers), 404, "patient_not_found")


def test_a_list_costs_the_same_queries_for_one_schedule_or_many(app, client, proxy_of_elder):
    headers, patient_id = proxy_of_elder
    pooled_schedule(app, {"elder": {"share": 0.4, **LATER}}, capacity=5)

    def queries():
        with statements(app) as seen:
            listed = client.get(SCHEDULES, query_string={"patient_id": patient_id}, headers=headers)
        return len(listed.json["items"]), len(seen)

    one = queries()
    for days in range(2, 6):
        pooled_schedule(app, {"elder": {"share": 0.4, **LATER}}, capacity=5, days_ahead=days)
    many = queries()
    assert (one[0], many[0]) == (1, 5)
    assert many[1] == one[1]


def test_kept_tickets_of_windows_already_over_are_nobodys(app, client, proxy_of_elder):
    """During the session: an elder ticket of a window that is over is still in `reserved` but not the patient's."""
    headers, patient_id = proxy_of_elder
    visit_day = today_local() + timedelta(days=1)
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.5, "release_at": day_start(visit_day) + timedelta(
        hours=11, minutes=30)}}, capacity=16, fee_fen=0)
    windows = client.get(f"{SCHEDULES}/{schedule_id}/slots").json["items"]
    during = datetime.fromisoformat(windows[2]["start"]) + timedelta(minutes=10)  # two windows over
    with app.app_context():
        account_id = db.session.scalar(sa.select(PatientLink.account_id).filter_by(patient_id=patient_id))
        row = directory.for_patient(directory.with_pools([db.session.get(Schedule, schedule_id)], during),
                                    account_id, patient_id, during)[0]
        over = db.session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(
            Ticket.schedule_id == schedule_id, Ticket.reserved_for == "elder", Ticket.window_end <= during))
        assert over > 0 and row.reserved["elder"] == 8
        assert row.kept_for_patient == {"elder": 8 - over}
        assert row.available_to_patient == row.public_available + 8 - over
        listed = directory.slots(schedule_id, instant=during, account_id=account_id, patient_id=patient_id)
        assert sum(w["kept_for_patient"]["elder"] for w in listed) == 8 - over
        booked = services.book(account_id, patient_id, schedule_id, instant=during)
        assert booked.pool == "elder" and booked.visit_end > during
        db.session.commit()
