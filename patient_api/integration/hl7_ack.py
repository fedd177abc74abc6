"""HL7 v2 acknowledgements: what an ACK echoes of the message, and the ACK itself (MSH, MSA, ERR)."""
import uuid
from dataclasses import dataclass, field

from ..common.clock import now, to_local
from .hl7_codec import Seps

VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1")
OLD_ERR = ("2.3", "2.3.1", "2.4")  # before v2.5, ERR had only ERR-1 (segment^sequence^field^code)
APPLICATION = "PATIENT_API"
# HL7 table 0357, message error condition codes.
CONDITIONS = {0: "Message accepted", 100: "Segment sequence error", 101: "Required field missing",
              102: "Data type error", 103: "Table value not found", 200: "Unsupported message type",
              201: "Unsupported event code", 203: "Unsupported version id", 204: "Unknown key identifier",
              205: "Duplicate key identifier", 207: "Application internal error"}
REPLY_LABELS = {"utf-8": "UNICODE UTF-8", "gb18030": "GB 18030-2000", "gbk": "GBK", "latin-1": "8859/1"}


@dataclass
class Envelope:
    """The parts of the original MSH an ACK echoes; the defaults answer a message we could not read."""

    seps: Seps = field(default_factory=Seps)
    sender: tuple = ("", "")  # MSH-3, MSH-4 as sent
    receiver: tuple = ("", "")  # MSH-5, MSH-6 as sent
    trigger: str = "R01"
    control_id: str = ""  # MSH-10 as sent
    processing: str = "P"
    version: str = "2.5.1"

    @classmethod
    def of(cls, msh):
        """Read leniently: even a message we reject is answered with its own control id."""
        version = msh.get(12, 1)
        return cls(seps=msh.seps, sender=(msh.raw(3), msh.raw(4)), receiver=(msh.raw(5), msh.raw(6)),
                   trigger=msh.get(9, 2) or "R01", control_id=msh.raw(10), processing=msh.raw(11) or "P",
                   version=version if version in VERSIONS else "2.5.1")


def render(envelope, ack_code, error=None, text=""):
    """The ACK as bytes in the message's own character set, and its Content-Type."""
    s = envelope.seps
    msh = ["MSH", s.comp + s.rep + s.esc + s.sub, envelope.receiver[0] or APPLICATION, envelope.receiver[1],
           envelope.sender[0], envelope.sender[1], to_local(now()).strftime("%Y%m%d%H%M%S%z"), "",
           s.comp.join(("ACK", s.escape(envelope.trigger), "ACK")), uuid.uuid4().hex[:20].upper(),
           envelope.processing, envelope.version, "", "", "", "", "", REPLY_LABELS.get(s.codec, s.codec)]
    msa = ["MSA", ack_code, envelope.control_id, s.escape(error.message if error else text)]
    segments = [msh, msa] + ([_err(envelope, error)] if error else [])
    message = "\r".join(s.field.join(_trimmed(segment)) for segment in segments) + "\r"
    return message.encode(s.codec, errors="replace"), f"application/hl7-v2; charset={s.codec}"


def _err(envelope, error):
    s = envelope.seps
    where = [str(part) for part in (error.where or ()) if part is not None]
    if envelope.version in OLD_ERR:
        code = s.sub.join((str(error.code), CONDITIONS[error.code], "HL70357"))
        return ["ERR", s.comp.join((where + ["", "", ""])[:3] + [code])]
    condition = s.comp.join((str(error.code), CONDITIONS[error.code], "HL70357"))
    return ["ERR", "", s.comp.join(where), condition, "E", error.app_code or "", "", "", s.escape(error.message)]


def _trimmed(segment):
    """Trailing empty fields left out, as HL7 senders do."""
    while segment and segment[-1] == "":
        segment = segment[:-1]
    return segment
