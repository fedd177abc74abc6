"""The busiest writes send only statements SQLAlchemy can keep compiled: one without a cache key is compiled anew on
every request (the ledger's INSERT … ON CONFLICT DO NOTHING was, on every booking and every payment)."""
import contextlib

import sqlalchemy as sa
from sqlalchemy.engine import default

from patient_api.extensions import db

from .test_payments import notification, pay, post

SAVEPOINTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@contextlib.contextmanager
def compiled_every_time(app):
    """The statements built from SQLAlchemy constructs that had no cache key, sent while the block runs (savepoints
    aside: a word each, nothing to keep)."""
    found = []

    def check(_conn, _cursor, statement, _params, context, _many):
        if (context is not None and context.compiled is not None and context.cache_hit is default.NO_CACHE_KEY
                and not statement.lstrip().upper().startswith(SAVEPOINTS)):
            found.append(" ".join(statement.split())[:120])
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", check)
    try:
        yield found
    finally:
        sa.event.remove(engine, "before_cursor_execute", check)


def test_booking_paying_and_the_notification_send_only_cacheable_statements(app, client, make):
    headers, patient_id = make.resident(verified=True)
    schedule_id = make.schedule(fee_fen=1200)
    with compiled_every_time(app) as found:
        booked = client.post("/api/v1/appointments", json={"schedule_id": schedule_id, "patient_id": patient_id},
                             headers=headers)
        assert booked.status_code == 201, booked.json
        order = pay(client, headers, booked.json["bill_id"])
        assert post(client, notification(app, order["out_trade_no"], 1200)).status_code == 204
    assert found == []
    with app.app_context():  # the ledger's rows were written as before: issue and payment, once each
        kinds = db.session.execute(sa.text("SELECT kind, count(*) FROM ledger_transactions "
                                           "WHERE bill_id = :bill GROUP BY kind"), {"bill": booked.json["bill_id"]})
        assert dict(kinds.all()) == {"issue": 1, "payment": 1}
