"""DiagnosticReport → ReportIn, with its results from the bundle or `contained`."""
from typing import NamedTuple

from ..results.inputs import ReportIn
from .fhir_observations import observation
from .fhir_values import (
    attachment_text,
    clip,
    concept_text,
    fit,
    identifier_key,
    instant,
    pick,
    plain_text,
    sensitive,
    text_type,
)

# v2 table 0074 diagnostic service sections (and FHIR/LOINC words) that mean an imaging study.
IMAGING_CODES = {"RAD", "CT", "NMR", "NMS", "RX", "XRC", "CUS", "OUS", "RUS", "VUS", "CTH", "imaging", "radiology",
                 "LP29684-5"}
DICOM_SYSTEMS = ("http://dicom.nema.org/resources/ontology/DCM", "urn:oid:1.2.840.10008.2.16.4")
IMAGING_WORDS = ("imaging", "radiology", "影像", "放射")
DEFAULT_TITLES = {"lab": "检验报告", "imaging": "检查报告"}


class Reference(NamedTuple):
    """A result reference as report_items follows it."""

    reference: str | None


class KeptReport:
    """A validated DiagnosticReport as ingest keeps it until it is mapped (the bundle's results must all be read
    first): the fields the mapping reads, with its results as plain references — the R4B model's result list alone
    is about half of the model, thousands of reports in a big bundle."""

    FIELDS = ("id", "identifier", "subject", "status", "category", "code", "effectiveDateTime", "effectivePeriod",
              "issued", "meta", "performer", "encounter", "conclusion", "conclusionCode", "presentedForm", "extension",
              "text", "contained")
    __slots__ = (*FIELDS, "result")
    masterIdentifier = None  # noqa: N815  (the FHIR name, read as on every resource)

    def __init__(self, model):
        for name in self.FIELDS:
            setattr(self, name, getattr(model, name))
        self.result = [Reference(ref.reference) for ref in model.result or []]

    @staticmethod
    def get_resource_type():
        """As the model answers."""
        return "DiagnosticReport"


def report_kind(categories):
    """imaging for RAD/imaging/DICOM/radiology categories, else lab."""
    for concept in categories or []:
        for coding in concept.coding or []:
            if coding.code in IMAGING_CODES or coding.system in DICOM_SYSTEMS:
                return "imaging"
        if any(word in (concept.text or "").lower() for word in IMAGING_WORDS):
            return "imaging"
    return "lab"


def linked_source_id(index, ref):
    """The source id of what a reference names (an encounter): the bundle's entry, its identifier, or the text."""
    if ref is None:
        return None
    target = index.find(ref.reference)
    if target is not None and target.source_id:
        return target.source_id
    return fit(identifier_key([ref.identifier]) or ref.reference or "") or None


def display_of(index, refs):
    """Who a list of references names: the first display, else the name of a Practitioner/Organization in the bundle."""
    for ref in refs or []:
        if ref.display:
            return ref.display
        target = index.find(ref.reference)
        name = getattr(target.resource, "name", None) if target is not None else None
        if isinstance(name, str):
            return name
        if name:  # HumanName list
            return name[0].text or _person_name(name[0].family or "", name[0].given or [])
    return None


def _person_name(family, given):
    """张三 (family first, no space) for Chinese names; Jane Smith for Latin ones."""
    if family.isascii() and all(part.isascii() for part in given):
        return " ".join([*given, family]).strip() or None
    return family + "".join(given) or None


def report_items(entry, index):
    """The report's results found in the bundle or `contained`: [(ObservationIn)], and the entries they came from."""
    contained = {f"#{r.id}": r for r in entry.resource.contained or [] if r.get_resource_type() == "Observation"}
    items, used = [], []
    for ref in entry.resource.result or []:
        if ref.reference in contained:
            obs = contained[ref.reference]
            source = identifier_key(obs.identifier) or f"{entry.source_id}#{obs.id}"
            items.append(observation(obs, fit(source, 160)))
            continue
        target = index.find(ref.reference)
        if target is not None and target.type == "Observation":
            items.append(observation(target.resource, target.source_id))
            used.append(target)
    return items, used


def report(entry, items, index, problems):
    """A DiagnosticReport as ReportIn (problems recorded at their paths)."""
    r = entry.resource
    kind, coding = report_kind(r.category), pick(r.code)
    effective = instant(r.effectiveDateTime) or instant(r.effectivePeriod and r.effectivePeriod.start)
    issued = instant(r.issued) or effective or instant(r.meta and r.meta.lastUpdated)
    if issued is None:
        problems.add(f"{entry.path}.issued", "缺少报告时间 (issued 或 effective[x])")
    category = pick((r.category or [None])[0], prefer=None)
    return ReportIn(
        source_id=entry.source_id, source_format="fhir", kind=kind,
        title=clip(concept_text(r.code) or DEFAULT_TITLES[kind], 200), status=r.status, issued_at=issued,
        code=clip(coding and coding.code, 64), category=clip(category and category.code, 60),
        performer=clip(display_of(index, r.performer), 100),
        encounter_source_id=linked_source_id(index, r.encounter), effective_at=effective,
        findings=_findings(entry, problems) if kind == "imaging" else None,
        impression=r.conclusion or "；".join(filter(None, map(concept_text, r.conclusionCode or []))) or None,
        sensitive=sensitive(r), items=items)


def _findings(entry, problems):
    """检查所见: the presented form's text, else a findings extension, else the narrative."""
    r = entry.resource
    for position, form in enumerate(r.presentedForm or []):
        if text_type(form):  # a PDF or DICOM rendering alongside is fine: it is just not text to show
            return attachment_text(form, f"{entry.path}.presentedForm[{position}]", problems)
    for extension in r.extension or []:
        if (extension.url or "").lower().endswith("findings") and (extension.valueString or extension.valueMarkdown):
            return extension.valueString or extension.valueMarkdown
    return plain_text(r.text.div) if r.text else None
