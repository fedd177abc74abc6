"""HL7 v2 ORU^R01 ingest: Chinese lab messages in, ACKs out, exact stored rows, idempotence, corrections, refusals."""
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import hl7
import pytest
import sqlalchemy as sa

from patient_api.common import crypto
from patient_api.common.audit import AuditEntry
from patient_api.common.outbox import OutboxMessage
from patient_api.extensions import db
from patient_api.integration import hl7_fields
from patient_api.results.models import MrnLink, Observation, Report, ReportVersion

from .conftest import is_postgres
from .factories import hospital_key, resident_id

URL = "/api/v1/integration/hl7v2"
HL7 = {"Content-Type": "application/hl7-v2"}
ID_NUMBER, OTHER_ID = resident_id(7301), resident_id(7302)
MRN = "MZ0012345"
OID = "&2.16.156.10011.1.3&ISO"


def utc(*parts):
    return datetime(*parts, tzinfo=timezone.utc)


def seg(name, **fields):
    """A segment from numbered fields (f3="..." is field 3); unnamed fields are empty."""
    values = {int(key[1:]): value for key, value in fields.items()}
    return "|".join([name] + [values.get(n, "") for n in range(1, max(values, default=0) + 1)])


def msh(control="LIS202503120001", kind="ORU^R01^ORU_R01", version="2.5.1", charset="UNICODE UTF-8",
        at="20250312103000"):
    """MSH-3 LIS, MSH-4 the hospital, MSH-7 time, MSH-9 type, MSH-10 control id, MSH-12 version, MSH-18 charset."""
    return "|".join(["MSH", "^~\\&", "LIS", "泰安市中心医院", "PATIENT_API", "TAJK", at, "", kind, control, "P",
                     version, "", "", "AL", "NE", "CHN", charset])


def pid(*ids):
    return seg("PID", f1="1", f3="~".join(ids), f5="张秀英", f7="19860101", f8="F")


def by_id_number(number=ID_NUMBER):
    return f"{number}^^^{OID}^NNCHN"


def by_mrn(mrn=MRN):
    return f"{mrn}^^^TAZXYY^MR"


def obr(n, filler, service, status="F", observed="20250312080000", reported="20250312103000", section="HM"):
    return seg("OBR", f1=str(n), f2=f"ORD{filler}", f3=filler, f4=service, f7=observed, f22=reported,
               f24=section, f25=status)


def obx(n, kind, code, value, unit="", ref="", flag="", status="F", sub="", at="20250312093000"):
    return seg("OBX", f1=str(n), f2=kind, f3=code, f4=sub, f5=value, f6=unit, f7=ref, f8=flag, f11=status, f14=at)


CBC = [obr(1, "LAB20250312001", "CBC^血常规^L"),
       obx(1, "NM", "WBC^白细胞计数^L^6690-2^Leukocytes^LN", "11.2", "10*9/L", "3.5-9.5", "H"),
       obx(2, "NM", "HGB^血红蛋白^L", "135", "g/L", "115-150", "N"),
       obx(3, "NM", "PLT^血小板计数^L", "210", "10\\S\\9/L", "125-350")]
LIVER = [seg("ORC", f1="RE", f2="ORDLAB20250312002", f3="LAB20250312002"),
         obr(2, "LAB20250312002", "LFT^肝功能^L", section="CH"),
         seg("NTE", f1="1", f3="转氨酶轻度升高，建议复查"),
         obx(1, "NM", "ALT^丙氨酸氨基转移酶^L", "62", "U/L", "7-40"),
         obx(2, "NM", "TBIL^总胆红素^L", "12.5", "μmol/L", "<21")]


def message(*segments, control="LIS202503120001", sep="\r", **header):
    return sep.join([msh(control, **header), *segments]) + sep


def first_message(**header):
    """血常规 and 肝功能 for a patient named by ID number and MRN, with the visit number."""
    return message(pid(by_id_number(), by_mrn()), seg("PV1", f1="1", f2="O", f19="MZ20250312008"), *CBC, *LIVER,
                   **header)


def post(client, key, text, encoding="utf-8", headers=HL7):
    return client.post(URL, data=text.encode(encoding) if isinstance(text, str) else text, headers={**key, **headers})


def ack(response, encoding="utf-8"):
    """The ACK parsed by python-hl7: {segment id: [field values]}."""
    assert response.mimetype == "application/hl7-v2"
    parsed = hl7.parse(response.data.decode(encoding))
    return {str(segment[0]): [str(field) for field in segment] for segment in parsed}


def counts(app):
    """(reports, observations, report_versions, mrn_links) row counts."""
    with app.app_context():
        return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(model))
                     for model in (Report, Observation, ReportVersion, MrnLink))


def report_rows(app, source_id):
    """A stored report and its items as plain dicts."""
    with app.app_context():
        report = db.session.scalars(sa.select(Report).filter_by(source_id=source_id)).one()
        items = [{name: getattr(item, name) for name in (
            "source_id", "code", "code_system", "name", "value", "value_num", "unit", "ref_low", "ref_high",
            "reference_range", "flag", "critical", "status", "observed_at")} for item in report.items]
        return {name: getattr(report, name) for name in (
            "person_index", "source_format", "kind", "title", "code", "category", "status", "encounter_source_id",
            "effective_at", "issued_at", "impression", "version")}, items


def person(app, number=ID_NUMBER):
    with app.app_context():
        return crypto.blind_index(number)


def test_cbc_and_liver_function_are_stored_exactly(app, client, make):
    """Two OBR groups → two reports; the ACK is AA for MSH-10; the MRN is learnt; the resident is told."""
    account = make.login()
    make.verify(account, make.patient(account, id_number=ID_NUMBER))  # only verified accounts hear of results
    response = post(client, hospital_key(app), first_message())
    assert response.status_code == 200
    answer = ack(response)
    assert answer["MSA"][1:3] == ["AA", "LIS202503120001"] and "ERR" not in answer
    assert answer["MSH"][9] == "ACK^R01^ACK" and answer["MSH"][3:7] == ["PATIENT_API", "TAJK", "LIS", "泰安市中心医院"]
    assert answer["MSH"][10] != "LIS202503120001" and answer["MSH"][12] == "2.5.1"
    assert counts(app) == (2, 5, 0, 1)

    report, items = report_rows(app, "LAB20250312001")
    assert report == {"person_index": person(app), "source_format": "hl7v2", "kind": "lab", "title": "血常规",
                      "code": "CBC", "category": "HM", "status": "final", "encounter_source_id": "MZ20250312008",
                      "effective_at": utc(2025, 3, 12, 0, 0), "issued_at": utc(2025, 3, 12, 2, 30),
                      "impression": None, "version": 1}
    observed = utc(2025, 3, 12, 1, 30)
    assert items == [
        {"source_id": "LAB20250312001|WBC|", "code": "6690-2", "code_system": "http://loinc.org", "name": "白细胞计数",
         "value": "11.2", "value_num": 11.2, "unit": "10*9/L", "ref_low": 3.5, "ref_high": 9.5,
         "reference_range": "3.5-9.5", "flag": "H", "critical": False, "status": "final", "observed_at": observed},
        {"source_id": "LAB20250312001|HGB|", "code": "HGB", "code_system": "L", "name": "血红蛋白", "value": "135",
         "value_num": 135.0, "unit": "g/L", "ref_low": 115.0, "ref_high": 150.0, "reference_range": "115-150",
         "flag": "N", "critical": False, "status": "final", "observed_at": observed},
        {"source_id": "LAB20250312001|PLT|", "code": "PLT", "code_system": "L", "name": "血小板计数", "value": "210",
         "value_num": 210.0, "unit": "10^9/L", "ref_low": 125.0, "ref_high": 350.0, "reference_range": "125-350",
         "flag": "N", "critical": False, "status": "final", "observed_at": observed}]

    report, items = report_rows(app, "LAB20250312002")
    assert (report["title"], report["code"], report["category"], report["impression"]) == (
        "肝功能", "LFT", "CH", "转氨酶轻度升高，建议复查")
    assert [(i["code"], i["value_num"], i["unit"], i["ref_low"], i["ref_high"], i["flag"]) for i in items] == [
        ("ALT", 62.0, "U/L", 7.0, 40.0, "H"), ("TBIL", 12.5, "μmol/L", None, 21.0, "N")]
    with app.app_context():
        link = db.session.scalars(sa.select(MrnLink)).one()
        assert (link.mrn, link.person_index) == (MRN, person(app))
        events = db.session.scalars(sa.select(OutboxMessage.event).where(OutboxMessage.channel != "sms")).all()
        assert events == ["report.ready", "report.ready"]
        entry = db.session.scalars(sa.select(AuditEntry).filter_by(action="hl7v2.ingest")).one()
        assert (entry.actor_type, entry.resource) == ("hospital", "hl7v2:LIS202503120001")
        assert json.loads(entry.detail) == {"ack": "AA", "sender": "LIS", "created": 2, "updated": 0, "skipped": 0,
                                            "reports": 2, "results": 5}


def later_by_mrn(control="LIS202503150007"):
    """Three days later, the PID names the patient by MRN only: electrolytes and hepatitis serology."""
    return message(pid(by_mrn()),
                   obr(1, "LAB20250315011", "ELEC^电解质^L", status="", observed="20250315074500+0800",
                       reported="20250315091000+0800", section="CH"),
                   # An unescaped ~ in the range, as many LIS send it: read as "3.5~5.3".
                   obx(1, "NM", "K^钾^L", "6.8", "mmol/L", "3.5~5.3", "HH", at="20250315083000+0800"),
                   obx(2, "NM", "NA^钠^L", "128", "mmol/L", "137-147", "↓", at="20250315083000+0800"),
                   obr(2, "LAB20250315012", "HEP^乙肝两对半^L", observed="20250315074500", reported=""),
                   obx(1, "ST", "HBSAG^乙肝表面抗原^L", "阴性", ref="阴性"),
                   obx(2, "CWE", "HBSAB^乙肝表面抗体^L", "POS^阳性^L", ref="阴性", flag="A"),
                   obx(3, "TX", "NOTE^备注^L", "ABO\\F\\Rh 见\\E\\附页\\.br\\已复核"),
                   obx(4, "SN", "HBVDNA^乙肝病毒DNA^L", "<^500", "IU/mL", "<500"),
                   obx(5, "SN", "HBSAB^乙肝表面抗体^L", "^12.5", "mIU/mL", "0-10", sub="2"),
                   control=control, at="20250315091500")


def test_later_message_by_mrn_only_with_critical_and_text_results(app, client):
    key = hospital_key(app)
    assert ack(post(client, key, first_message()))["MSA"][1] == "AA"
    response = post(client, key, later_by_mrn())
    assert ack(response)["MSA"][1:3] == ["AA", "LIS202503150007"]
    assert counts(app) == (4, 12, 0, 1)
    report, items = report_rows(app, "LAB20250315011")
    assert (report["person_index"], report["status"], report["effective_at"], report["issued_at"]) == (
        person(app), "final", utc(2025, 3, 14, 23, 45), utc(2025, 3, 15, 1, 10))  # OBR-25 empty: as its OBX-11
    assert [(i["value"], i["value_num"], i["ref_low"], i["ref_high"], i["reference_range"], i["flag"], i["critical"])
            for i in items] == [("6.8", 6.8, 3.5, 5.3, "3.5~5.3", "HH", True),
                                ("128", 128.0, 137.0, 147.0, "137-147", "L", False)]
    report, items = report_rows(app, "LAB20250315012")
    assert report["issued_at"] == report["effective_at"] == utc(2025, 3, 14, 23, 45)  # no OBR-22: OBR-7
    assert [(i["value"], i["value_num"], i["reference_range"], i["ref_low"], i["flag"]) for i in items] == [
        ("阴性", None, "阴性", None, None), ("阳性", None, "阴性", None, "A"),
        ("ABO|Rh 见\\附页\n已复核", None, None, None, None), ("<500", None, "<500", None, None),
        ("12.5", 12.5, "0-10", 0.0, "H")]
    assert [item["source_id"] for item in items][-2:] == ["LAB20250315012|HBVDNA|", "LAB20250315012|HBSAB|2"]


@pytest.mark.parametrize("label, encoding, version, sep", [
    ("GBK", "gbk", "2.4", "\n"), ("GB 18030-2000", "gb18030", "2.3.1", "\r\n"),
    ("UNICODE UTF-8", "utf-8", "2.5", "\n")])
def test_charset_from_msh18_and_any_line_ending(app, client, label, encoding, version, sep):
    """A GBK/GB 18030 LIS is read in its charset and answered in it; \\n and \\r\\n end segments too."""
    response = post(client, hospital_key(app), first_message(charset=label, version=version).replace("\r", sep),
                    encoding=encoding, headers={"Content-Type": "text/plain"})
    assert response.headers["Content-Type"] == f"application/hl7-v2; charset={encoding}"
    answer = ack(response, encoding)
    assert answer["MSA"][1:3] == ["AA", "LIS202503120001"] and answer["MSH"][6] == "泰安市中心医院"
    assert answer["MSH"][12] == version and answer["MSH"][18] == label
    assert report_rows(app, "LAB20250312002")[0]["impression"] == "转氨酶轻度升高，建议复查"
    assert report_rows(app, "LAB20250312001")[1][0]["name"] == "白细胞计数"


def test_mllp_framed_body_and_utf8_default(app, client):
    body = b"\x0b" + first_message(charset="").encode() + b"\x1c\r"
    assert ack(post(client, hospital_key(app), body))["MSA"][1] == "AA"
    assert counts(app) == (2, 5, 0, 1)


def test_resending_the_same_message_stores_nothing_new(app, client):
    key = hospital_key(app)
    post(client, key, first_message())
    before = counts(app)
    answer = ack(post(client, key, first_message()))
    assert answer["MSA"][1:4] == ["AA", "LIS202503120001", "created=0 updated=0 skipped=2"]
    assert counts(app) == before == (2, 5, 0, 1)


def test_corrected_result_updates_the_report_and_keeps_history(app, client):
    key = hospital_key(app)
    post(client, key, first_message())
    corrected = message(pid(by_mrn()), obr(1, "LAB20250312001", "CBC^血常规^L", status="C", reported="20250312150000"),
                        obx(1, "NM", "WBC^白细胞计数^L^6690-2^Leukocytes^LN", "8.6", "10*9/L", "3.5-9.5", status="C"),
                        CBC[3], control="LIS202503120042")
    assert ack(post(client, key, corrected))["MSA"][1:4] == ["AA", "LIS202503120042", "created=0 updated=1 skipped=0"]
    assert counts(app) == (2, 4, 1, 1)  # HGB was left out of the correction: the report is as last sent
    report, items = report_rows(app, "LAB20250312001")
    assert (report["status"], report["version"], report["issued_at"]) == ("corrected", 2, utc(2025, 3, 12, 7, 0))
    assert [(i["code"], i["value"], i["flag"], i["status"]) for i in items] == [
        ("6690-2", "8.6", "N", "corrected"), ("PLT", "210", "N", "final")]
    with app.app_context():
        old = db.session.scalars(sa.select(ReportVersion)).one()
        snapshot = json.loads(old.snapshot)
        assert (old.version, old.status) == (1, "final")
        assert [(item["code"], item["value"]) for item in snapshot["items"]] == [
            ("6690-2", "11.2"), ("HGB", "135"), ("PLT", "210")]
    assert ack(post(client, key, corrected))["MSA"][3] == "created=0 updated=0 skipped=1"


def bad_nm():
    return message(pid(by_id_number()), CBC[0], CBC[1], obx(2, "NM", "HGB^血红蛋白^L", "偏高", "g/L"))


REFUSED = [  # (body, MSA-1, MSA-2, ERR-2, ERR-3)
    ("garbage", b"hello, this is not HL7", "AR", "", "", "100"),
    ("json", b'{"resourceType": "Bundle"}', "AR", "", "", "100"),
    ("adt", message(pid(by_id_number()), kind="ADT^A01^ADT_A01"), "AR", "LIS202503120001", "MSH^1^9", "200"),
    ("oru_r30", message(*CBC, kind="ORU^R30"), "AR", "LIS202503120001", "MSH^1^9", "201"),
    ("no_control_id", message(pid(by_id_number()), *CBC, control=""), "AR", "", "MSH^1^10", "101"),
    ("version_2_7", message(pid(by_id_number()), *CBC, version="2.7"), "AR", "LIS202503120001", "MSH^1^12", "203"),
    ("obx_before_obr", message(pid(by_id_number()), CBC[1], *CBC), "AR", "LIS202503120001", "OBX^1", "100"),
    ("no_obr", message(pid(by_id_number())), "AR", "LIS202503120001", "PID^1", "100"),
    ("two_messages", message(pid(by_id_number()), *CBC) + msh(), "AR", "LIS202503120001", "MSH^2", "100"),
    ("bad_checksum", message(pid(by_id_number(ID_NUMBER[:-1] + ("0" if ID_NUMBER[-1] != "0" else "1"))), *CBC),
     "AE", "LIS202503120001", "PID^1^3", "102"),
    ("unknown_mrn", message(pid(by_mrn("MZ404")), *CBC), "AE", "LIS202503120001", "PID^1^3", "204"),
    ("no_patient_id", message(pid("V123^^^^VN"), *CBC), "AE", "LIS202503120001", "PID^1^3", "101"),
    ("nm_not_a_number", bad_nm(), "AE", "LIS202503120001", "OBX^2^5", "102"),
    ("bad_timestamp", message(pid(by_id_number()), obr(1, "L1", "CBC^血常规", observed="20251345"), *CBC[1:]),
     "AE", "LIS202503120001", "OBR^1^7", "102"),
    ("unknown_status", message(pid(by_id_number()), obr(1, "L1", "CBC^血常规", status="Z"), *CBC[1:]),
     "AE", "LIS202503120001", "OBR^1^25", "103"),
    ("unit_too_long", message(pid(by_id_number()), CBC[0], obx(1, "NM", "WBC", "1", "x" * 41)), "AE",
     "LIS202503120001", "OBX^1^6", "102"),
    ("no_code", message(pid(by_id_number()), CBC[0], obx(1, "NM", "", "1")), "AE", "LIS202503120001", "OBX^1^3",
     "101"),
    ("same_report_twice", message(pid(by_id_number()), *CBC, *CBC), "AE", "LIS202503120001", "OBR^2^3", "205"),
    ("unknown_charset", message(pid(by_id_number()), *CBC, charset="EBCDIC"), "AR", "LIS202503120001", "MSH^1^18",
     "103"),
    ("gbk_declared_utf8", message(pid(by_id_number()), *CBC).encode("gbk"), "AR", "LIS202503120001", "MSH^1^18",
     "102"),
]


@pytest.mark.parametrize("body, code, control, where, condition", [case[1:] for case in REFUSED],
                         ids=[case[0] for case in REFUSED])
def test_bad_message_is_refused_and_stores_nothing(app, client, body, code, control, where, condition):
    """AR/AE with the reason in MSA-3 and ERR; HTTP 200 since the sender reads MSA; only the audit row stays."""
    response = post(client, hospital_key(app), body)
    assert response.status_code == 200
    answer = ack(response)
    assert answer["MSA"][1:3] == [code, control] and answer["MSA"][3]
    assert answer["ERR"][2:5] == [where, f"{condition}^{hl7_ack_name(condition)}^HL70357", "E"]
    assert answer["ERR"][8] == answer["MSA"][3]
    assert counts(app) == (0, 0, 0, 0)
    with app.app_context():
        entry = db.session.scalars(sa.select(AuditEntry).filter_by(action="hl7v2.ingest")).one()
        assert json.loads(entry.detail)["ack"] == code and json.loads(entry.detail)["error"] == int(condition)


def hl7_ack_name(code):
    from patient_api.integration.hl7_ack import CONDITIONS
    return CONDITIONS[int(code)]


def test_a_bad_second_patient_undoes_the_first(app, client):
    """The first PID's MRN link and reports were written before the second PID's MRN proved unknown."""
    response = post(client, hospital_key(app), message(pid(by_id_number(), by_mrn()), *CBC,
                                                       pid(by_mrn("MZ404")), *LIVER))
    answer = ack(response)
    assert answer["MSA"][1] == "AE" and answer["ERR"][2:4] == ["PID^2^3", "204^Unknown key identifier^HL70357"]
    assert counts(app) == (0, 0, 0, 0)


def test_mrn_of_another_resident_is_refused(app, client):
    key = hospital_key(app)
    post(client, key, first_message())
    answer = ack(post(client, key, message(pid(by_id_number(OTHER_ID), by_mrn()), *LIVER, control="X2")))
    assert answer["MSA"][1] == "AE" and answer["ERR"][3].startswith("205^")
    assert counts(app) == (2, 5, 0, 1)


def test_v24_errors_use_err1(app, client):
    """Before v2.5 ERR has only ERR-1: segment^sequence^field^code&text&table."""
    answer = ack(post(client, hospital_key(app), message(pid(by_mrn("MZ404")), *CBC, version="2.4")))
    assert answer["MSA"][1] == "AE" and answer["ERR"][1] == "PID^1^3^204&Unknown key identifier&HL70357"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer hk_wrong"}])
def test_without_a_valid_key_is_401_with_an_ack(app, client, headers):
    response = client.post(URL, data=first_message().encode(), headers={**HL7, **headers})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    answer = ack(response)
    assert answer["MSA"][1:3] == ["AR", "LIS202503120001"] and answer["ERR"][5] == "invalid_hospital_key"
    assert counts(app) == (0, 0, 0, 0)


@pytest.mark.parametrize("text, expected", [
    ("3.5-9.5", (3.5, 9.5)), ("3.5～9.5", (3.5, 9.5)), ("-3-3", (-3.0, 3.0)), ("<5", (None, 5.0)),
    ("≤0.5", (None, 0.5)), (">1.0", (1.0, None)), ("阴性", (None, None)), ("", (None, None)),
    ("9.5-3.5", (None, None))])
def test_reference_ranges(text, expected):
    assert hl7_fields.reference_range(text) == expected


@pytest.mark.parametrize("text, expected", [("11.2", 11.2), ("-0.5", -0.5), (".5", 0.5), ("1e3", None),
                                            ("1_000", None), ("9" * 400, None), ("偏高", None)])
def test_numbers(text, expected):
    assert hl7_fields.number(text) == expected


def test_empty_body_is_400_and_too_large_is_refused(app, client):
    key = hospital_key(app)
    empty = post(client, key, b"  \r\n")
    assert empty.status_code == 400 and ack(empty)["ERR"][5] == "empty_body"
    large = post(client, key, first_message() + "NTE|1||" + "很" * (2 * 1024 * 1024))
    assert large.status_code == 200 and ack(large)["ERR"][3:6] == ["102^Data type error^HL70357", "E", "too_large"]
    assert counts(app) == (0, 0, 0, 0)


def test_charset_from_content_type_when_msh18_is_empty(app, client):
    response = post(client, hospital_key(app), first_message(charset=""), encoding="gbk",
                    headers={"Content-Type": "text/plain; charset=GBK"})
    assert ack(response, "gbk")["MSA"][1] == "AA"
    assert report_rows(app, "LAB20250312001")[0]["title"] == "血常规"


def test_unexpected_failure_is_ae_207_and_stores_nothing(app, client, monkeypatch):
    """A sender always gets an ACK: AE with 207 tells it to send the message again later."""
    from patient_api.integration import hl7v2

    def broken(*_args):
        raise RuntimeError("database went away")
    monkeypatch.setattr(hl7v2, "save_report", broken)
    response = post(client, hospital_key(app), first_message())
    assert response.status_code == 200
    answer = ack(response)
    assert answer["MSA"][1:3] == ["AE", "LIS202503120001"] and answer["ERR"][3].startswith("207^")
    assert counts(app) == (0, 0, 0, 0)


def test_parallel_redeliveries_store_the_message_once(app):
    """An interface engine retrying while the first delivery is still running: all AA, stored once."""
    key, body = hospital_key(app), first_message().encode()

    def deliver(_):
        response = app.test_client().post(URL, data=body, headers={**key, **HL7})
        return response.status_code, ack(response)["MSA"][1]
    with ThreadPoolExecutor(max_workers=8 if is_postgres(app) else 4) as pool:
        answers = list(pool.map(deliver, range(8)))
    assert answers == [(200, "AA")] * 8
    assert counts(app) == (2, 5, 0, 1)
    with app.app_context():
        details = [json.loads(entry.detail) for entry in db.session.scalars(sa.select(AuditEntry))]
        assert sum(detail["created"] for detail in details) == 2 and len(details) == 8
