"""Observation → ObservationIn: LOINC code where there is one, the value as sent, unit, reference range, flag."""
from typing import NamedTuple

from ..results import rules
from ..results.inputs import ObservationIn
from .fhir_values import OutOfRange, clip, concept_text, instant, number, pick, sensitive


class Identifier(NamedTuple):
    """An identifier as a source id is made of (fhir_values.identifier_key)."""

    system: str | None
    value: str | None


class Subject(NamedTuple):
    """A subject reference as fhir_subjects resolves it."""

    reference: str | None
    identifier: Identifier | None


class Mapped:
    """What ingest keeps of a bundle's Observation once it is validated: its ids and subject (who it is about, its
    source id) and its mapping, not the R4B model — tens of thousands of those would hold hundreds of MB."""

    __slots__ = ("id", "identifier", "subject", "mapped", "error")
    masterIdentifier = None  # noqa: N815  (the FHIR name, read as on every resource)

    def __init__(self, obs):
        self.id, self.identifier = obs.id, [Identifier(ident.system, ident.value) for ident in obs.identifier or []]
        ref = obs.subject
        self.subject = ref and Subject(ref.reference, ref.identifier and Identifier(ref.identifier.system,
                                                                                    ref.identifier.value))
        try:
            self.mapped, self.error = observation(obs, None), None
        except OutOfRange as err:  # raised where the model would have been mapped, so it is reported at that path
            self.mapped, self.error = None, err

    @staticmethod
    def get_resource_type():
        """As the model answers."""
        return "Observation"


def observation(obs, source_id):
    """One Observation as ObservationIn: LOINC code where there is one, value, unit, range, flag."""
    if isinstance(obs, Mapped):
        if obs.error is not None:
            raise obs.error
        obs.mapped.source_id = source_id  # always the entry's own source id: no copy needed
        return obs.mapped
    coding = pick(obs.code)
    value, value_num, unit = _value(obs)
    low, high, range_text = _range(obs.referenceRange)
    given = next((c.code for concept in obs.interpretation or [] for c in concept.coding or [] if c.code), None)
    code = (coding and coding.code) or concept_text(obs.code) or "unknown"
    return ObservationIn(
        source_id=source_id, code=clip(code, 64), name=clip(concept_text(obs.code) or code, 200),
        code_system=clip(coding and coding.system, 120), value=clip(value, 500), value_num=value_num,
        unit=clip(unit, 40), ref_low=low, ref_high=high, reference_range=clip(range_text, 120),
        flag=given if given and given.upper() in rules.INTERPRETATION else None,  # unknown codes: compute instead
        status=obs.status, sensitive=sensitive(obs),
        observed_at=instant(obs.effectiveDateTime) or instant(obs.effectivePeriod and obs.effectivePeriod.start)
        or instant(obs.effectiveInstant) or instant(obs.issued))


def _value(obs):
    """(text, number, unit) of value[x]; a panel such as blood pressure joins its components (128/82)."""
    if obs.valueQuantity is not None:
        text, num = number(obs.valueQuantity.value)
        comparator = obs.valueQuantity.comparator or ""
        return (comparator + text if text else None), num, obs.valueQuantity.unit or obs.valueQuantity.code
    if obs.valueInteger is not None:
        return number(obs.valueInteger) + (None,)
    if obs.valueCodeableConcept is not None:
        return concept_text(obs.valueCodeableConcept), None, None
    if obs.valueBoolean is not None:
        return ("是" if obs.valueBoolean else "否"), None, None
    for text in (obs.valueString, obs.valueDateTime, obs.valueTime):
        if text is not None:
            return str(text), None, None
    if obs.valueRange is not None:
        bound = obs.valueRange.low or obs.valueRange.high
        return _span(obs.valueRange.low, obs.valueRange.high), None, bound and bound.unit
    parts = [c.valueQuantity for c in obs.component or [] if c.valueQuantity is not None]
    if parts:
        return "/".join(number(p.value)[0] or "" for p in parts), None, parts[0].unit or parts[0].code
    return None, None, None


def _range(ranges):
    """(low, high, text) of the first reference range; the text is built from low/high when not sent."""
    if not ranges:
        return None, None, None
    first = ranges[0]
    low = number(first.low.value)[1] if first.low else None
    high = number(first.high.value)[1] if first.high else None
    return low, high, first.text or _span(first.low, first.high)


def _span(low, high):
    low_text = number(low.value)[0] if low else None
    high_text = number(high.value)[0] if high else None
    if low_text and high_text:
        return f"{low_text}-{high_text}"
    return f"≥{low_text}" if low_text else f"≤{high_text}" if high_text else None
