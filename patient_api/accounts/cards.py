"""Social-security (医保) cards the city holds for a person: a kiosk card read must match one.

The card number alone proves nothing (it is printed on the card) and the 社会保障号码 is the ID number, which
anyone may know; the pair must be what the insurance platform or a hospital recorded for that person.
"""
import re
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from ..common import crypto
from ..common.clock import UtcDateTime, now
from ..common.ids import new_id
from ..extensions import db

CARD = re.compile(r"^[A-Za-z0-9]{6,40}$")


class InsuranceCard(db.Model):
    """One card number (kept only as a keyed hash) and the person it belongs to."""

    __tablename__ = "insurance_cards"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("icd"))
    card_index: Mapped[str] = mapped_column(sa.String(64), unique=True)
    person_index: Mapped[str] = mapped_column(sa.String(64), index=True)
    source: Mapped[str] = mapped_column(sa.String(20))  # insurance_platform | his_admission | his_bill | demo
    hospital_id: Mapped[str | None] = mapped_column(sa.String(32))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


def normalise(raw):
    """Upper-case card number without spaces, or None when it cannot be one."""
    number = re.sub(r"\s", "", raw or "").upper()
    return number if CARD.match(number) else None


def record_card(person_index, raw, source, hospital_id=None):
    """Remember that a card belongs to a person (a re-issued card number moves to its new holder's record)."""
    number = normalise(raw)
    if number is None or not person_index:
        return False
    card_index = crypto.blind_index(number)
    row = db.session.scalars(sa.select(InsuranceCard).filter_by(card_index=card_index)).first()
    if row is None:
        try:
            with db.session.begin_nested():
                db.session.add(InsuranceCard(card_index=card_index, person_index=person_index, source=source,
                                             hospital_id=hospital_id))
            return True
        except IntegrityError:
            row = db.session.scalars(sa.select(InsuranceCard).filter_by(card_index=card_index)).one()
    row.person_index, row.source, row.hospital_id, row.recorded_at = person_index, source, hospital_id, now()
    return True


def belongs_to(raw, person_index):
    """True when the city holds this card number for this person."""
    number = normalise(raw)
    return number is not None and db.session.scalar(sa.select(sa.func.count()).select_from(InsuranceCard).where(
        InsuranceCard.card_index == crypto.blind_index(number), InsuranceCard.person_index == person_index)) == 1


def mask_card(raw):
    """For the audit: the first two and last four characters."""
    number = normalise(raw) or ""
    return number[:2] + "*" * max(0, len(number) - 6) + number[-4:] if len(number) > 6 else "*" * len(number)


def cli():
    """`flask insurance card`: record a card the insurance platform reports for a person (operators, demo)."""
    import click
    from flask.cli import AppGroup

    from .identity import InvalidIdNumber, parse_resident_id

    group = AppGroup("insurance", help="医保: cards the city holds for residents.")

    @group.command("card")
    @click.option("--id-number", required=True)
    @click.option("--card-number", required=True)
    def add_card(id_number, card_number):
        """Record that CARD_NUMBER is the 社保卡 of the person with ID_NUMBER."""
        try:
            person = crypto.blind_index(parse_resident_id(id_number).number)
        except InvalidIdNumber as exc:
            raise click.ClickException(str(exc)) from None
        if not record_card(person, card_number, "insurance_platform"):
            raise click.ClickException("卡号应为6–40位字母或数字")
        db.session.commit()
        click.echo(f"已记录医保卡 {mask_card(card_number)}")

    return group
