"""The public schedule answers shared through Redis: served without the database, exact after every change, 304s."""
import time
from datetime import timedelta

import pytest

from patient_api.common.clock import now
from patient_api.directory import public_cache
from patient_api.directory.models import Schedule
from patient_api.extensions import db

from .conftest import is_postgres
from .sqlcount import redis_round_trips, statements
from .test_booking_slots import book, slots
from .test_races import active_count, residents


def urls(schedule_id, department_id, day):
    """The three public answers of a schedule."""
    return (f"/api/v1/schedules?department_id={department_id}&date={day}", f"/api/v1/schedules/{schedule_id}",
            f"/api/v1/schedules/{schedule_id}/slots")


def schedule_urls(app, schedule_id):
    with app.app_context():
        row = db.session.get(Schedule, schedule_id)
        return urls(schedule_id, row.department_id, row.date.isoformat())


def available(client, app, schedule_id):
    """What the list, the schedule and the windows answer as available to the public."""
    listing, one, windows = (client.get(url).json for url in schedule_urls(app, schedule_id))
    return (listing["items"][0]["available"], one["available"], sum(w["available"] for w in windows["items"]))


def test_second_read_comes_from_redis_with_no_database_statement(app, client, make, redis_client):
    schedule_id = make.schedule(capacity=16)
    for url in schedule_urls(app, schedule_id):
        first = client.get(url)
        with statements(app) as sql:
            second = client.get(url)
        assert (first.status_code, second.status_code) == (200, 200)
        assert second.get_data() == first.get_data()
        assert len(sql) == 0, url
        assert second.headers["ETag"] == first.headers["ETag"]
        assert second.headers["Cache-Control"] == "public, no-cache"
        again = client.get(url, headers={"If-None-Match": second.headers["ETag"]})
        assert (again.status_code, again.get_data()) == (304, b"")
    assert len(redis_client.keys("pubsched:v1:*")) == 3


def test_the_same_question_in_another_order_is_the_same_answer(app, client, make, redis_client):
    schedule_id = make.schedule(capacity=4)
    listing = schedule_urls(app, schedule_id)[0]
    path, query = listing.split("?")
    reordered = path + "?" + "&".join(reversed(query.split("&")))
    assert client.get(listing).get_data() == client.get(reordered).get_data()
    assert len(redis_client.keys("pubsched:v1:*")) == 1


def test_every_answer_is_exact_after_a_booking_and_a_cancellation(app, client, make):
    schedule_id = make.schedule(capacity=16)
    assert available(client, app, schedule_id) == (16, 16, 16)
    resident = make.resident()
    booked = book(client, resident, schedule_id)
    assert booked.status_code == 201
    assert available(client, app, schedule_id) == (15, 15, 15)  # read right after the commit: no stale count
    cancelled = client.post(f"/api/v1/appointments/{booked.json['id']}/cancel", headers=resident[0])
    assert cancelled.status_code == 200, cancelled.json
    assert available(client, app, schedule_id) == (16, 16, 16)


def test_a_schedule_stopped_through_the_orm_is_dropped_at_commit(app, client, make):
    schedule_id = make.schedule(capacity=4)
    one = schedule_urls(app, schedule_id)[1]
    assert client.get(one).json["status"] == "open"
    with app.app_context():
        db.session.get(Schedule, schedule_id).stopped = True
        db.session.commit()
    assert client.get(one).json["status"] == "stopped"


def test_a_rolled_back_change_drops_nothing_and_a_fill_older_than_a_drop_is_not_kept(app, client, make,
                                                                                     redis_client):
    schedule_id = make.schedule(capacity=4)
    one = schedule_urls(app, schedule_id)[1]
    client.get(one)
    with app.app_context():
        public_cache.changed(schedule_id)
        db.session.rollback()
    assert len(redis_client.keys("pubsched:v1:*")) == 1
    # A fill that read the sequence before a drop must not store what it read (it may predate the change).
    with app.test_request_context(one):
        from flask import g
        seq = int(redis_client.get(public_cache.SEQ) or 0)
        public_cache.drop([schedule_id])
        g.pubsched = {"ids": {str(schedule_id)}, "until": None}
        response = app.response_class(b'{"stale": true}', mimetype="application/json")
        public_cache._store("pubsched:v1:probe", response, seq, 2000)
    assert redis_client.get("pubsched:v1:probe") is None
    assert redis_client.keys("pubsched:v1:*") == []  # the drop removed the answer tagged with the schedule


def test_an_answer_is_kept_no_later_than_the_release_instant(app, client, make, redis_client, monkeypatch):
    schedule_id = make.schedule(capacity=4, released=False)
    frozen = now()
    for where in ("patient_api.directory.public_cache.now", "patient_api.directory.services.now",
                  "patient_api.directory.models.now"):
        monkeypatch.setattr(where, lambda: frozen)
    with app.app_context():
        db.session.get(Schedule, schedule_id).release_at = frozen + timedelta(milliseconds=800)
        db.session.commit()
    one = schedule_urls(app, schedule_id)[1]
    assert client.get(one).json["status"] == "not_released"
    key = redis_client.keys("pubsched:v1:*")[0]
    assert 0 < redis_client.pttl(key) <= 800
    with app.app_context():
        db.session.get(Schedule, schedule_id).release_at = frozen + timedelta(milliseconds=30)
        db.session.commit()  # the ORM edit drops the answer; the next one changes too soon to be worth keeping
    assert redis_client.keys("pubsched:v1:*") == []
    assert client.get(one).json["status"] == "not_released"
    assert redis_client.keys("pubsched:v1:*") == []


def test_a_patients_view_is_never_shared(app, client, make, redis_client):
    schedule_id = make.schedule(capacity=4)
    headers, patient_id = make.resident()
    answer = client.get(f"/api/v1/schedules/{schedule_id}?patient_id={patient_id}", headers=headers)
    assert answer.status_code == 200 and "available_to_patient" in answer.json
    assert redis_client.keys("pubsched:v1:*") == []


def test_redis_down_still_answers_from_the_database(app, client, make, monkeypatch):
    from .factories import DeadRedis
    schedule_id = make.schedule(capacity=4)
    monkeypatch.setattr(public_cache, "redis", DeadRedis())
    for url in schedule_urls(app, schedule_id):
        assert client.get(url).status_code == 200


def test_a_full_window_is_refused_from_redis_until_a_ticket_comes_back(app, client, make, redis_client):
    schedule_id = make.schedule(capacity=16, fee_fen=1200)  # 8 windows of 2 tickets
    window = slots(client, schedule_id)[3]["start"]
    takers = [make.resident() for _ in range(2)]
    taken = [book(client, who, schedule_id, slot_start=window) for who in takers]
    assert [r.status_code for r in taken] == [201, 201]
    late, later = make.resident(), make.resident()
    assert book(client, late, schedule_id, slot_start=window).json["code"] == "slot_full"
    assert redis_client.exists(f"soldout:{schedule_id}:w")
    with statements(app) as sql:
        shed = book(client, later, schedule_id, slot_start=window)
    assert (shed.status_code, shed.json["code"]) == (409, "slot_full")
    assert len(sql) == 0, sql
    other = book(client, late, schedule_id, slot_start=slots(client, schedule_id)[4]["start"])
    assert other.status_code == 201  # another window is not refused
    cancelled = client.post(f"/api/v1/appointments/{taken[0].json['id']}/cancel", headers=takers[0][0])
    assert cancelled.status_code == 200
    assert not redis_client.exists(f"soldout:{schedule_id}:w")
    assert book(client, make.resident(), schedule_id, slot_start=window).status_code == 201


@pytest.mark.parametrize("readers", [8])
def test_reads_racing_bookings_end_exact_on_the_database(app, make, readers):
    """Readers hammer the three answers while bookers take every ticket; once all committed, every answer matches
    PostgreSQL (a fill that read before a booking's commit never outlives it)."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Event

    capacity = 24
    schedule_id = make.schedule(capacity=capacity)
    targets = schedule_urls(app, schedule_id)
    people = residents(app, 60 if is_postgres(app) else 30)
    stop, reads = Event(), []

    def read(_):
        client = app.test_client()
        while not stop.is_set():
            reads.append(client.get(targets[len(reads) % 3]).status_code)

    def take(person):
        headers, patient_id, _ = person
        return app.test_client().post("/api/v1/appointments", json={"schedule_id": schedule_id,
                                                                     "patient_id": patient_id},
                                      headers=headers).status_code

    with ThreadPoolExecutor(max_workers=readers + 16) as pool:
        readers_done = [pool.submit(read, i) for i in range(readers)]
        outcomes = list(pool.map(take, people))
        stop.set()
        for future in readers_done:
            future.result()
    with app.app_context():
        taken = active_count(schedule_id)
    assert outcomes.count(201) == taken == capacity
    assert set(reads) == {200} and len(reads) > 0
    client = app.test_client()
    assert available(client, app, schedule_id) == (0, 0, 0)


def test_a_sold_out_booking_is_refused_after_one_redis_round_trip(app, client, make, redis_client, monkeypatch):
    schedule_id = make.schedule(capacity=1, fee_fen=0)
    first, late, later = make.resident(), make.resident(), make.resident()
    assert book(client, first, schedule_id).status_code == 201
    assert book(client, late, schedule_id).json["code"] == "sold_out"  # the database says so and sets the flag
    sent = redis_round_trips(monkeypatch)
    with statements(app) as sql:
        shed = book(client, later, schedule_id)
    assert (shed.status_code, shed.json["code"]) == (409, "sold_out")
    assert (len(sql), len(sent)) == (0, 1)


def test_a_retried_booking_is_replayed_even_once_the_schedule_sold_out(app, client, make, redis_client, monkeypatch):
    """The resident's 201 was lost on the way (a dropped connection at 07:00); the retry with the same
    Idempotency-Key replays it (API.md), though every other attempt is now refused from Redis."""
    schedule_id = make.schedule(capacity=1, fee_fen=0)
    (headers, patient_id), late, later = make.resident(), make.resident(), make.resident()
    keyed = {**headers, "Idempotency-Key": "book-0700-a"}
    body = {"schedule_id": schedule_id, "patient_id": patient_id}
    first = client.post("/api/v1/appointments", json=body, headers=keyed)
    assert first.status_code == 201
    assert book(client, late, schedule_id).json["code"] == "sold_out"  # the flag is set now
    retry = client.post("/api/v1/appointments", json=body, headers=keyed)
    assert (retry.status_code, retry.json, retry.headers.get("Idempotent-Replayed")) == (201, first.json, "true")
    sent = redis_round_trips(monkeypatch)
    with statements(app) as sql:  # a new key of someone else is still refused without the database
        shed = client.post("/api/v1/appointments", json={"schedule_id": schedule_id, "patient_id": later[1]},
                           headers={**later[0], "Idempotency-Key": "book-0700-b"})
    assert (shed.status_code, shed.json["code"]) == (409, "sold_out")
    assert (len(sql), len(sent)) == (0, 1)  # the session, the flags and the key's marker in one round trip


def test_readers_missing_together_fill_the_answer_once(app, make, redis_client, monkeypatch):
    """Eight readers miss the windows at the same moment (as after each booking of a rush): one renders, seven wait
    for its answer; every one gets the same 200."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier, Event

    schedule_id = make.schedule(capacity=8)
    windows = schedule_urls(app, schedule_id)[2]
    renders, missed, all_missed = [], [], Event()
    shown, fill_or_wait = public_cache.shown, public_cache._fill_or_wait

    def counted_miss(*args):
        missed.append(1)
        if len(missed) == 8:
            all_missed.set()
        return fill_or_wait(*args)

    def held_shown(*args, **kw):  # a render still running when every reader has missed (bounded)
        renders.append(1)
        all_missed.wait(10)
        return shown(*args, **kw)
    monkeypatch.setattr(public_cache, "_fill_or_wait", counted_miss)
    monkeypatch.setattr(public_cache, "shown", held_shown)
    monkeypatch.setattr(public_cache, "FILL_WAIT_MS", 30_000)  # a loaded machine's render still lands in the wait
    barrier = Barrier(8)

    def read(_):
        client = app.test_client()
        barrier.wait()
        return client.get(windows)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(read, range(8)))
    assert [a.status_code for a in answers] == [200] * 8
    assert len({a.get_data() for a in answers}) == 1
    assert len(missed) == 8 and len(renders) == 1
    assert redis_client.keys("pubsched:fill:*") == []  # the filler let go of its lock


def test_a_reader_waiting_on_a_fill_that_never_lands_renders_itself(app, client, make, redis_client, monkeypatch):
    schedule_id = make.schedule(capacity=4)
    windows = schedule_urls(app, schedule_id)[2]
    with app.test_request_context(windows):
        from flask import request
        key = public_cache.key_for(request)
    seq = int(redis_client.get(public_cache.SEQ) or 0)
    redis_client.set(f"pubsched:fill:{seq}:{key}", 1, px=60_000)  # a filler that died holding its lock
    monkeypatch.setattr(public_cache, "FILL_WAIT_MS", 30)
    started = time.monotonic()
    answer = client.get(windows)
    assert answer.status_code == 200 and sum(w["available"] for w in answer.json["items"]) == 4
    assert time.monotonic() - started < 5  # waited its 30 ms, not the lock's minute
    assert redis_client.get(key) is not None  # and filled the cache for the next reader


def test_a_reader_that_missed_before_a_fill_landed_takes_the_fill_not_the_lock(app, client, make, redis_client):
    """A reader's probe missed, then it stalled while another reader filled the answer and let go of its lock: taking
    the free lock now, it must answer from the fill, not render again (a loaded CI machine rendered twice so)."""
    schedule_id = make.schedule(capacity=4)
    windows = schedule_urls(app, schedule_id)[2]
    with app.test_request_context(windows):
        from flask import request
        key = public_cache.key_for(request)
    filled = client.get(windows)  # the other reader's fill, its lock already released
    assert redis_client.keys("pubsched:fill:*") == []
    seq = redis_client.get(public_cache.SEQ)
    with app.app_context():
        entry, _, lock = public_cache._fill_or_wait(key, seq)
    assert lock is None and public_cache.entry_parts(entry)[1] == filled.get_data()
    assert redis_client.keys("pubsched:fill:*") == []  # the lock it took to look is let go again
