"""ORU^R01 content as storage inputs: who a PID is about (PID-3), and each OBR with its OBX as a ReportIn."""
from ..common.masking import mask_id_number
from ..results.inputs import ObservationIn, ReportIn
from ..results.matching import ID_NUMBER_SYSTEM, InvalidIdNumber, index_for_id_number, index_for_mrn, link_mrn
from . import hl7_fields as fields
from .hl7_codec import Hl7Error

ID_TYPES = ("NNCHN", "ID", "CN")  # CX.5 identifier types senders use for the 居民身份证号
MRN_TYPES = ("MR", "PI")
RESIDENT_AUTHORITY = {ID_NUMBER_SYSTEM, ID_NUMBER_SYSTEM.removeprefix("urn:oid:")}
CODE_SYSTEMS = {"LN": "http://loinc.org"}  # the system FHIR ingest uses, so trends join across formats
FINAL = {"final", "corrected"}


def identity(pid):
    """PID-3 read without touching the database: (person index of the ID number or None, the MRNs)."""
    people, mrns = set(), []
    for rep in range(1, len(pid.reps(3)) + 1):
        ident, kind = pid.get(3, 1, rep), pid.get(3, 5, rep).upper()
        authority = {pid.get(3, 4, rep, sub) for sub in (1, 2)}
        if not ident:
            continue
        if kind in ID_TYPES or authority & RESIDENT_AUTHORITY:
            try:
                people.add(index_for_id_number(ident))
            except InvalidIdNumber as error:
                raise Hl7Error("AE", 102, f"PID-3 身份证号无效：{error}", pid.at(3), "invalid_id_number") from None
        elif kind in MRN_TYPES:
            mrns.append(fields.bounded(pid, 3, ident, 64))
    if len(people) > 1:
        raise Hl7Error("AE", 102, "PID-3 含有两个不同的身份证号", pid.at(3), "conflicting_id_numbers")
    if not people and not mrns:
        raise Hl7Error("AE", 101, "PID-3 缺少身份证号（NNCHN）或病案号（MR）", pid.at(3), "missing_patient_id")
    return next(iter(people), None), mrns


def phones(pid):
    """PID-13 numbers as the sender wrote them (XTN.12 unformatted, else XTN.1, else area + local number)."""
    found = []
    for rep in range(1, len(pid.reps(13)) + 1):
        number = pid.get(13, 12, rep) or pid.get(13, 1, rep) or (pid.get(13, 6, rep) + pid.get(13, 7, rep))
        if number:
            found.append(number)
    return found


def person(hospital, pid, person_index, mrns):
    """Who the results are about: the ID number (and its MRNs are learnt), else an MRN learnt before."""
    if person_index:
        for mrn in mrns:
            if not link_mrn(hospital, mrn, person_index):
                raise Hl7Error("AE", 205, f"病案号 {mask_id_number(mrn)} 已关联其他居民", pid.at(3), "mrn_conflict")
        return person_index
    known = {index_for_mrn(hospital, mrn) for mrn in mrns} - {None}
    if not known:
        raise Hl7Error("AE", 204, "未知的病案号，请同时发送身份证号", pid.at(3), "unknown_patient")
    if len(known) > 1:
        raise Hl7Error("AE", 205, "PID-3 的病案号分属不同居民", pid.at(3), "mrn_conflict")
    return known.pop()


def report(obr, obxs, notes, control_id, message_time, visit, restricted=False):
    """One OBR with its OBX segments as a lab ReportIn; `restricted`: the sender marked it sensitive."""
    source_id = obr.get(3) or obr.get(2) or f"{control_id}|{obr.get(1) or obr.seq}"
    title = obr.get(4, 2) or obr.get(4, 1)
    if not title:
        raise Hl7Error("AE", 101, "OBR-4 检验项目缺失", obr.at(4), "missing_title")
    effective = fields.when(obr, 7)
    issued = fields.when(obr, 22) or effective or message_time
    if issued is None:
        raise Hl7Error("AE", 101, "OBR-22 报告时间缺失", obr.at(22), "missing_issued")
    given = fields.status(obr, 25, fields.REPORT_STATUS, default="")
    items, seen = [], set()
    for obx in obxs:
        item = observation(obx, source_id, effective or issued, {"partial": "preliminary"}.get(given, given) or None)
        if item.source_id in seen:
            raise Hl7Error("AE", 205, "同一报告中 OBX-3/OBX-4 重复", obx.at(4), "duplicate_result")
        seen.add(item.source_id)
        items.append(item)
    return ReportIn(source_id=fields.bounded(obr, 3, source_id, 128), source_format="hl7v2", kind="lab",
                    title=fields.bounded(obr, 4, title, 200), status=given or _derived(obr, items),
                    issued_at=issued, code=fields.bounded(obr, 4, obr.get(4, 1), 64),
                    category=fields.bounded(obr, 24, obr.get(24), 60), encounter_source_id=visit,
                    effective_at=effective, impression="\n".join(notes) or None, sensitive=restricted, items=items)


def _derived(obr, items):
    """OBR-25 is left empty by many LIS: the report is as final as its results (OBX-11)."""
    states = {item.status for item in items}
    if not states:
        raise Hl7Error("AE", 101, "OBR-25 结果状态缺失", obr.at(25), "missing_status")
    if states <= FINAL:
        return "corrected" if "corrected" in states else "final"
    return "partial" if states & FINAL else "preliminary"


def observation(obx, report_source, default_time, default_status):
    """One OBX as an ObservationIn; its source id stays the same across re-sends and corrections."""
    code = obx.get(3, 1)
    if not code:
        raise Hl7Error("AE", 101, "OBX-3 检验项目代码缺失", obx.at(3), "missing_code")
    name, system = obx.get(3, 2) or code, obx.get(3, 3)
    if obx.get(3, 6).upper() == "LN" and system.upper() != "LN" and obx.get(3, 4):
        code, system = obx.get(3, 4), "LN"  # prefer the LOINC alternate: trends then match across hospitals
    text, num = fields.value(obx)
    # An unescaped ~ (as in "3.5~9.5") reads as a repetition: put the range back together.
    reference = "~".join(obx.seps.unescape(rep) for rep in obx.reps(7)).strip()
    low, high = fields.reference_range(reference)
    return ObservationIn(
        source_id=fields.bounded(obx, 3, f"{report_source}|{obx.get(3, 1)}|{obx.get(4)}", 160),
        code=fields.bounded(obx, 3, code, 64), name=fields.bounded(obx, 3, name, 200),
        code_system=fields.bounded(obx, 3, CODE_SYSTEMS.get(system.upper(), system), 120),
        value=text, value_num=num, unit=fields.bounded(obx, 6, obx.get(6, 1) or obx.get(6, 2), 40),
        ref_low=low, ref_high=high, reference_range=fields.bounded(obx, 7, reference, 120),
        flag=fields.flag(obx.get(8)), status=fields.status(obx, 11, fields.RESULT_STATUS, default_status),
        observed_at=fields.when(obx, 14) or default_time)
