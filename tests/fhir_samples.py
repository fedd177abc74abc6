"""Builders of FHIR R4 bundles for ingest tests: hand-built Chinese clinical content, and carebundle bundles."""
import base64
import json
import uuid

import carebundle

ID_SYSTEM = "urn:oid:2.16.156.10011.1.3"
MRN_SYSTEM = "http://his.h1.example/mrn"
MR_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}
LOINC = "http://loinc.org"
PATIENT_URL = "urn:uuid:00000000-0000-4000-8000-000000000001"
ISSUED = "2026-03-02T10:30:00+08:00"


def url(name):
    """A stable urn:uuid fullUrl for a name."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def bundle(*entries, kind="transaction"):
    """A Bundle of the given entries (nested lists of entries are flattened)."""
    return {"resourceType": "Bundle", "type": kind, "entry": list(_flat(entries))}


def _flat(items):
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _flat(item)
        else:
            yield item


def entry(resource, full_url=None):
    """A transaction entry for a resource."""
    full_url = full_url or url(json.dumps(resource, sort_keys=True, ensure_ascii=False))
    return {"fullUrl": full_url, "resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}


def patient(id_number=None, mrn=None, full_url=PATIENT_URL, name="张三"):
    """A Patient with the resident ID number and/or the hospital's MRN."""
    identifiers = []
    if id_number:
        identifiers.append({"system": ID_SYSTEM, "value": id_number})
    if mrn:
        identifiers.append({"type": MR_TYPE, "system": MRN_SYSTEM, "value": mrn})
    return entry({"resourceType": "Patient", "identifier": identifiers, "name": [{"text": name}],
                  "gender": "male"}, full_url)


def ref(full_url=PATIENT_URL):
    """A subject reference to a bundle entry."""
    return {"reference": full_url}


def quantity(value, unit):
    """A UCUM quantity."""
    return {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}


def lab_item(key, loinc, name, value, unit, low, high, subject=None, interpretation=None):
    """A lab result Observation with its reference range."""
    resource = {"resourceType": "Observation", "identifier": [{"system": "urn:lis:h1", "value": key}],
                "status": "final", "code": {"coding": [{"system": LOINC, "code": loinc}], "text": name},
                "subject": subject or ref(), "effectiveDateTime": "2026-03-02T08:00:00+08:00",
                "valueQuantity": quantity(value, unit),
                "referenceRange": [{"low": quantity(low, unit), "high": quantity(high, unit)}]}
    if interpretation:
        resource["interpretation"] = [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": interpretation}]}]
    return entry(resource, url(f"obs-{key}"))


CBC_ITEMS = (  # key suffix, LOINC, name, value, unit, low, high, interpretation
    ("WBC", "6690-2", "白细胞计数", 11.2, "10*9/L", 3.5, 9.5, None),
    ("RBC", "789-8", "红细胞计数", 3.9, "10*12/L", 4.3, 5.8, None),
    ("HGB", "718-7", "血红蛋白", 140, "g/L", 130, 175, None),
    ("PLT", "777-3", "血小板计数", 1200, "10*9/L", 125, 350, "HH"),
)


def cbc(report_no="LIS-1001", subject=None, status="final", wbc=11.2, security=None):
    """血常规: a DiagnosticReport and its four result Observations."""
    items = [lab_item(f"{report_no}-{key}", loinc, name, wbc if key == "WBC" else value, unit, low, high, subject,
                      flag) for key, loinc, name, value, unit, low, high, flag in CBC_ITEMS]
    report = {"resourceType": "DiagnosticReport", "identifier": [{"system": "urn:lis:h1", "value": report_no}],
              "status": status, "category": [{"coding": [{
                  "system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
              "code": {"coding": [{"system": LOINC, "code": "58410-2"}], "text": "血常规"},
              "subject": subject or ref(), "effectiveDateTime": "2026-03-02T08:00:00+08:00", "issued": ISSUED,
              "performer": [{"display": "检验科 李四"}], "conclusion": "白细胞偏高，请结合临床",
              "result": [{"reference": item["fullUrl"]} for item in items]}
    if security:
        report["meta"] = {"security": security}
    return [entry(report, url(f"report-{report_no}")), *items]


FINDINGS = "检查所见：双肺纹理清晰，右肺上叶见一约5mm磨玻璃结节，纵隔未见肿大淋巴结。"
IMPRESSION = "诊断意见：右肺上叶磨玻璃结节，建议12个月后复查。"


def text_attachment(text, content_type="text/plain; charset=utf-8", title=None):
    """An inline attachment, base64 encoded."""
    attachment = {"contentType": content_type, "data": base64.b64encode(text.encode()).decode()}
    if title:
        attachment["title"] = title
    return attachment


def chest_ct(accession="PACS-2001", subject=None):
    """胸部CT: an imaging DiagnosticReport with findings (presented form) and impression (conclusion)."""
    return entry({"resourceType": "DiagnosticReport", "identifier": [{"system": "urn:pacs:h1", "value": accession}],
                  "status": "final", "category": [{"coding": [{
                      "system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}],
                  "code": {"coding": [{"system": LOINC, "code": "24627-2"}], "text": "胸部CT平扫"},
                  "subject": subject or ref(), "issued": ISSUED, "conclusion": IMPRESSION,
                  "presentedForm": [text_attachment(FINDINGS)]}, url(f"ct-{accession}"))


DISCHARGE_TEXT = "出院小结\n入院诊断：2型糖尿病\n出院医嘱：低糖饮食，二甲双胍 0.5g 每日三次，两周后内分泌科复诊。"


def discharge_summary(doc_no="EMR-3001", subject=None, content_type="text/plain", text=DISCHARGE_TEXT):
    """出院小结 as a DocumentReference (LOINC 18842-5) with base64 text."""
    return entry({"resourceType": "DocumentReference", "masterIdentifier": {"system": "urn:emr:h1", "value": doc_no},
                  "status": "current", "docStatus": "final",
                  "type": {"coding": [{"system": LOINC, "code": "18842-5"}], "text": "出院小结"},
                  "subject": subject or ref(), "date": ISSUED, "author": [{"display": "王医生"}],
                  "content": [{"attachment": text_attachment(text, content_type)}]}, url(f"doc-{doc_no}"))


def penicillin_allergy(subject=None):
    """青霉素过敏."""
    return entry({"resourceType": "AllergyIntolerance", "identifier": [{"system": "urn:emr:h1", "value": "ALG-1"}],
                  "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                 "allergyintolerance-clinical", "code": "active"}]},
                  "type": "allergy", "category": ["medication"], "criticality": "high",
                  "code": {"coding": [{"system": "http://snomed.info/sct", "code": "764146007"}], "text": "青霉素"},
                  "patient": subject or ref(), "recordedDate": "2026-03-01",
                  "reaction": [{"manifestation": [{"text": "皮疹"}], "severity": "moderate"}]}, url("allergy-1"))


def hepatitis_b_vaccine(subject=None):
    """乙肝疫苗, first dose."""
    return entry({"resourceType": "Immunization", "identifier": [{"system": "urn:vacc:h1", "value": "IMM-1"}],
                  "status": "completed",
                  "vaccineCode": {"coding": [{"system": "urn:oid:2.16.156.10011.2.3.3.11", "code": "0201"}],
                                  "text": "乙肝疫苗"},
                  "patient": subject or ref(), "occurrenceDateTime": "2026-02-15T09:00:00+08:00",
                  "lotNumber": "B20260101", "protocolApplied": [{"doseNumberPositiveInt": 1}]}, url("imm-1"))


def diabetes(subject=None):
    """2型糖尿病 (ICD-10 E11.900)."""
    return entry({"resourceType": "Condition", "identifier": [{"system": "urn:emr:h1", "value": "DX-1"}],
                  "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                 "code": "active"}]},
                  "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.900"}],
                           "text": "2型糖尿病"},
                  "subject": subject or ref(), "onsetDateTime": "2020-05-01"}, url("dx-1"))


def outpatient_visit(subject=None):
    """A 内分泌科 outpatient visit."""
    return entry({"resourceType": "Encounter", "identifier": [{"system": "urn:his:h1", "value": "MZ-1"}],
                  "status": "finished", "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                                  "code": "AMB"},
                  "serviceType": {"text": "内分泌科"}, "reasonCode": [{"text": "血糖控制复诊"}],
                  "subject": subject or ref(),
                  "period": {"start": "2026-03-02T08:30:00+08:00", "end": "2026-03-02T09:00:00+08:00"}},
                 url("enc-1"))


def care_bundle(seed, profile, id_number, mrn=None):
    """A carebundle transaction bundle whose Patient carries the resident ID number (and an MRN)."""
    data = json.loads(carebundle.to_json(carebundle.generate_bundle(seed=seed, profile=profile)))
    for item in data["entry"]:
        if item["resource"]["resourceType"] == "Patient":
            item["resource"]["identifier"].append({"system": ID_SYSTEM, "value": id_number})
            if mrn:
                item["resource"]["identifier"].append({"type": MR_TYPE, "system": MRN_SYSTEM, "value": mrn})
    return data
