"""HL7 v2 data types as our values: timestamps, numbers, reference ranges, result statuses, OBX-5 values."""
import math
import re
from datetime import timezone

import hl7

from ..common.clock import LOCAL
from ..results import rules
from .hl7_codec import Hl7Error

TS = re.compile(r"\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,4})?)?)?)?)?)?([+-]\d{4})?")
NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
RANGE = re.compile(rf"({NUMBER})\s*(?:-|~|～|—|–|－|至)\s*({NUMBER})")
BOUND = re.compile(rf"(<=|>=|≤|≥|<|>|＜|＞)\s*({NUMBER})")
UPPER_BOUNDS = ("<", "<=", "≤", "＜")
# OBR-25 (HL7 table 0123) → report status; O/I/S: nothing to show yet, A/R: some results, not verified.
REPORT_STATUS = {"F": "final", "P": "preliminary", "C": "corrected", "X": "cancelled", "A": "partial",
                 "R": "partial", "O": "registered", "I": "registered", "S": "registered"}
# OBX-11 (HL7 table 0085) → result status; D (delete) and W (wrong) withdraw a result sent earlier.
RESULT_STATUS = {"F": "final", "P": "preliminary", "C": "corrected", "X": "cancelled", "D": "entered-in-error",
                 "W": "entered-in-error", "R": "preliminary", "S": "preliminary", "I": "registered",
                 "O": "registered", "N": "cancelled", "U": "final"}
ARROWS = {"↑": "H", "↓": "L", "↑↑": "HH", "↓↓": "LL"}  # what many Chinese LIS put in OBX-8
CODED = ("CE", "CWE", "CNE", "CF")
TEXT = ("ST", "TX", "FT", "ID", "IS", "DT", "TM", "TS", "DTM")


def bounded(segment, n, text, limit):
    """The text, or an AE when it does not fit the column it goes to."""
    if text and len(text) > limit:
        raise Hl7Error("AE", 102, f"{segment.id}-{n} 过长（最多{limit}个字符）", segment.at(n), "value_too_long")
    return text or None


def when(segment, n):
    """An HL7 TS/DTM field as an aware UTC instant (no zone given = Asia/Shanghai); None when empty."""
    text = segment.get(n)
    if not text:
        return None
    try:
        if not TS.fullmatch(text):
            raise ValueError(text)
        instant = hl7.parse_datetime(text)
        instant = instant if instant.tzinfo else instant.replace(tzinfo=LOCAL)
        instant.astimezone(LOCAL)  # every answer shows it in Asia/Shanghai: that must not overflow later
        return instant.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise Hl7Error("AE", 102, f"{segment.id}-{n} 不是有效的时间（YYYYMMDD[HHMM[SS]][±ZZZZ]）",
                       segment.at(n), "bad_timestamp") from None


def number(text):
    """A finite decimal number, or None when the text is not one."""
    if not re.fullmatch(NUMBER, text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def reference_range(text):
    """(low, high) from "3.5-9.5", "3.5~9.5", "<5", ">1.0"; (None, None) for text ranges like 阴性."""
    text = (text or "").strip()
    if match := RANGE.fullmatch(text):
        low, high = number(match[1]), number(match[2])
        return (low, high) if None not in (low, high) and low <= high else (None, None)
    if match := BOUND.fullmatch(text):
        bound = number(match[2])
        return (None, bound) if match[1] in UPPER_BOUNDS else (bound, None)
    return None, None


def flag(text):
    """OBX-8 as a flag rules.flag_of understands; an unknown flag is dropped, so the range decides."""
    text = text.strip().upper()
    if text in rules.INTERPRETATION:
        return text
    return ARROWS.get(text)


def status(segment, n, table, default=None):
    """A coded status field through its table; AE 103 for a code not in the table, AE 101 when required."""
    code = segment.get(n).upper()
    if not code:
        if default is None:
            raise Hl7Error("AE", 101, f"{segment.id}-{n} 结果状态缺失", segment.at(n), "missing_status")
        return default
    if code not in table:
        raise Hl7Error("AE", 103, f"{segment.id}-{n} 结果状态“{code}”无法识别", segment.at(n), "unknown_status")
    return table[code]


def value(obx):
    """OBX-5 read per OBX-2: (text as sent, number or None)."""
    reps = [i for i, rep in enumerate(obx.reps(5), 1) if obx.seps.unescape(rep).strip() not in ("", '""')]
    if not reps:
        return None, None
    kind = obx.get(2).upper()
    if kind == "NM":
        text = obx.get(5, rep=reps[0])
        if (num := number(text)) is None:
            raise Hl7Error("AE", 102, f"OBX-5 “{text[:20]}”不是数值（OBX-2 为 NM）", obx.at(5), "not_a_number")
        return bounded(obx, 5, text, 500), num
    if kind == "SN":
        text, num = _structured_number(obx, reps[0])
        return bounded(obx, 5, text, 500), num
    if kind in CODED:
        text = "; ".join(obx.get(5, 2, i) or obx.get(5, 1, i) for i in reps)
    elif kind in TEXT:
        text = "\n".join(obx.seps.unescape(obx.reps(5)[i - 1]).strip() for i in reps)
    elif not kind:
        raise Hl7Error("AE", 101, "OBX-2 值类型缺失", obx.at(2), "missing_value_type")
    else:
        raise Hl7Error("AE", 102, f"不支持的值类型 OBX-2 “{kind[:10]}”", obx.at(2), "unsupported_value_type")
    return bounded(obx, 5, text, 500), None


def _structured_number(obx, rep):
    """SN: comparator^num1^separator^num2, e.g. <^0.5 or ^1^:^40; a plain number when there is only num1."""
    comparator, first, separator, second = (obx.get(5, c, rep) for c in (1, 2, 3, 4))
    if any(part and number(part) is None for part in (first, second)):
        raise Hl7Error("AE", 102, "OBX-5 结构化数值（SN）格式无效", obx.at(5), "not_a_number")
    plain = comparator in ("", "=") and not separator and not second and first
    return comparator + first + separator + second, number(first) if plain else None
