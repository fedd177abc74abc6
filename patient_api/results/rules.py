"""Result rules: H/L flags from a reference range, release of sensitive reports, 互认 (mutual recognition)."""
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from ..common.clock import now
from .models import HIDDEN

# Flags a sender may give (HL7 table 0078 / FHIR v3 ObservationInterpretation), mapped to ours.
INTERPRETATION = {"N": "N", "H": "H", "L": "L", "HH": "HH", "LL": "LL", "A": "A", "AA": "A", "HU": "HH",
                  "LU": "LL", ">": "HH", "<": "LL", "POS": "A", "DET": "A", "NEG": "N", "ND": "N"}
CRITICAL = ("HH", "LL")
# Sensitivity labels a sender may put on a result (v3 ActCode / ActInformationSensitivityPolicy, also in HL7 v2
# ARV-3): HIV, mental health, genetics, sexually transmitted disease; R and V are v3 Confidentiality levels.
SENSITIVE_LABELS = {"HIV", "PSY", "PSYTHPN", "MH", "BH", "GDIS", "GENETIC", "STD", "SDV", "ETH", "R", "V"}
FINAL = ("final", "amended", "corrected", "appended")


def flag_of(given, value_num, low, high):
    """The sender's interpretation when we know its code, else computed from the range; None when unknowable."""
    if given and given.upper() in INTERPRETATION:
        return INTERPRETATION[given.upper()]
    if value_num is None or (low is None and high is None):
        return None
    if low is not None and value_num < low:
        return "L"
    if high is not None and value_num > high:
        return "H"
    return "N"


def hold_days():
    """Days a sensitive report waits for a clinician's release before it shows by itself."""
    return current_app.config["RESULT_SENSITIVE_HOLD_DAYS"]


def sensitive_code(code):
    """A test whose result is held whatever the sender says (HIV and the like, RESULT_SENSITIVE_CODES)."""
    return code in current_app.config["RESULT_SENSITIVE_CODES"]


def sensitive_report(report_in):
    """Held when the sender flags it, or its own code or any of its results' codes is on the sensitive list."""
    return report_in.sensitive or sensitive_code(report_in.code) or any(
        item.sensitive or sensitive_code(item.code) for item in report_in.items)


def visible(report, instant=None):
    """A resident sees a report unless it is withdrawn, or sensitive and neither released nor past its hold.
    The hold counts from when we received it: a report issued days before it was sent is still held in full."""
    if report.status in HIDDEN:
        return False
    if not report.sensitive or report.released_at is not None:
        return True
    return (instant or now()) >= report.created_at + timedelta(days=hold_days())


def observation_visible_clause(model, instant=None):
    """SQL: a stand-alone observation shows unless it is sensitive and still within its hold from receipt."""
    cutoff = (instant or now()) - timedelta(days=hold_days())
    return sa.or_(model.sensitive.is_(False), model.received_at <= cutoff)


def recognised(report_in, hospital_rank, codes=None):
    """互认: a final lab or imaging report from a 二级 or higher hospital whose every item is on the city's list."""
    if report_in.status not in FINAL or report_in.kind not in ("lab", "imaging") or hospital_rank < 2:
        return False
    if report_in.recognised is not None:
        return report_in.recognised
    codes = set(current_app.config["RESULT_RECOGNISED_CODES"] if codes is None else codes)
    checked = [report_in.code] if report_in.kind == "imaging" else [item.code for item in report_in.items]
    return bool(checked) and all(code in codes for code in checked)


def range_text(reference_range, low, high):
    """The sender's range text, else one built from the numeric bounds (3.5-5.5, >3.5, <5.5); None if neither."""
    if reference_range or (low is None and high is None):
        return reference_range
    if low is not None and high is not None:
        return f"{low:g}-{high:g}"
    return f">{low:g}" if low is not None else f"<{high:g}"
