"""健康档案, 体征 upload, 谁看过我的档案 and the trend of one test in Chromium, on `demo clinical` data plus results
pushed in the test by two more hospitals through the integration API (FHIR); both modes, axe, screenshots."""
import copy
import re
from datetime import datetime, timedelta, timezone

import pytest
import requests
from playwright.sync_api import expect

from .. import fhir_samples as fhir
from .helpers import check_axe, check_elder_sizes, no_horizontal_scroll, screenshot, settle, sign_in
from .test_h5_results import verified_resident

PEOPLE = {"normal": (8401, "13900139401"), "elder": (8403, "13900139403")}
CHINA = timezone(timedelta(hours=8))


def look(page, name, elder):
    check_axe(page, name)
    no_horizontal_scroll(page)
    if elder:
        check_elder_sizes(page)
    screenshot(page, f"{name}-elder" if elder else name)


def hospital_key(live, code):
    """A fresh integration key for the hospital, issued as an operator would, against the live service."""
    return live.flask("hospital", "issue-key", code).strip().splitlines()[-1]


def push(live, code, bundle):
    """POST a FHIR bundle as that hospital's system."""
    answer = requests.post(live.url + "/api/v1/integration/fhir", json=bundle, timeout=30,
                           headers={"Authorization": f"Bearer {hospital_key(live, code)}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _own(entry, value):
    """A sample resource with an identifier of this test's own (source ids are unique per hospital)."""
    entry = copy.deepcopy(entry)
    entry["resource"]["identifier"][0]["value"] = value
    return entry


def glucose_bundle(n, number, name, tag, value, days_ago, extra=()):
    """A 空腹血糖 lab report (LOINC 2345-7) with one result, taken days_ago, for person n."""
    when = (datetime.now(CHINA) - timedelta(days=days_ago)).replace(microsecond=0).isoformat()
    subject_url = fhir.url(f"patient-{tag}-{n}")
    subject = fhir.ref(subject_url)
    result = fhir.lab_item(f"GLU-{tag}-{n}", "2345-7", "葡萄糖", value, "mmol/L", 3.9, 6.1, subject)
    result["resource"]["effectiveDateTime"] = when
    report = fhir.entry({
        "resourceType": "DiagnosticReport", "identifier": [{"system": "urn:lis:demo", "value": f"GLU-R-{tag}-{n}"}],
        "status": "final", "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                                                     "code": "LAB"}]}],
        "code": {"coding": [{"system": fhir.LOINC, "code": "2345-7"}], "text": "空腹血糖"},
        "subject": subject, "effectiveDateTime": when, "issued": when,
        "result": [{"reference": result["fullUrl"]}]}, fhir.url(f"glu-report-{tag}-{n}"))
    extras = [_own(make(subject), f"{make.__name__}-{tag}-{n}") for make in extra]
    return fhir.bundle(fhir.patient(id_number=number, name=name, full_url=subject_url), report, result, *extras)


def seeded(live, mode):
    """A verified resident with demo results plus glucose from two more hospitals and record entries."""
    n, phone = PEOPLE[mode]
    patient_id, name, number = verified_resident(live, f"record-{mode}", n, phone)
    push(live, "TAZYY", glucose_bundle(n, number, name, "TAZYY", 6.8, 60, extra=(
        fhir.diabetes, fhir.penicillin_allergy, fhir.hepatitis_b_vaccine, fhir.outpatient_visit)))
    push(live, "DYWSY", glucose_bundle(n, number, name, "DYWSY", 5.6, 120))
    return patient_id


@pytest.mark.parametrize("mode", ["normal", "elder"])
def test_record_vitals_trend_and_access_log(live, page, mode):
    elder = mode == "elder"
    patient_id = seeded(live, mode)
    sign_in(page, f"record-{mode}")
    if elder:
        page.get_by_role("switch", name=re.compile("长辈版")).click()

    # The flagged glucose of the demo blood test, then its trend across the three hospitals.
    page.goto("/h5/reports")
    settle(page)
    page.get_by_role("link", name=re.compile("血常规")).click()
    settle(page)
    glucose = page.get_by_role("table").get_by_role("row", name=re.compile("葡萄糖"))
    expect(glucose).to_contain_text("↑ 偏高")
    glucose.get_by_role("link", name=re.compile("查看趋势")).click()
    page.wait_for_url(re.compile(f"/h5/patients/{patient_id}/trends/2345-7"))
    settle(page)
    expect(page.get_by_role("heading", name="葡萄糖的变化趋势")).to_be_visible()
    expect(page.get_by_text("来自 3 家医院")).to_be_visible()
    rows = page.get_by_role("table").locator("tbody tr")
    expect(rows).to_have_count(3)
    for hospital, value in (("泰安市中心医院", "7.4"), ("泰安市中医医院", "6.8"), ("岱岳区范镇卫生院", "5.6")):
        expect(page.get_by_role("row", name=re.compile(hospital))).to_contain_text(value)
    expect(rows.first).to_contain_text("↑ 偏高")
    chart = page.locator(".trend-chart svg")
    expect(chart).to_have_count(1)
    for label in ("7.4", "6.8", "5.6", "泰安市中心医院", "泰安市中医医院", "岱岳区范镇卫生院"):
        expect(chart.locator("text", has_text=label).first).to_be_attached()
    # The reference range is drawn as a band (the markArea: a filled, translucent green shape).
    band = page.evaluate("""() => [...document.querySelectorAll('.trend-chart svg path')].filter((p) =>
        /27,\\s*122,\\s*61|#1b7a3d/i.test(p.getAttribute('fill') || '') ).length""")
    assert band >= 1, "no reference band in the chart"
    expect(page.get_by_text("绿色区域为参考范围")).to_be_visible()
    look(page, "trend", elder)

    # 健康档案: entries from the pushes, the demo visit timeline.
    page.goto("/h5/record")
    settle(page)
    expect(page.get_by_role("heading", name="健康档案")).to_be_visible()
    expect(page.get_by_text("2型糖尿病")).to_be_visible()
    expect(page.get_by_text("青霉素")).to_be_visible()
    expect(page.get_by_text("乙肝疫苗")).to_be_visible()
    expect(page.get_by_text("血糖控制复诊")).to_be_visible()
    look(page, "record", elder)

    # 录入体征: an implausible glucose is refused with the server's message on the field, then a good one saved.
    page.get_by_role("button", name="录入体征").click()
    page.wait_for_url(re.compile("/h5/record/vitals/new$"))
    settle(page)
    page.get_by_role("button", name="血糖", exact=True).click()
    page.get_by_role("button", name="mg/dL").click()
    page.watch.allow(r"status of 422 .*/vitals")  # the refusal provoked here
    page.get_by_label("血糖", exact=True).fill("700")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text(re.compile("应在 1–33.3 mmol/L 之间"))).to_be_visible()
    look(page, "vital-add-refused", elder)
    page.get_by_role("button", name="mmol/L").click()
    page.get_by_label("血糖", exact=True).fill("6.2")
    page.get_by_role("button", name="空腹").click()
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("已保存")).to_be_visible()
    look(page, "vital-add-saved", elder)
    page.get_by_role("link", name="查看趋势").click()
    page.wait_for_url(re.compile(f"/h5/patients/{patient_id}/trends/2345-7"))
    settle(page)
    expect(page.get_by_role("row", name=re.compile("家庭自测"))).to_contain_text("6.2")
    expect(page.get_by_role("table").locator("tbody tr")).to_have_count(4)

    # 谁看过我的档案: the trend just read, by this account, through WeChat.
    page.goto("/h5/record/access-log")
    settle(page)
    first = page.locator(".access-entry").first
    expect(first).to_contain_text("本人账户（您本人的账户）")
    expect(first).to_contain_text("查看了一项检验结果的变化趋势")
    expect(first).to_contain_text("通过微信公众号")
    channel = first.locator(".access-entry__meta span", has_text="通过微信公众号")
    assert channel.evaluate("(el) => el.getClientRects().length") == 1  # one line: 长辈版 at 375 px broke before 号
    look(page, "access-log", elder)
