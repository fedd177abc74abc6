"""Row locks that work the same on PostgreSQL and SQLite."""
from sqlalchemy import select, update

from ..extensions import db


def lock_row(model, row_id):
    """Serialise writers on one row until the transaction ends; returns False if it does not exist."""
    if db.session.get_bind().dialect.name == "postgresql":
        return db.session.execute(select(model.id).where(model.id == row_id).with_for_update()).first() is not None
    # SQLite has no row locks; a no-op UPDATE takes the database write lock instead.
    return db.session.execute(update(model).where(model.id == row_id).values(id=model.id)).rowcount == 1
