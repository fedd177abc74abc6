"""Encounter, Condition, AllergyIntolerance, Immunization and DocumentReference → record and document inputs."""
from ..results.inputs import EncounterIn, EntryIn, ReportIn
from .fhir_results import display_of, linked_source_id
from .fhir_values import (
    attachment_text,
    clip,
    coding_code,
    concept_text,
    day,
    instant,
    number,
    pick,
    sensitive,
    text_type,
)

ENCOUNTER_CLASSES = {"AMB": "outpatient", "IMP": "inpatient", "ACUTE": "inpatient", "NONAC": "inpatient",
                     "EMER": "emergency"}
# LOINC discharge summaries (出院小结): discharge summary, physician discharge summary, attending discharge summary.
DISCHARGE_CODES = {"18842-5", "11490-0", "28655-9"}
INPATIENT_CODES = {"inpatient", "imp"}
INPATIENT_WORDS = ("inpatient", "discharge", "住院", "出院")


def encounter(entry):
    """A visit or stay: AMB → outpatient, IMP/ACUTE → inpatient, EMER → emergency, else other."""
    r = entry.resource
    department = concept_text(r.serviceType) or next(filter(None, map(concept_text, r.type or [])), None)
    return EncounterIn(
        source_id=entry.source_id, encounter_class=ENCOUNTER_CLASSES.get(r.class_fhir.code, "other"),
        status=r.status, department=clip(department, 60),
        reason=clip(next(filter(None, map(concept_text, r.reasonCode or [])), None), 200),
        started_at=instant(r.period and r.period.start), ended_at=instant(r.period and r.period.end))


def condition(entry):
    """A diagnosis (诊断)."""
    r = entry.resource
    onset = r.onsetDateTime or (r.onsetPeriod and r.onsetPeriod.start) or r.recordedDate
    return _entry("condition", entry, r.code, coding_code(r.clinicalStatus), day(onset), {
        "severity": concept_text(r.severity), "verification": coding_code(r.verificationStatus),
        "category": [concept_text(c) for c in r.category or []] or None,
        "abated_on": _text(day(r.abatementDateTime))}, "未命名诊断")


def allergy(entry):
    """An allergy or intolerance (过敏), with its reactions."""
    r = entry.resource
    reactions = [_present({"manifestation": [concept_text(m) for m in reaction.manifestation or []],
                           "severity": reaction.severity, "substance": concept_text(reaction.substance)})
                 for reaction in r.reaction or []]
    return _entry("allergy", entry, r.code, coding_code(r.clinicalStatus), day(r.onsetDateTime or r.recordedDate), {
        "type": r.type, "category": r.category or None, "criticality": r.criticality,
        "verification": coding_code(r.verificationStatus), "reactions": reactions or None}, "未命名过敏原")


def immunization(entry):
    """A vaccination (预防接种): vaccine, date, lot, dose."""
    r = entry.resource
    protocol = (r.protocolApplied or [None])[0]
    dose = r.doseQuantity and f"{number(r.doseQuantity.value)[0]} {r.doseQuantity.unit or ''}".strip()
    return _entry("immunization", entry, r.vaccineCode, r.status, day(r.occurrenceDateTime or r.recorded), {
        "lot_number": r.lotNumber, "expires_on": _text(r.expirationDate),
        "dose_number": protocol and (protocol.doseNumberPositiveInt or protocol.doseNumberString),
        "series_doses": protocol and (protocol.seriesDosesPositiveInt or protocol.seriesDosesString),
        "manufacturer": r.manufacturer and r.manufacturer.display, "site": concept_text(r.site),
        "route": concept_text(r.route), "dose": dose}, "未命名疫苗")


def _entry(kind, entry, concept, status, recorded_on, detail, fallback):
    coding = pick(concept, prefer=None)
    return EntryIn(kind=kind, source_id=entry.source_id, display=clip(concept_text(concept) or fallback, 200),
                   code=clip(coding and coding.code, 64), code_system=clip(coding and coding.system, 120),
                   status=clip(status, 30), recorded_on=recorded_on,
                   detail=_present(detail))


def _present(values):
    """The detail fields that have a value."""
    return {key: value for key, value in values.items() if value not in (None, [], "")}


def _text(value):
    return value.isoformat() if value is not None else None


def document(entry, index, problems):
    """A clinical document (门诊病历 / 出院小结) as an outpatient or inpatient ReportIn; its text must be inline."""
    r = entry.resource
    kind = "inpatient" if _inpatient(r) else "outpatient"
    context = r.context
    issued = instant(r.date) or instant(context and context.period and context.period.start) \
        or instant(r.meta and r.meta.lastUpdated)
    if issued is None:
        problems.add(f"{entry.path}.date", "缺少文档时间 (date 或 context.period)")
    position = next((n for n, content in enumerate(r.content) if text_type(content.attachment)), 0)
    body = attachment_text(r.content[position].attachment, f"{entry.path}.content[{position}].attachment", problems)
    status = "entered-in-error" if r.status == "entered-in-error" else r.docStatus or "final"
    coding = pick(r.type)
    return ReportIn(
        source_id=entry.source_id, source_format="fhir", kind=kind, status=status, issued_at=issued,
        title=clip(concept_text(r.type) or r.description or ("出院小结" if kind == "inpatient" else "门诊病历"), 200),
        code=clip(coding and coding.code, 64),
        category=clip(next(filter(None, (coding_code(c) for c in r.category or [])), None), 60),
        department=clip(context and concept_text(context.practiceSetting), 60),
        performer=clip(display_of(index, r.author), 100),
        encounter_source_id=linked_source_id(index, (context and context.encounter or [None])[0]),
        effective_at=instant(context and context.period and context.period.start), body=body,
        sensitive=sensitive(r))


def _inpatient(r):
    """A discharge summary (LOINC) or an inpatient category/type means an inpatient document."""
    concepts = [r.type, *(r.category or [])] if r.type else list(r.category or [])
    for concept in concepts:
        if any(c.code in DISCHARGE_CODES or (c.code or "").lower() in INPATIENT_CODES for c in concept.coding or []):
            return True
        if any(word in (concept.text or "").lower() for word in INPATIENT_WORDS):
            return True
    return False
