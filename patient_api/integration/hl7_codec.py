"""From an HTTP body to HL7 v2 segments: character set (MSH-18), segment separators, escape sequences."""
import codecs
import re
from dataclasses import dataclass

import hl7

# HL7 table 0211 names, and the labels Chinese LIS really send, compared without case, spaces or dashes.
# ASCII decodes as UTF-8: identical for true ASCII, and a sender that mislabels UTF-8 still works.
# GB 2312 decodes as GBK, its superset.
CHARSETS = {"ASCII": "utf-8", "UNICODEUTF8": "utf-8", "UTF8": "utf-8", "GB180302000": "gb18030",
            "GB180302005": "gb18030", "GB18030": "gb18030", "GBK": "gbk", "GB2312": "gbk", "CP936": "gbk",
            "88591": "latin-1", "ISO88591": "latin-1"}
SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")
FRAMING = b"\x0b\x1c\x00\r\n\t "  # MLLP start/end bytes, when a gateway forwards a frame as is


class Hl7Error(Exception):
    """Why a message is answered AR (rejected) or AE (application error), with its HL7 table 0357 code."""

    def __init__(self, ack, code, message, where=None, app_code=None):
        super().__init__(message)
        self.ack, self.code, self.message, self.where, self.app_code = ack, code, message, where, app_code


@dataclass(frozen=True)
class Seps:
    """A message's delimiters (MSH-1, MSH-2) and its character set, for unescaping \\Xhh\\ bytes."""

    field: str = "|"
    comp: str = "^"
    rep: str = "~"
    esc: str = "\\"
    sub: str = "&"
    codec: str = "utf-8"

    def unescape(self, text):
        """Replace \\F\\ \\S\\ \\T\\ \\R\\ \\E\\, \\.br\\ and \\Xhh\\; drop formatting sequences we cannot show."""
        if self.esc not in text:
            return text
        pieces = text.split(self.esc)
        out = [pieces[0]]
        for i in range(1, len(pieces), 2):
            if i + 1 == len(pieces):  # an unterminated escape: keep it as sent
                out.append(self.esc + pieces[i])
                break
            out.append(self._sequence(pieces[i]))
            out.append(pieces[i + 1])
        return "".join(out)

    def _sequence(self, name):
        known = {"F": self.field, "S": self.comp, "T": self.sub, "R": self.rep, "E": self.esc, ".br": "\n"}
        if name in known:
            return known[name]
        if name[:1] == "X":
            try:
                return bytes.fromhex(name[1:]).decode(self.codec, errors="replace")
            except ValueError:
                return ""
        return ""  # highlighting (\H\ \N\), other formatting and code-set switches carry no text

    def escape(self, text):
        """Text made safe to place in a field of our ACK."""
        out = text.replace(self.esc, f"{self.esc}E{self.esc}")
        for char, name in ((self.field, "F"), (self.comp, "S"), (self.sub, "T"), (self.rep, "R")):
            out = out.replace(char, f"{self.esc}{name}{self.esc}")
        return out.replace("\r", " ").replace("\n", " ")


class Segment:
    """One segment, read by HL7 position (for MSH, field 1 is the field separator itself)."""

    def __init__(self, parsed, seps, seq):
        self.fields = [str(field) for field in parsed]
        self.id, self.seps, self.seq = self.fields[0], seps, seq

    def raw(self, n):
        """Field n exactly as sent (escapes and delimiters intact)."""
        return self.fields[n] if n < len(self.fields) else ""

    def reps(self, n):
        """The raw repetitions of field n."""
        raw = self.raw(n)
        return raw.split(self.seps.rep) if raw else []

    def get(self, n, comp=1, rep=1, sub=1):
        """One value, unescaped and stripped; "" when absent or sent as the HL7 null ""."""
        reps = self.reps(n)
        comps = reps[rep - 1].split(self.seps.comp) if len(reps) >= rep else []
        subs = comps[comp - 1].split(self.seps.sub) if len(comps) >= comp else []
        value = self.seps.unescape(subs[sub - 1]).strip() if len(subs) >= sub else ""
        return "" if value == '""' else value

    def at(self, n):
        """Where field n is, for ERR-2: (segment id, sequence, field)."""
        return self.id, self.seq, n


def decode(body, fallback=None):
    """(text, codec, label, problem): the body in the charset MSH-18 names, else the Content-Type's, else UTF-8."""
    # An undecodable body is still read (with replacement characters) so that its ACK can name the
    # message; `problem` is then the error to answer with.
    data = body.strip(FRAMING)
    data = data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
    header = re.split(rb"[\r\n]", data, maxsplit=1)[0]
    if not header.startswith(b"MSH") or len(header) < 8:
        raise Hl7Error("AR", 100, "不是HL7 v2消息：第一段应为MSH", app_code="not_hl7")
    fields = header.split(header[3:4])
    repeat = fields[1][1:2] if len(fields) > 1 else b""
    declared = fields[17] if len(fields) > 17 else b""
    declared = (declared.split(repeat)[0] if repeat else declared).strip()
    label = declared.decode("ascii", errors="replace")
    codec = _codec(label) if label else _codec(fallback or "UTF-8") or "utf-8"
    if codec is None:
        problem = Hl7Error("AR", 103, f"不支持的字符集（MSH-18）：{label}", ("MSH", 1, 18), "unsupported_charset")
        return data.decode("utf-8", errors="replace"), "utf-8", "", problem
    try:
        return data.decode(codec), codec, label, None
    except UnicodeDecodeError:
        problem = Hl7Error("AR", 102, f"消息不是有效的{label or codec}编码", ("MSH", 1, 18), "undecodable")
        return data.decode(codec, errors="replace"), codec, label, problem


def _codec(label):
    """The Python codec for a charset label, or None for one we do not take."""
    return CHARSETS.get(re.sub(r"[^0-9A-Z]", "", label.upper()))


def split(text, codec):
    """The message's segments; segments may end in \\r, \\n or \\r\\n, blank lines are ignored."""
    lines = [line for line in re.split(r"\r\n|\r|\n", text) if line.strip()]
    text = "\r".join(lines)
    field, end = text[3], text.find(text[3], 4)
    encoding = text[4:end] if end > 0 else ""
    delimiters = field + encoding
    if not 4 <= len(encoding) <= 5 or len(set(delimiters)) != len(delimiters) \
            or any(c.isalnum() or c.isspace() for c in delimiters):
        raise Hl7Error("AR", 102, "MSH-1/MSH-2 分隔符无效", ("MSH", 1, 2), "bad_delimiters")
    seps = Seps(field, encoding[0], encoding[1], encoding[2], encoding[3], codec)
    seen, segments = {}, []
    for parsed in hl7.parse(text):
        segment_id = str(parsed[0])
        if not SEGMENT_ID.fullmatch(segment_id):
            raise Hl7Error("AR", 100, f"第{len(segments) + 1}段不是HL7段", app_code="bad_segment")
        seen[segment_id] = seen.get(segment_id, 0) + 1
        segments.append(Segment(parsed, seps, seen[segment_id]))
    return segments
