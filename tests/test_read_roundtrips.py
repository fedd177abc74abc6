"""A report read costs a bounded number of database round trips (access-log row included), whatever the report
holds: BEGIN, its statements and COMMIT each count. On PostgreSQL a list or a detail is one statement that also
writes its access-log row, run as its own transaction: one round trip."""
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from patient_api.accounts import links
from patient_api.accounts.models import PatientLink
from patient_api.common.clock import now
from patient_api.common.outbox import OutboxMessage
from patient_api.directory.models import Hospital
from patient_api.extensions import db
from patient_api.results import store
from patient_api.results.inputs import ReportIn
from patient_api.results.models import Report

from .sqlcount import statements
from .test_results_api import REPORTS, World, item

# BEGIN, one read (the account's links folded into the report, or into the list's page), the access-log INSERT,
# COMMIT — the budget for a read, and what the embedded SQLite takes.
MAX_ROUND_TRIPS = 4


def within_budget(app, sent):
    """On PostgreSQL the read is one round trip — its statement, which writes the log row, no BEGIN or COMMIT;
    elsewhere at most MAX_ROUND_TRIPS, in a transaction."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert len(sent) == 1 and "INSERT INTO access_log" in sent[0], "\n".join(sent)
    else:
        assert len(sent) <= MAX_ROUND_TRIPS, "\n".join(sent)
        assert sent[0] == "BEGIN" and sent[-1] == "COMMIT"


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
    """GET /reports?patient_id=: within the budget, and exactly one access-log row."""
    me = world.person()
    readable(me, world)
    before = len(world.log())
    with statements(app, with_transaction=True) as sent:
        body = world.get(REPORTS, me.headers, patient_id=me.patient_id)
    assert len(body["items"]) == 5
    within_budget(app, sent)
    assert len(world.log()) == before + 1


def test_list_read_of_every_patient_stays_within_the_budget(app, world):
    """GET /reports (every verified patient of the account): within the budget, one row per patient."""
    me = world.person()
    other = world.person(headers=me.headers)
    readable(me, world)
    world.report(other.index, "OTHER1")
    before = len(world.log())
    with statements(app, with_transaction=True) as sent:
        body = world.get(REPORTS, me.headers)
    assert {r["patient_id"] for r in body["items"]} == {me.patient_id, other.patient_id}
    within_budget(app, sent)
    assert len(world.log()) == before + 2


def test_detail_read_stays_within_the_budget(app, world):
    """GET /reports/{id} of a report with 8 results: within the budget, its results and hospital all there."""
    me = world.person()
    report_id = readable(me, world)[0]
    before = len(world.log())
    with statements(app, with_transaction=True) as sent:
        body = world.get(f"{REPORTS}/{report_id}", me.headers)
    assert len(body["items"]) == 8 and body["hospital_name"] == "测试医院H1"
    within_budget(app, sent)
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


@pytest.mark.parametrize("case", ["someone_else", "unverified"])
def test_refused_list_reads_log_nothing(app, world, case):
    """A list of a patient the account may not read answers 404 / 403 and leaves no access-log row, though on
    PostgreSQL the statement that would have written it has run and committed."""
    owner = world.person()
    readable(owner, world, reports=2)
    if case == "someone_else":
        reader, status = world.person(), 404
    else:
        reader, status = world.person(n=owner.n, verified=False), 403
    before = world.log()
    world.get(REPORTS, reader.headers, status=status, patient_id=owner.patient_id)
    assert world.log() == before


def test_a_person_only_on_the_look_ahead_row_is_not_logged(app, world):
    """The list fetches one report more than the page to tell whether there is a next one: a person whose only
    report is that extra row was not shown, and gets no access-log row; the next page logs them."""
    me = world.person()
    other = world.person(headers=me.headers)
    readable(me, world, reports=3, items=1)  # issued 1, 2 and 3 hours ago
    world.report(other.index, "OLDER", ago=timedelta(days=2))
    before = len(world.log())
    page = world.get(REPORTS, me.headers, limit=3)
    assert {r["patient_id"] for r in page["items"]} == {me.patient_id} and page["has_more"]
    logged = world.log()[before:]
    assert [(row[3], row[4]) for row in logged] == [(me.patient_id, "report_list")]
    rest = world.get(REPORTS, me.headers, limit=3, cursor=page["next_cursor"])
    assert [r["patient_id"] for r in rest["items"]] == [other.patient_id]
    assert [(row[3], row[4]) for row in world.log()[before + 1:]] == [(other.patient_id, "report_list")]


def test_history_read_is_logged_once(app, world):
    """GET /reports/{id}/history leaves one report_history row (folded into its read on PostgreSQL)."""
    me = world.person()
    report_id = readable(me, world, reports=1)[0]
    before = len(world.log())
    body = world.get(f"{REPORTS}/{report_id}/history", me.headers)
    assert body["report_id"] == report_id and body["items"] == []
    assert [row[3:] for row in world.log()[before:]] == [(me.patient_id, "report_history", report_id)]


def test_new_reports_tell_every_verified_account_reading_their_accounts_once(app, world):
    """A batch of new reports tells each verified account of the person (self first, then a verified proxy; a
    pending one is not told) about each report, and reads those accounts in one statement for the whole batch."""
    me = world.person()
    proxy = world.person(headers=world.make.login(), n=me.n, verified=False)
    pending = world.person(headers=world.make.login(), n=me.n, verified=False)
    with app.app_context():
        link = PatientLink.__table__
        proxy_account = db.session.scalar(sa.select(link.c.account_id).where(link.c.patient_id == proxy.patient_id,
                                                                             link.c.status != "verified"))
        db.session.execute(sa.update(link).where(link.c.account_id == proxy_account).values(
            status="verified", relation="child"))
        db.session.commit()
        self_account = links.verified_accounts(me.patient_id)[0]
        assert links.verified_accounts_of([me.patient_id]) == {me.patient_id: [self_account, proxy_account]}
    world.hospital("H1")
    before = told(app)
    with app.app_context():
        hospital = db.session.scalars(sa.select(Hospital).filter_by(code="H1")).one()
        batch = [(me.index, ReportIn(source_id=f"NEWS{n}", source_format="fhir", kind="lab", title="血常规",
                                     status="final", issued_at=now() - timedelta(hours=n), items=[item(f"NEWS{n}-1")]))
                 for n in range(4)]
        with statements(app) as sent:
            store.save_reports(hospital, batch)
        db.session.commit()
        ids = db.session.scalars(sa.select(Report.id).where(Report.source_id.like("NEWS%"))).all()
    news = told(app)[len(before):]
    assert len(ids) == 4
    assert sorted(news) == sorted((account, "report.ready", report_id)
                                  for report_id in ids for account in (self_account, proxy_account))
    assert pending.patient_id == me.patient_id  # the same person: its pending account hears nothing
    # The people to tell, then their accounts: two statements for the batch (the old code read them per report).
    assert sum("patient_links" in statement for statement in sent) == 2, "\n".join(sent)


def told(app):
    """(account, event, report id) of every report notice queued, oldest first."""
    with app.app_context():
        rows = db.session.execute(sa.select(OutboxMessage.destination, OutboxMessage.event, OutboxMessage.payload)
                                  .order_by(OutboxMessage.created_at, OutboxMessage.id))
        return [(account, event, json.loads(payload).get("report_id")) for account, event, payload in rows
                if event.startswith("report.")]
