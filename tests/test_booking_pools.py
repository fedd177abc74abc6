"""号源预留: tickets kept back for referrals and elders, never sold to the public before their release."""
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from patient_api.accounts.models import Patient
from patient_api.booking import eligibility, lifecycle, offers, pools, services
from patient_api.booking.models import Appointment, WaitlistEntry
from patient_api.common.clock import now
from patient_api.directory import pools as directory_pools
from patient_api.directory.models import Hospital, Schedule, Ticket
from patient_api.directory.services import with_pools
from patient_api.errors import ApiError
from patient_api.extensions import db

from .factories import resident_id
from .kiosk import Kiosk
from .pools import elder_id, kept, pooled_schedule, refused
from .test_races import residents

LATER = {"release_hours_before": 2}  # tomorrow's session: still kept back today


def public_view(client, schedule_id):
    body = client.get(f"/api/v1/schedules/{schedule_id}").json
    return body["available"], body["reserved"]


def book(client, headers, patient_id, schedule_id):
    return client.post("/api/v1/appointments", json={"schedule_id": schedule_id, "patient_id": patient_id},
                       headers=headers)


def ticket_of(app, appointment_id):
    with app.app_context():
        return db.session.scalars(sa.select(Ticket).where(Ticket.appointment_id == appointment_id)).one()


def test_each_pool_is_spread_over_the_session_not_the_first_numbers():
    chosen = directory_pools.plan(range(1, 21), {"referral": 4, "elder": 2})
    assert sorted(s for s, pool in chosen.items() if pool == "referral") == [3, 8, 13, 18]
    assert sorted(s for s, pool in chosen.items() if pool == "elder") == [6, 16]
    assert directory_pools.plan(range(1, 4), {"referral": 5}) == {1: "referral", 2: "referral", 3: "referral"}
    # Rounded down, never up, and exact where floating point would drift (0.29 × 100 is 28.999…).
    assert [directory_pools.kept_count({"share": share}, capacity) for share, capacity in
            ((0.15, 10), (0.3, 10), (0.1, 3), (0.29, 100), (1, 7), (0, 9))] == [1, 3, 0, 29, 7, 0]


def test_a_schedule_keeps_its_shares_in_different_windows(app, client):
    schedule_id = pooled_schedule(app, {"referral": {"share": 0.2, **LATER}, "elder": {"share": 0.1, **LATER}},
                                  capacity=20)
    assert kept(app, schedule_id, "referral") == [3, 8, 13, 18] and kept(app, schedule_id, "elder") == [6, 16]
    with app.app_context():
        windows = db.session.scalars(sa.select(Ticket.window_start).where(
            Ticket.schedule_id == schedule_id, Ticket.reserved_for == "referral")).all()
        schedule = db.session.get(Schedule, schedule_id)
        releases = set(db.session.scalars(sa.select(Ticket.release_at).where(Ticket.reserved_for.is_not(None))))
    assert len(set(windows)) == 4
    assert releases == {schedule.starts_at - timedelta(hours=2)}
    assert public_view(client, schedule_id) == (14, {"referral": 4, "elder": 2, "family_team": 0})
    listed = client.get("/api/v1/schedules", query_string={"hospital_id": schedule.hospital_id}).json["items"]
    assert [(s["available"], s["reserved"]) for s in listed] == [(14, {"referral": 4, "elder": 2,
                                                                       "family_team": 0})]
    slots = client.get(f"/api/v1/schedules/{schedule_id}/slots").json["items"]
    assert sum(s["available"] for s in slots) == 14 and sum(s["capacity"] for s in slots) == 20
    assert sum(s["reserved"]["referral"] for s in slots) == 4 and sum(s["reserved"]["elder"] for s in slots) == 2


def test_defaults_come_from_config_the_most_specific_entry_winning(app, ctx):
    app.config["BOOKING_POOLS"] = [
        {"pool": "elder", "share": 0.1, "release_hours_before": 24},
        {"pool": "elder", "level": 3, "share": 0.15, "release_hours_before": 12},
        {"pool": "referral", "level": 3, "fee_kind": "专家号", "share": 0.2},
        {"pool": "elder", "hospital": "H9", "share": 0},
    ]
    try:
        top, small, off = (Hospital(code=code, name="x", level=level) for code, level in
                           (("H1", "三级甲等"), ("H2", "一级"), ("H9", "三级乙等")))
        assert directory_pools.defaults_for(top, "专家号") == {"elder": {"share": 0.15, "release_hours_before": 12},
                                                             "referral": {"share": 0.2, "release_hours_before": 24}}
        assert directory_pools.defaults_for(top, "普通号") == {"elder": {"share": 0.15, "release_hours_before": 12}}
        assert directory_pools.defaults_for(small, "专家号") == {"elder": {"share": 0.1, "release_hours_before": 24}}
        assert directory_pools.defaults_for(off, "专家号") == {"referral": {"share": 0.2, "release_hours_before": 24}}
    finally:
        app.config["BOOKING_POOLS"] = []


@pytest.mark.parametrize("entries", [{"pool": "elder"}, [{"pool": "vip", "share": 0.1}], [{"pool": "elder"}],
                                     [{"pool": "elder", "share": 1.5}], [{"pool": "elder", "share": True}],
                                     [{"pool": "elder", "share": 0.1, "release_hours_before": -1}],
                                     [{"pool": "elder", "share": 0.1, "colour": "red"}]])
def test_a_mistyped_default_stops_the_start(entries):
    with pytest.raises(RuntimeError, match="BOOKING_POOLS"):
        directory_pools.check_defaults(entries)


def test_the_public_never_gets_a_kept_ticket_before_its_release(app, client):
    schedule_id = pooled_schedule(app, {"referral": {"share": 0.2, **LATER}, "elder": {"share": 0.2, **LATER}})
    people = residents(app, 7, start=40_000)
    answers = [book(client, headers, patient_id, schedule_id) for headers, patient_id, _ in people]
    assert [a.status_code for a in answers] == [201] * 6 + [409]
    refused(answers[-1], 409, "sold_out")
    assert {ticket_of(app, a.json["id"]).reserved_for for a in answers[:6]} == {None}
    assert {a.json["pool"] for a in answers[:6]} == {None}
    assert public_view(client, schedule_id) == (0, {"referral": 2, "elder": 2, "family_team": 0})
    assert schedule_row(app, schedule_id).available == 4  # free tickets: the kept ones


def schedule_row(app, schedule_id):
    with app.app_context():
        return db.session.get(Schedule, schedule_id)


def test_an_elder_at_the_kiosk_takes_the_elder_pool_first_then_public_tickets(app, client):
    kiosk = Kiosk(app, client)
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.1, **LATER}})
    path = "/api/v1/kiosk/appointments"
    assert kiosk.card(method="id_card", id_number=elder_id(901), name="赵老汉").json["patient"]["elder"] is True
    first = kiosk.call("POST", path, {"schedule_id": schedule_id})
    assert first.status_code == 201 and first.json["pool"] == "elder"
    assert ticket_of(app, first.json["id"]).reserved_for == "elder"
    assert public_view(client, schedule_id) == (9, {"referral": 0, "elder": 0, "family_team": 0})
    kiosk.card(method="id_card", id_number=elder_id(902), name="钱老太")
    second = kiosk.call("POST", path, {"schedule_id": schedule_id})
    assert second.status_code == 201 and second.json["pool"] is None  # the pool is empty: a public ticket
    assert ticket_of(app, second.json["id"]).reserved_for is None
    assert kiosk.card(method="id_card", id_number=resident_id(903), name="孙青年").json["patient"]["elder"] is False


def test_a_younger_patient_at_the_kiosk_competes_with_the_public(app, client):
    kiosk = Kiosk(app, client)
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.5, **LATER}}, capacity=2)
    kiosk.card(method="id_card", id_number=resident_id(904), name="孙青年")
    path = "/api/v1/kiosk/appointments"
    assert kiosk.call("POST", path, {"schedule_id": schedule_id}).json["pool"] is None
    kiosk.card(method="id_card", id_number=resident_id(905), name="周青年")
    refused(kiosk.call("POST", path, {"schedule_id": schedule_id}), 409, "sold_out")
    assert public_view(client, schedule_id) == (0, {"referral": 0, "elder": 1, "family_team": 0})


def test_an_elder_in_wechat_competes_with_the_public_unless_booked_by_a_verified_proxy(app, client, make):
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.4, **LATER}}, capacity=5)
    for headers, patient_id, _ in residents(app, 3, start=41_000):
        assert book(client, headers, patient_id, schedule_id).status_code == 201
    own = make.login()
    own_patient = make.patient(own, 906, id_number=elder_id(906), relation="self")
    make.verify(own, own_patient)
    refused(book(client, own, own_patient, schedule_id), 409, "sold_out")  # the elder's own phone: public only
    claimed = make.login()
    claimed_patient = make.patient(claimed, 907, id_number=elder_id(907), relation="parent")
    refused(book(client, claimed, claimed_patient, schedule_id), 409, "sold_out")  # typing an ID number is no proof
    proxy = make.login()
    proxy_patient = make.patient(proxy, 906, id_number=elder_id(906), relation="parent")
    assert make.verify(proxy, proxy_patient)["link_status"] == "verified"  # holds the elder's phone on file
    done = book(client, proxy, proxy_patient, schedule_id)
    assert done.status_code == 201 and done.json["pool"] == "elder"
    assert public_view(client, schedule_id) == (0, {"referral": 0, "elder": 1, "family_team": 0})


def test_age_is_counted_on_the_visit_day(ctx):
    visit = SimpleNamespace(date=date(2026, 12, 1), doctor_id=None)  # no team doctor: family_team never applies
    turns_65 = SimpleNamespace(id="p1", birth_date=date(1961, 12, 1))
    a_day_short = SimpleNamespace(id="p2", birth_date=date(1961, 12, 2))
    assert eligibility.pools_for(turns_65, visit, None, "kiosk:k1") == ("elder",)
    assert eligibility.pools_for(a_day_short, visit, None, "kiosk:k1") == ()
    assert eligibility.pools_for(turns_65, visit, None, "counter:stf1") == ("elder",)
    assert eligibility.pools_for(turns_65, visit, None, "phone:stf1") == ("elder",)
    assert eligibility.pools_for(turns_65, visit, None, "wechat") == ()
    assert eligibility.age_on(date(1960, 2, 29), date(2025, 2, 28)) == 64


def test_a_release_makes_kept_tickets_public_on_time_and_the_job_moves_exactly_the_unused(app, ctx):
    release = now() + timedelta(hours=1)
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.3, "release_at": release}})
    before, after = release - timedelta(seconds=1), release + timedelta(seconds=1)
    (elder,) = _patients(app, 1, elder=True)
    services.book(None, elder, schedule_id, before, via="kiosk:k1")
    publics = _patients(app, 9, start=920)
    for patient_id in publics[:7]:
        assert services.book(None, patient_id, schedule_id, before, via="kiosk:k1").pool is None
    with pytest.raises(ApiError, match="号源已约满"):
        services.book(None, publics[7], schedule_id, before, via="kiosk:k1")
    db.session.commit()
    schedule = db.session.get(Schedule, schedule_id)
    assert _view(schedule, before) == (0, 2)
    assert _view(schedule, release) == (2, 0)  # on time, before any job ran
    taken = services.book(None, publics[7], schedule_id, after, via="kiosk:k1")
    db.session.commit()
    assert taken.pool is None and db.session.get(Ticket, taken.ticket_id).reserved_for == "elder"
    assert pools.release_job(before) == {}  # not yet due
    assert pools.release_job(after) == {"elder": 1}
    assert pools.release_job(after) == {}  # once
    db.session.expire_all()
    assert _view(db.session.get(Schedule, schedule_id), after) == (1, 0)
    rows = db.session.execute(sa.select(Ticket.status, Ticket.reserved_for, Ticket.released_from).where(
        Ticket.schedule_id == schedule_id, sa.or_(Ticket.reserved_for.is_not(None),
                                                  Ticket.released_from.is_not(None)))).all()
    assert sorted(rows, key=str) == sorted([("held", "elder", None), ("held", "elder", None),
                                            ("free", None, "elder")], key=str)


def _view(schedule, instant):
    db.session.refresh(schedule)
    (row,) = with_pools([schedule], instant)
    return row.public_available, row.reserved["elder"]


def _patients(app, count, start=910, elder=False):
    """Patients (no account: kiosk-style), elders if asked; their ids."""
    from patient_api.accounts import people
    from patient_api.accounts.identity import parse_resident_id
    ids = []
    for n in range(start, start + count):
        number = elder_id(n) if elder else resident_id(n)
        ids.append(people.create_patient(f"病人{'甲乙丙丁戊己庚辛壬癸'[n % 10]}", parse_resident_id(number),
                                         "card").id)
    db.session.commit()
    return ids


def test_a_cancelled_pool_booking_gives_its_ticket_back_to_the_pool(app, client):
    kiosk = Kiosk(app, client)
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.2, **LATER}})
    kiosk.card(method="id_card", id_number=elder_id(908), name="吴老汉")
    booked = kiosk.call("POST", "/api/v1/kiosk/appointments", {"schedule_id": schedule_id}).json
    assert public_view(client, schedule_id) == (8, {"referral": 0, "elder": 1, "family_team": 0})
    with app.app_context():
        lifecycle.cancel(db.session.get(Appointment, booked["id"]))
        db.session.commit()
    assert public_view(client, schedule_id) == (8, {"referral": 0, "elder": 2, "family_team": 0})


def test_the_waitlist_counts_and_offers_public_tickets_only(app, client, make):
    # Two days ahead: tomorrow's waitlist closes at 23:00 today (Beijing), and the suite may run after that.
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.5, **LATER}}, capacity=2, days_ahead=2)
    (headers, patient_id, _), (waiter, waiter_patient, _) = residents(app, 2, start=42_000)
    assert book(client, headers, patient_id, schedule_id).status_code == 201
    joined = client.post("/api/v1/waitlist", json={"schedule_id": schedule_id, "patient_id": waiter_patient},
                         headers=waiter)
    assert joined.status_code == 201, joined.json  # the elder's ticket is not a ticket the public could book
    with app.app_context():
        counts = offers.run()
        entry = db.session.scalars(sa.select(WaitlistEntry)).one()
    assert counts["offered"] == 0 and entry.status == "waiting"
    assert public_view(client, schedule_id) == (0, {"referral": 0, "elder": 1, "family_team": 0})


def test_book_from_pool_is_the_referral_hook_with_the_public_rules(app, ctx):
    schedule_id = pooled_schedule(app, {"referral": {"share": 0.2, **LATER}})
    first, second, third, young = _patients(app, 4, start=930)
    booked = pools.book_from_pool("referral", first, schedule_id, via="referral:r1")
    assert booked.pool == "referral" and booked.status == "pending_payment" and booked.bill_id
    assert db.session.get(Ticket, booked.ticket_id).reserved_for == "referral"
    with pytest.raises(ApiError) as again:
        pools.book_from_pool("referral", first, schedule_id, via="referral:r1")
    assert again.value.code == "already_booked"
    assert pools.book_from_pool("referral", second, schedule_id, via="referral:r2").pool == "referral"
    with pytest.raises(ApiError) as empty:
        pools.book_from_pool("referral", third, schedule_id, via="referral:r3", fallback=False)
    assert empty.value.code == "sold_out"
    fell_back = pools.book_from_pool("referral", third, schedule_id, via="referral:r3")
    assert fell_back.pool is None and db.session.get(Ticket, fell_back.ticket_id).reserved_for is None
    with pytest.raises(ApiError) as not_old:
        pools.book_from_pool("elder", young, schedule_id, via="kiosk:k1")
    assert (not_old.value.status, not_old.value.code) == (403, "pool_not_eligible")
    with pytest.raises(ValueError):
        pools.book_from_pool("vip", young, schedule_id, via="kiosk:k1")
    db.session.commit()
    unreleased = pooled_schedule(app, {"referral": {"share": 0.2, **LATER}}, released=False)
    with pytest.raises(ApiError) as early:
        pools.book_from_pool("referral", young, unreleased, via="referral:r4")
    assert early.value.code == "not_released"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Appointment)) == 3


def test_the_public_sold_out_flag_does_not_turn_away_an_elder(app, client):
    kiosk = Kiosk(app, client)
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.5, **LATER}}, capacity=2)
    (headers, patient_id, _), (other, other_patient, _) = residents(app, 2, start=43_000)
    assert book(client, headers, patient_id, schedule_id).status_code == 201
    refused(book(client, other, other_patient, schedule_id), 409, "sold_out")  # sets the Redis flag
    kiosk.card(method="id_card", id_number=resident_id(909), name="郑青年")
    refused(kiosk.call("POST", "/api/v1/kiosk/appointments", {"schedule_id": schedule_id}), 409, "sold_out")
    kiosk.card(method="id_card", id_number=elder_id(910), name="王老太")
    done = kiosk.call("POST", "/api/v1/kiosk/appointments", {"schedule_id": schedule_id})
    assert done.status_code == 201 and done.json["pool"] == "elder"
    with app.app_context():
        assert db.session.get(Patient, done.json["patient_id"]).name == "王老太"


def test_the_sold_out_flag_names_the_pools_still_keeping_tickets(app, client, redis_client, monkeypatch):
    kiosk = Kiosk(app, client)
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.5, **LATER}}, capacity=2)
    (headers, patient_id, _), (other, other_patient, _) = residents(app, 2, start=44_000)
    assert book(client, headers, patient_id, schedule_id).status_code == 201
    refused(book(client, other, other_patient, schedule_id), 409, "sold_out")
    assert redis_client.get(f"soldout:{schedule_id}") == b"elder"
    kiosk.card(method="id_card", id_number=elder_id(911), name="冯老汉")
    assert kiosk.call("POST", "/api/v1/kiosk/appointments", {"schedule_id": schedule_id}).status_code == 201
    kiosk.card(method="id_card", id_number=elder_id(912), name="陈老太")
    refused(kiosk.call("POST", "/api/v1/kiosk/appointments", {"schedule_id": schedule_id}), 409, "sold_out")
    assert redis_client.get(f"soldout:{schedule_id}") == b"-"

    def no_lookup(*_args):
        raise AssertionError("a flag naming no pool is answered from Redis alone")

    monkeypatch.setattr(pools, "eligible_pools", no_lookup)
    refused(kiosk.call("POST", "/api/v1/kiosk/appointments", {"schedule_id": schedule_id}), 409, "sold_out")
    refused(book(client, other, other_patient, schedule_id), 409, "sold_out")
