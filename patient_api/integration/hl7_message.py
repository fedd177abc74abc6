"""The shape of an ORU^R01: its header (MSH) checked, its segments grouped per patient and per order."""
from dataclasses import dataclass, field

from ..results import rules
from .hl7_ack import VERSIONS
from .hl7_codec import Hl7Error
from .hl7_fields import bounded


@dataclass
class PatientResult:
    """A PID and the order groups (OBR with its OBX and notes) that follow it."""

    pid: object
    visit: str | None = None
    orders: list = field(default_factory=list)
    restricted: bool = False  # PD1-12 protection indicator, or an ARV access restriction before any OBR


@dataclass
class Order:
    """An OBR, its results and the notes (NTE) on the report as a whole."""

    obr: object
    obxs: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    restricted: bool = False  # an ARV access restriction (HIV, PSY, …) after this OBR


def check_header(msh):
    """Only ORU^R01 of v2.3 to v2.5.1 with a control id is taken; anything else is rejected (AR)."""
    if not msh.get(10):
        raise Hl7Error("AR", 101, "MSH-10 消息控制ID缺失", msh.at(10), "missing_control_id")
    kind, trigger = msh.get(9, 1).upper(), msh.get(9, 2).upper()
    if not kind:
        raise Hl7Error("AR", 101, "MSH-9 消息类型缺失", msh.at(9), "missing_message_type")
    if kind != "ORU":
        raise Hl7Error("AR", 200, f"不支持的消息类型 {kind}^{trigger}，只接收 ORU^R01", msh.at(9), "unsupported_type")
    if trigger != "R01":
        raise Hl7Error("AR", 201, f"不支持的事件 ORU^{trigger}，只接收 ORU^R01", msh.at(9), "unsupported_event")
    version = msh.get(12, 1)
    if not version:
        raise Hl7Error("AR", 101, "MSH-12 版本号缺失", msh.at(12), "missing_version")
    if version not in VERSIONS:
        raise Hl7Error("AR", 203, f"不支持的版本 {version}（支持 2.3–2.5.1）", msh.at(12), "unsupported_version")


def _restrict(patient, segment):
    """The sender's sensitivity flag: PD1-12 = Y protects the patient's results; ARV-3 (access restriction value,
    HL7 v2.6, sent by some v2.5 systems) with a sensitivity label restricts the order it follows, or the patient."""
    if segment.id == "PD1":
        patient.restricted |= segment.get(12).upper() == "Y"
        return
    if segment.get(3, 1).upper() in rules.SENSITIVE_LABELS:
        if patient.orders:
            patient.orders[-1].restricted = True
        else:
            patient.restricted = True


def grouped(segments):
    """ORU^R01 structure: {PID [PV1] {[ORC] OBR [NTE] {OBX [NTE]}}}; other segments are ignored."""
    patients = []
    for segment in segments[1:]:
        if segment.id == "MSH":
            raise Hl7Error("AR", 100, "每个请求只能包含一条消息", segment.at(None), "batch_not_supported")
        elif segment.id == "PID":
            patients.append(PatientResult(segment))
        elif segment.id in ("PV1", "ORC", "OBR", "OBX") and not patients:
            raise _out_of_order(segment, "应在 PID 之后")
        elif segment.id in ("PD1", "ARV") and patients:
            _restrict(patients[-1], segment)
        elif segment.id == "PV1":
            patients[-1].visit = bounded(segment, 19, segment.get(19), 128)  # the visit number
        elif segment.id == "OBR":
            patients[-1].orders.append(Order(segment))
        elif segment.id == "OBX" and not patients[-1].orders:
            raise _out_of_order(segment, "应在 OBR 之后")
        elif segment.id == "OBX":
            patients[-1].orders[-1].obxs.append(segment)
        elif segment.id == "NTE" and patients and patients[-1].orders and not patients[-1].orders[-1].obxs:
            patients[-1].orders[-1].notes.append(segment.seps.unescape(segment.raw(3)).strip())  # the conclusion
    if not patients:
        raise Hl7Error("AR", 100, "缺少 PID 段", app_code="missing_segment")
    for patient in patients:
        if not patient.orders:
            raise Hl7Error("AR", 100, "PID 之后缺少 OBR 段", patient.pid.at(None), "missing_segment")
    return patients


def _out_of_order(segment, why):
    return Hl7Error("AR", 100, f"第{segment.seq}个 {segment.id} 段{why}", segment.at(None), "segment_sequence")
