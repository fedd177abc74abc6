"""Who each resource is about: a Patient in the bundle, the resident ID number, or an MRN the hospital sent before."""
import sqlalchemy as sa

from ..extensions import db
from ..results import matching
from ..results.models import MrnLink
from .fhir_errors import InvalidIdNumber, MrnConflict, UnknownSubject

MRN_TYPE = "MR"  # v2 table 0203 identifier type: medical record number
MRN_MAX = 64  # mrn_links.mrn
CHUNK = 500  # keeps IN (...) lists well under every database's parameter limit
PATIENT_FIELD = ("AllergyIntolerance", "Immunization")  # these name their person in `patient`, others in `subject`


class BundleIndex:
    """Resolves references inside the bundle: fullUrl (urn:uuid or absolute URL) or Type/id."""

    def __init__(self, entries):
        self.by_key = {}
        for entry in entries:
            if entry.full_url:
                self.by_key.setdefault(entry.full_url, entry)
                if _tail(entry.full_url):
                    self.by_key.setdefault(_tail(entry.full_url), entry)
            if entry.resource.id:
                self.by_key.setdefault(f"{entry.type}/{entry.resource.id}", entry)

    def find(self, reference):
        """The entry a reference points to, or None when it is not in this bundle."""
        if not reference:
            return None
        reference = reference.split("/_history/")[0]
        return self.by_key.get(reference) or self.by_key.get(_tail(reference) or "")


def _tail(url):
    parts = url.rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 and not url.startswith(("urn:", "#")) else None


def is_mrn(identifier):
    """An identifier typed MR (medical record number) that is not the ID number."""
    codes = {c.code for c in (identifier.type.coding or [])} if identifier.type else set()
    return MRN_TYPE in codes and identifier.system != matching.ID_NUMBER_SYSTEM and bool(identifier.value)


class Subjects:
    """Person indexes for the bundle's Patients and for every subject reference, problems recorded by path."""

    def __init__(self, hospital, index, entries, problems):
        self.hospital, self.index, self.problems = hospital, index, problems
        self.id_indexes, self.new_links = {}, {}
        self.mrns = self._known_mrns(entries)

    def _known_mrns(self, entries):
        """Every MRN the bundle mentions that the hospital linked before, in a few queries instead of one each."""
        wanted = set()
        for entry in entries:
            if entry.type == "Patient":
                wanted.update(i.value for i in entry.resource.identifier or [] if is_mrn(i))
            ref = getattr(entry.resource, "patient" if entry.type in PATIENT_FIELD else "subject", None)
            if ref is not None and ref.identifier and ref.identifier.value:
                wanted.add(ref.identifier.value)
        wanted, known = sorted(wanted), {}
        for start in range(0, len(wanted), CHUNK):
            known.update(db.session.execute(sa.select(MrnLink.mrn, MrnLink.person_index).where(
                MrnLink.hospital_id == self.hospital.id, MrnLink.mrn.in_(wanted[start:start + CHUNK]))).all())
        return known

    def id_index(self, raw, path):
        """The person index of an ID number (computed once per number), or None after recording the problem."""
        if raw not in self.id_indexes:
            try:
                self.id_indexes[raw] = matching.index_for_id_number(raw)
            except matching.InvalidIdNumber as err:
                self.id_indexes[raw] = None
                self.problems.add(path, str(err), InvalidIdNumber)
                return None
        return self.id_indexes[raw]

    def learn_patient(self, entry):
        """A Patient: its person (ID number, else a known MRN) and the MRNs to link; True if a link is new."""
        identifiers = entry.resource.identifier or []
        for position, ident in enumerate(identifiers):
            if ident.system == matching.ID_NUMBER_SYSTEM:
                entry.person = self.id_index(ident.value, f"{entry.path}.identifier[{position}].value")
                entry.id_number = ident.value if entry.person else None
                break
        mrns = [(position, ident.value) for position, ident in enumerate(identifiers) if is_mrn(ident)]
        for position, mrn in mrns:
            if len(mrn) > MRN_MAX:
                self.problems.add(f"{entry.path}.identifier[{position}].value", f"病案号不能超过 {MRN_MAX} 个字符")
        if entry.person is None:
            entry.person = next((self.mrns[mrn] for _, mrn in mrns if mrn in self.mrns), None)
        if entry.person is None:
            return False
        linked = False
        for position, mrn in mrns:
            known = self.mrns.get(mrn)
            if known is None:
                self.mrns[mrn] = self.new_links[mrn] = entry.person
                linked = True
            elif known != entry.person:
                self.problems.add(f"{entry.path}.identifier[{position}].value", "该病案号已关联到其他人", MrnConflict)
        return linked

    def save_links(self):
        """Store the MRNs learnt from this bundle (after every check passed)."""
        for mrn, person in self.new_links.items():
            if not matching.link_mrn(self.hospital, mrn, person):  # linked to someone else meanwhile
                raise MrnConflict(errors={"identifier": ["病案号已关联到其他人"]})

    def person_of(self, entry):
        """The person a resource is about (subject, or patient for allergies and immunizations), else None."""
        field = "patient" if entry.type in PATIENT_FIELD else "subject"
        ref, path = getattr(entry.resource, field, None), f"{entry.path}.{field}"
        if ref is None:
            self.problems.add(path, "缺少患者引用", UnknownSubject)
            return None
        if ref.reference:
            target = self.index.find(ref.reference)
            if target is not None and target.type == "Patient" and target.person is not None:
                return target.person
            if not (ref.identifier and ref.identifier.value):
                why = ("本 Bundle 中没有该患者" if target is None else "引用的不是 Patient" if target.type != "Patient"
                       else "该患者既无身份证号也无已知病案号")
                self.problems.add(f"{path}.reference", f"{why}: {ref.reference}", UnknownSubject)
                return None
        if ref.identifier and ref.identifier.value:
            if ref.identifier.system == matching.ID_NUMBER_SYSTEM:
                return self.id_index(ref.identifier.value, f"{path}.identifier.value")
            if ref.identifier.value in self.mrns:
                return self.mrns[ref.identifier.value]
            self.problems.add(f"{path}.identifier", "未知的病案号", UnknownSubject)
            return None
        self.problems.add(path, "缺少患者引用", UnknownSubject)
        return None

