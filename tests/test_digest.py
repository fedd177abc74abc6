"""content_hash writes the same JSON as it did through dataclasses.asdict, so the digests already stored for
ingested resources still match and a resent, unchanged resource is still skipped."""
import hashlib
import json
from collections import namedtuple
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from patient_api.common.digest import content_hash
from patient_api.results.inputs import EncounterIn, EntryIn, ObservationIn, ReportIn

Pair = namedtuple("Pair", "low high")


@dataclass
class Inner:
    at: datetime
    amount: Decimal
    pair: Pair
    tags: tuple = ()


@dataclass
class Outer:
    name: str
    inner: Inner | None
    many: list = field(default_factory=list)
    table: dict = field(default_factory=dict)


def as_before(value):
    """The digest as content_hash computed it through dataclasses.asdict."""
    def encode(obj):
        return obj.isoformat() if isinstance(obj, (date, datetime)) else str(obj)
    text = json.dumps(asdict(value), sort_keys=True, ensure_ascii=False, default=encode)
    return hashlib.sha256(text.encode()).hexdigest()


AT = datetime(2026, 12, 1, 7, 0, tzinfo=timezone.utc)
ITEMS = [ObservationIn(source_id=f"O{n}", code="718-7", name="血红蛋白", value="135", value_num=135.0 + n,
                       unit="g/L", ref_low=115.0, ref_high=150.0, observed_at=AT, flag="N") for n in range(3)]


@pytest.mark.parametrize("value", [
    ReportIn(source_id="R1", source_format="fhir", kind="lab", title="血常规", status="final", issued_at=AT,
             items=ITEMS, recognised=True),
    ReportIn(source_id="R2", source_format="hl7v2", kind="imaging", title="胸部CT", status="amended", issued_at=AT,
             findings="双肺纹理清晰", impression="未见异常"),
    ITEMS[0],
    EncounterIn(source_id="E1", encounter_class="AMB", status="finished", started_at=AT, ended_at=None),
    EntryIn(kind="allergy", source_id="A1", display="青霉素过敏", recorded_on=date(2020, 5, 1),
            detail={"reaction": ["皮疹", {"severity": "mild"}], "onset": date(2020, 4, 30), "codes": {3: "a key"}}),
    Outer("外层", Inner(AT, Decimal("12.30"), Pair(1, 2.5), ("a", ("b", None))),
          many=[Inner(AT, Decimal("0"), Pair(None, None))], table={"x": [Pair(3, 4)], "y": {"z": AT}}),
    Outer("空", None),
])
def test_the_digest_is_the_one_computed_through_asdict(value):
    assert content_hash(value) == as_before(value)


def test_a_change_anywhere_changes_the_digest():
    first = Outer("甲", Inner(AT, Decimal("1.0"), Pair(1, 2)), many=[1, 2])
    second = Outer("甲", Inner(AT, Decimal("1.0"), Pair(1, 3)), many=[1, 2])
    assert content_hash(first) != content_hash(second)
