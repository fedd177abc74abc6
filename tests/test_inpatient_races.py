"""Settlement raced against top-ups and duplicated deposit notifications: no double refund, no negative balance."""
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from patient_api.billing import jobs, ledger, reconcile
from patient_api.billing.ledger import LedgerEntry
from patient_api.billing.models import Bill, Payment
from patient_api.common.clock import now, today_local
from patient_api.extensions import db
from patient_api.inpatient import settlement
from patient_api.inpatient.models import Admission, Settlement
from patient_api.inpatient.money import DEPOSIT, summary

from .conftest import is_postgres
from .inpatient import NOTIFY, Hospital, in_db, stay_lines

STAFF = "/api/v1/staff/admissions"
SETTLERS, COPIES = 3, 4  # per admission: nurses pressing "settle", copies of the third deposit's notification
FIRST, SECOND, THIRD, FOURTH = 300_000, 200_000, 100_000, 50_000
# Who waits for whom: two orders are forced so both paths are certain every run; "free" is the open race.
WAITS = {"paid_first": {"settle": ("notify", "topup")}, "settled_first": {"notify": ("settle",), "topup": ("settle",)},
         "free": {}}


def stay(h, nurse, mode):
    """A reviewed admission with two paid deposits and a third one paid at WeChat but not yet notified."""
    family, _, person = h.resident()
    admission = h.admit(person)
    h.paid_deposit(family, admission["id"], FIRST)
    h.paid_deposit(family, admission["id"], SECOND)
    h.charges(admission["admission_no"], stay_lines(days=3))
    h.signal(admission["admission_no"], "orders-complete")
    h.signal(admission["admission_no"], "discharge-order")
    assert h.client.post(f"{STAFF}/{admission['id']}/discharge-review", headers=nurse).status_code == 200
    third = h.deposit(family, admission["id"], THIRD)
    assert third.status_code == 201, third.json
    out_trade_no = third.json["payment"]["out_trade_no"]
    return {"id": admission["id"], "family": family, "mode": mode, "third": out_trade_no,
            "wire": h.pay_at_wechat(out_trade_no)}


def race(app, stays, nurses):
    """Release every settle, notification copy, top-up and watching family of every admission together."""
    plan = [(kind, i, k) for i in range(len(stays))
            for kind, n in (("settle", SETTLERS), ("notify", COPIES), ("topup", 1), ("watch", 1)) for k in range(n)]
    barrier = threading.Barrier(len(plan))
    done = {(kind, i): threading.Event() for kind, i, _ in plan}

    def look(client, s):
        response = client.get(f"/api/v1/admissions/{s['id']}", headers=s["family"])
        assert response.status_code == 200, response.json
        return response.json["deposit_balance_fen"]

    def call(kind, i, k):
        s = stays[i]
        barrier.wait()
        for other in WAITS[s["mode"]].get(kind, ()):
            assert done[other, i].wait(30), f"{other} of admission {i} never answered"
        client = app.test_client()
        try:
            if kind == "watch":  # the family refreshes the stay until settlement and notification are both in
                seen = [look(client, s)]
                while not (done["settle", i].is_set() and done["notify", i].is_set()):
                    seen.append(look(client, s))
                return kind, i, 200, seen + [look(client, s)]
            if kind == "settle":
                response = client.post(f"{STAFF}/{s['id']}/settle", headers=nurses[k])
            elif kind == "notify":
                response = client.post(NOTIFY, data=s["wire"][1], headers=s["wire"][0])
            else:
                response = client.post(f"/api/v1/admissions/{s['id']}/deposits", headers=s["family"],
                                       json={"amount_fen": FOURTH, "method": "wechat_jsapi"})
            return kind, i, response.status_code, None if response.status_code == 204 else response.json
        finally:
            done[kind, i].set()

    with ThreadPoolExecutor(max_workers=len(plan)) as pool:
        futures = [pool.submit(call, *task) for task in plan]
        return [future.result() for future in futures]


def refund_worker(app, stop, refunded):
    """The refund worker keeps sending whatever refunds the race has reserved so far."""
    while not stop.is_set():
        with app.app_context():
            refunded.update(jobs.submit_refunds())


def check(stays, answers):
    """Per admission: one settlement, each deposit's money counted once, refunded at most once, ledger whole."""
    paths = Counter()
    for i, s in enumerate(stays):
        mine = [(kind, status, body) for kind, j, status, body in answers if j == i]
        found = db.session.scalars(sa.select(Settlement).filter_by(admission_id=s["id"])).all()
        assert len(found) == 1
        assert {body["id"] for kind, _, body in mine if kind == "settle"} == {found[0].id}
        stl, admission = found[0], db.session.get(Admission, s["id"])
        bills = db.session.scalars(sa.select(Bill).filter_by(admission_id=s["id"])).all()
        payments = {p.out_trade_no: p for b in bills if b.kind == DEPOSIT for p in b.payments}
        third = payments[s["third"]]
        assert third.status == "paid" and third.amount_fen == THIRD
        if third.overpaid:  # arrived after settlement closed its bill: given back in full, once
            path, prefix, held = "refunded_after_settlement", "AUTO", FIRST + SECOND
        else:  # arrived first: counted in the settlement, which refunds the surplus of it
            path, prefix, held = "counted_in_settlement", "DS", FIRST + SECOND + THIRD
        paths[path] += 1
        assert {"paid_first": "counted_in_settlement", "settled_first": "refunded_after_settlement"}.get(
            s["mode"], path) == path
        assert stl.deposits_fen == held and stl.refund_fen == held - stl.self_pay_fen
        assert [(r.out_refund_no, r.amount_fen) for r in third.refunds] == [(prefix + s["third"], THIRD)]
        topup = next((status, body) for kind, status, body in mine if kind == "topup")
        if topup[0] == 201:  # taken before settlement, which closed it; paid late, so refunded in full
            late = payments[topup[1]["payment"]["out_trade_no"]]
            assert db.session.get(Bill, late.bill_id).status == "closed"
            assert late.overpaid and [(r.out_refund_no, r.amount_fen) for r in late.refunds] == [
                ("AUTO" + late.out_trade_no, FOURTH)]
        else:
            assert topup[0] == 409 and topup[1]["code"] == "admission_closed" and len(payments) == 3
        surplus = {(r.out_refund_no, r.amount_fen) for p in payments.values() for r in p.refunds
                   if r.out_refund_no.startswith("DS")}  # what the settlement itself gave back, as every nurse saw it
        assert sum(fen for _, fen in surplus) == stl.refund_fen and all(
            {(r["out_refund_no"], r["amount_fen"]) for r in body["refunds"]} == surplus
            for kind, _, body in mine if kind == "settle")
        for payment in payments.values():  # never more than one refund per payment, never beyond what was paid
            assert len(payment.refunds) <= 1 and all(r.status == "succeeded" for r in payment.refunds)
            assert sum(r.amount_fen for r in payment.refunds) == payment.refunded_fen <= payment.amount_fen
        assert admission.status == stl.status == "settled"
        assert summary(admission, stl)["deposit_balance_fen"] == 0
        assert settlement.identity(s["id"])["gap_fen"] == 0
        for bill in bills:
            assert ledger.derived_status(bill.id) == bill.status, (bill.kind, bill.status)
    unbalanced = db.session.execute(sa.select(LedgerEntry.transaction_id).group_by(LedgerEntry.transaction_id)
                                    .having(sa.func.sum(LedgerEntry.amount_fen) != 0)).all()
    assert unbalanced == []
    return paths


def test_settle_topup_and_duplicate_notifications_never_double_refund(app, client, make):
    """Concurrent settle + top-up + duplicate notifications never produce a double refund or a negative balance."""
    rounds = 4 if is_postgres(app) else 2  # admissions per mode: 12 (96 threads) on PostgreSQL, 6 on SQLite
    h = Hospital(app, client, make)
    nurses = [h.staff(wards="W1") for _ in range(SETTLERS)]
    stays = [stay(h, nurses[0], mode) for _ in range(rounds) for mode in WAITS]

    stop, refunded = threading.Event(), Counter()
    with ThreadPoolExecutor(max_workers=1) as side:
        background = side.submit(refund_worker, app, stop, refunded)
        try:
            answers = race(app, stays, nurses)
        finally:
            stop.set()
        background.result()
    n, during = len(stays), sum(refunded.values())
    outcome = Counter((kind, body["code"] if status >= 400 else status) for kind, _, status, body in answers)
    opened = outcome["topup", 201]
    assert outcome == {("settle", 200): SETTLERS * n, ("notify", 204): COPIES * n, ("topup", 201): opened,
                       ("topup", "admission_closed"): n - opened, ("watch", 200): n}
    assert rounds <= opened <= n - rounds  # paid_first admissions always top up, settled_first ones never can
    seen = [fen for kind, _, _, body in answers if kind == "watch" for fen in body]
    assert min(seen) >= 0  # what the family saw during the race, whatever the interleaving

    # The family pays the top-ups that settlement closed; the notification is lost and the worker's query finds it.
    for _, _, status, body in answers:
        if status == 201:
            h.pay_at_wechat(body["payment"]["out_trade_no"])
    with app.app_context():
        db.session.execute(sa.update(Payment).where(Payment.status == "created").values(next_query_at=now()))
        db.session.commit()
        assert Counter(jobs.query_payments()) == {"paid_then_refund": opened}
    for _ in range(5):  # the worker sends reserved refunds in batches of 50
        batch = h.run_refunds()
        refunded.update(batch)
        if not batch:
            break
    # Per admission: the rest of the first deposit, the second, the third (either way), plus each late top-up.
    assert refunded == {"refunded": 3 * n + opened}
    assert Counter(h.run_refunds()) == {}
    with app.app_context():  # WeChat's own trade bill agrees: nothing was refunded twice at WeChat either
        run = reconcile.reconcile(today_local())
        assert (run.status, run.wechat_refund_fen) == ("balanced", run.ledger_refund_fen), run.mismatches
        db.session.rollback()

    paths = in_db(app, lambda: check(stays, answers))
    assert sum(paths.values()) == n
    assert paths["counted_in_settlement"] >= rounds and paths["refunded_after_settlement"] >= rounds
    print(f"\ninpatient race: {n} admissions, paths {dict(paths)}, top-ups {opened} opened / {n - opened} refused, "
          f"{len(seen)} balance reads, {during} refunds sent during the race")
    for s in stays:
        after = client.get(f"/api/v1/admissions/{s['id']}", headers=s["family"]).json
        assert (after["status"], after["deposit_balance_fen"]) == ("settled", 0)
