"""A report read costs a bounded number of database round trips (access-log row included), whatever the report
holds: BEGIN, its statements and COMMIT each count."""
from datetime import timedelta

import pytest

from .sqlcount import statements
from .test_results_api import REPORTS, World, item

# BEGIN, one read (the account's links folded into the report, or into the list's page), the access-log INSERT,
# COMMIT — the budget for a read.
MAX_ROUND_TRIPS = 4


@pytest.fixture
def world(app, client, make):
    """A fresh World."""
    return World(app, client, make)


def readable(me, world, reports=5, items=8):
    """`reports` lab reports of `items` results each, two hospitals; returns their ids, newest first."""
    world.hospital("H2")
    return [world.report(me.index, f"RT{n}", hospital=("H1", "H2")[n % 2], ago=timedelta(hours=n + 1),
                         items=[item(f"RT{n}-{k}", value_num=100.0 + k) for k in range(items)])
            for n in range(reports)]


def test_list_read_of_one_patient_stays_within_the_budget(app, world):
    """GET /reports?patient_id=: at most 4 round trips, and exactly one access-log row."""
    me = world.person()
    readable(me, world)
    before = len(world.log())
    with statements(app, with_transaction=True) as sent:
        body = world.get(REPORTS, me.headers, patient_id=me.patient_id)
    assert len(body["items"]) == 5
    assert len(sent) <= MAX_ROUND_TRIPS, "\n".join(sent)
    assert sent[0] == "BEGIN" and sent[-1] == "COMMIT"
    assert len(world.log()) == before + 1


def test_list_read_of_every_patient_stays_within_the_budget(app, world):
    """GET /reports (every verified patient of the account): still at most 4 round trips, one row per patient."""
    me = world.person()
    other = world.person(headers=me.headers)
    readable(me, world)
    world.report(other.index, "OTHER1")
    before = len(world.log())
    with statements(app, with_transaction=True) as sent:
        body = world.get(REPORTS, me.headers)
    assert {r["patient_id"] for r in body["items"]} == {me.patient_id, other.patient_id}
    assert len(sent) <= MAX_ROUND_TRIPS, "\n".join(sent)
    assert sent[0] == "BEGIN" and sent[-1] == "COMMIT"
    assert len(world.log()) == before + 2


def test_detail_read_stays_within_the_budget(app, world):
    """GET /reports/{id} of a report with 8 results: at most 4 round trips, its results and hospital all there."""
    me = world.person()
    report_id = readable(me, world)[0]
    before = len(world.log())
    with statements(app, with_transaction=True) as sent:
        body = world.get(f"{REPORTS}/{report_id}", me.headers)
    assert len(body["items"]) == 8 and body["hospital_name"] == "测试医院H1"
    assert len(sent) <= MAX_ROUND_TRIPS, "\n".join(sent)
    assert sent[0] == "BEGIN" and sent[-1] == "COMMIT"
    log = world.log()
    assert len(log) == before + 1 and log[-1][4:] == ("report", report_id)


@pytest.mark.parametrize("case", ["someone_else", "unverified"])
def test_refused_detail_reads_log_nothing(app, world, case):
    """A report the account may not open answers as before (404 / 403) and leaves no access-log row."""
    owner = world.person()
    report_id = readable(owner, world, reports=1)[0]
    if case == "someone_else":
        reader, status = world.person(), 404
    else:
        reader, status = world.person(n=owner.n, verified=False), 403
    world.get(f"{REPORTS}/{report_id}", reader.headers, status=status)
    assert [row for row in world.log() if row[4] == "report"] == []
