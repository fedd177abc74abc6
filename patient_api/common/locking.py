"""Locks that work the same on PostgreSQL and SQLite: a row's (lock_row), or a key's of one's own (serialise)."""
from sqlalchemy import select, text, update

from ..extensions import db


def lock_row(model, row_id, keep_keys=False):
    """Serialise writers on one row until the transaction ends; returns False if it does not exist.

    keep_keys: on PostgreSQL lock FOR NO KEY UPDATE, so other transactions may still insert rows that reference
    this one (their foreign-key check takes FOR KEY SHARE): for a row used as a mutex, such as a patient's.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        query = select(model.id).where(model.id == row_id).with_for_update(key_share=keep_keys)
        return db.session.execute(query).first() is not None
    # SQLite has no row locks; a no-op UPDATE takes the database write lock instead.
    return db.session.execute(update(model).where(model.id == row_id).values(id=model.id)).rowcount == 1


def serialise(namespace, key):
    """Hold other callers of serialise(namespace, key) until this transaction ends, without locking any row.

    PostgreSQL: a transaction-level advisory lock, so it waits for no one else and no one else waits for it (a row
    lock would join the row's other lockers and their lock order). SQLite lets one writer in at a time anyway.
    `namespace` is a small int per purpose; `key` any string (hashed by the database).
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:key))"),
                           {"namespace": namespace, "key": str(key)})
