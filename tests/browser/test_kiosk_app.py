"""The hall kiosk (/kiosk/) in Chromium at 1080 × 1920: provisioning, signing, card read, book, pay, check in,
print, binding code, 退卡 and the idle end leaving nothing of the patient behind."""
import json
import re
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
from playwright.sync_api import expect

from ..factories import chinese_name, resident_id
from .helpers import check_axe, no_horizontal_scroll, no_loading, screenshot, small_targets
from .seed import HOSPITAL, pay_in_sandbox, person, verified_family

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "tests" / "kiosk_signing_vectors.json").read_text(encoding="utf-8"))["vectors"]
SIGNING_JS = ROOT / "frontend" / "kiosk" / "src" / "signing.js"
KEPT = ["kiosk.device", "kiosk.muted"]


def shot(page, name, **kwargs):
    return screenshot(page, name, app="kiosk", **kwargs)


def provision(page, live, name):
    """`kiosk register` prints a one-time link; opening it sets the kiosk browser up."""
    output = live.flask("kiosk", "register", "--hospital", HOSPITAL, "--name", name, "--base-url", live.url)
    link = next(line for line in output.splitlines() if "#provision=" in line)
    page.goto(link)
    expect(page.get_by_role("button", name="点击开始办理")).to_be_visible()
    address = page.evaluate("() => location.href")
    assert "provision" not in address and address.endswith("/kiosk/"), address
    stored = json.loads(page.evaluate("() => localStorage.getItem('kiosk.device')"))
    assert stored["device_id"] == output.strip().splitlines()[-1].split()[0]
    return link


def read_card(page, kind, **numbers):
    page.get_by_role("button", name="点击开始办理").click()
    expect(page.get_by_role("heading", name="请插入身份证或医保卡")).to_be_visible()
    page.get_by_role("button", name="读取身份证" if kind == "id_card" else "读取医保卡").click()
    dialog = page.get_by_role("dialog")
    for label, value in numbers.items():
        dialog.get_by_label(label).fill(value)
    dialog.get_by_role("button", name="读卡").click()
    expect(page.get_by_role("heading", name="请选择要办理的业务")).to_be_visible()


def nothing_of(page, patient, masked):
    """Nothing of the patient on screen or in storage; only the device's own keys remain."""
    text = page.locator("body").inner_text()
    assert masked not in text and patient["name"] not in text and "正在为" not in text
    storage = page.evaluate("() => [Object.keys(localStorage), sessionStorage.length]")
    assert set(storage[0]) <= set(KEPT) and storage[1] == 0, storage
    dump = page.evaluate("() => JSON.stringify(localStorage)")
    assert patient["id_number"] not in dump and masked not in dump


def test_signing_in_the_page_matches_the_shared_vectors(kiosk_page, live):
    """The same vectors as tests/test_kiosk_provisioning.py, computed by the kiosk's own signing.js (WebCrypto)."""
    kiosk_page.goto("/kiosk/")
    source = re.sub(r"^export ", "", SIGNING_JS.read_text(encoding="utf-8"), flags=re.M)
    results = kiosk_page.evaluate(f"""async (vectors) => {{
        {source}
        const out = []
        for (const v of vectors) {{
            const body = new TextEncoder().encode(v.body)
            out.push([await sha256Hex(body), await stringToSign(v.method, v.path, v.timestamp, v.nonce, body),
                      await signRequest(v.secret, v.method, v.path, v.timestamp, v.nonce, body)])
        }}
        return out
    }}""", VECTORS)
    assert results == [[v["body_sha256"], v["string_to_sign"], v["signature"]] for v in VECTORS]


def test_a_visit_books_pays_checks_in_prints_binds_and_leaves_nothing(kiosk_page, live):
    page = kiosk_page
    patient = person()
    live.flask("demo", "clinical", "--id-number", patient["id_number"], "--name", patient["name"])
    link = provision(page, live, "门诊大厅1号机")
    no_loading(page)
    check_axe(page, "attract")
    shot(page, "attract")

    read_card(page, "id_card", 身份证号=patient["id_number"], 姓名=patient["name"])
    who = page.get_by_role("region", name="当前办理")
    expect(who).to_contain_text("正在为")
    masked = who.locator("strong").inner_text()
    expect(page.get_by_role("timer")).to_contain_text("后自动退出")
    assert not small_targets(page, 60), small_targets(page, 60)
    no_horizontal_scroll(page)
    check_axe(page, "services")
    shot(page, "services")

    # 绑定手机 first: the family verifies with the code on screen (and can then pay in the sandbox wallet).
    page.get_by_role("link", name=re.compile("绑定手机")).click()
    page.get_by_role("button", name="获取绑定码").click()
    code = page.get_by_label("绑定码").inner_text().replace(" ", "")
    assert re.fullmatch(r"\d{8}", code)
    expect(page.get_by_role("timer").last).to_contain_text("内有效")
    check_axe(page, "binding code")
    shot(page, "binding-code")
    family, _ = verified_family(live, "kiosk-family", patient, code)

    page.get_by_role("link", name="返回业务选择").click()
    page.get_by_role("link", name=re.compile("预约挂号")).click()
    no_loading(page)
    shot(page, "booking-departments")
    page.locator(".tile-k").first.click()
    page.locator(".row-k").first.click()
    shot(page, "booking-confirm")
    page.get_by_role("button", name="确认预约").click()
    expect(page.get_by_text("预约成功")).to_be_visible()
    check_axe(page, "ticket")
    shot(page, "booking-ticket")

    page.get_by_role("link", name="去缴费").click()
    no_loading(page)
    with page.expect_response(re.compile("/kiosk/bills/[^/]+/payments$")) as answer:
        page.get_by_role("button", name="微信扫码支付").first.click()
    expect(page.get_by_role("img", name=re.compile("微信二维码"))).to_be_visible()
    check_axe(page, "pay QR")
    shot(page, "pay-qr")
    pay_in_sandbox(family, answer.value.json()["out_trade_no"])
    expect(page.get_by_text(re.compile("^支付成功"))).to_be_visible(timeout=30_000)
    shot(page, "paid")

    page.get_by_role("link", name="返回业务选择").click()
    page.get_by_role("link", name=re.compile("报到")).click()
    no_loading(page)
    page.get_by_role("button", name="报到").first.click()
    expect(page.get_by_text(re.compile("报到成功"))).to_be_visible()
    check_axe(page, "checked in")
    shot(page, "checked-in")

    page.get_by_role("link", name="返回业务选择").click()
    page.get_by_role("link", name=re.compile("报告打印")).click()
    no_loading(page)
    page.evaluate("() => { window.__printed = []; "
                  "addEventListener('kioskbridge:print', (e) => __printed.push(e.detail.html)) }")
    page.get_by_role("button", name="打印小票").first.click()
    expect(page.get_by_text(re.compile("已发送到打印机"))).to_be_visible()
    printed = page.evaluate("() => window.__printed")
    assert len(printed) == 1 and "<html" in printed[0] and "80mm" in printed[0]
    check_axe(page, "reports")
    shot(page, "reports")

    page.get_by_role("button", name="退卡").click()
    expect(page.get_by_role("button", name="点击开始办理")).to_be_visible()
    nothing_of(page, patient, masked)
    page.watch.allow("status of 410")
    page.goto(link)  # the provisioning link works once: the kiosk keeps the credentials it has
    expect(page.get_by_role("button", name="点击开始办理")).to_be_visible()


def test_insurance_card_cannot_bind_and_the_idle_end_clears_the_screen(kiosk_page, live):
    page = kiosk_page
    patient = person()
    resident = live.api("kiosk-idle")  # the person is known (a claim) but has never shown an ID card here
    claimed = resident.post(resident.base + "/me/patients", json={**patient, "phone": "13800138000",
                                                                  "relation": "self"})
    assert claimed.status_code == 201, claimed.text
    page.clock.install()
    provision(page, live, "门诊大厅2号机")
    live.flask("insurance", "card", "--id-number", patient["id_number"], "--card-number", "SD0001234")
    read_card(page, "insurance_card", 医保卡号="SD0001234", 社会保障号码=patient["id_number"])
    masked = page.get_by_role("region", name="当前办理").locator("strong").inner_text()
    page.watch.allow("status of (401|403)")  # the refused binding code; the stale-clock 退卡 after the jump
    page.get_by_role("link", name=re.compile("绑定手机")).click()
    page.get_by_role("button", name="获取绑定码").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("请刷身份证")
    expect(alert).to_contain_text("医保卡不含身份证芯片")
    check_axe(page, "id card required")
    shot(page, "binding-needs-id-card")
    page.clock.fast_forward("04:45")
    expect(page.locator(".visit-bar__time--soon")).to_be_visible()
    shot(page, "idle-countdown", full_page=False)
    page.clock.fast_forward("00:20")
    expect(page.get_by_role("button", name="点击开始办理")).to_be_visible()
    nothing_of(page, patient, masked)


def elders_only_schedule(app, live):
    """A 4-ticket session of a new 老年病科 at the kiosk's hospital keeping half for elders, its two public tickets
    taken through the H5 by others: (department name, doctor name, schedule id)."""
    from patient_api.common.clock import now, today_local
    from patient_api.directory.models import Department, Doctor, Hospital
    from patient_api.directory.schedules import create_schedule
    from patient_api.extensions import db
    with app.app_context():
        hospital = db.session.scalars(sa.select(Hospital).filter_by(code=HOSPITAL)).one()
        department = Department(hospital_id=hospital.id, code="LNBK", name="老年病科")
        db.session.add(department)
        db.session.flush()
        doctor = Doctor(hospital_id=hospital.id, department_id=department.id, code="LNBK01", name="韩德明",
                        title="主任医师")
        db.session.add(doctor)
        db.session.flush()
        schedule = create_schedule(hospital, department, doctor, today_local() + timedelta(days=2), "morning",
                                   "普通号", 1200, 4, release_at=now() - timedelta(hours=1),
                                   reserved={"elder": {"share": 0.5, "release_hours_before": 2}})
        db.session.commit()
        schedule_id = schedule.id
    for k in range(2):
        holder = live.api(f"kiosk-elder-holder-{k}")
        n = 960 + k
        added = holder.post(holder.base + "/me/patients", json={"name": chinese_name(n), "id_number": resident_id(n),
                                                                "phone": "13800138000", "relation": "self"})
        taken = holder.post(holder.base + "/appointments", json={"schedule_id": schedule_id,
                                                                 "patient_id": added.json()["id"]})
        assert taken.status_code == 201 and taken.json()["pool"] is None, taken.text
    return "老年病科", "韩德明", schedule_id


def test_an_elder_books_at_the_kiosk_a_ticket_kept_for_elders(kiosk_page, live, app):
    """老年人就医便捷通道: the public tickets are gone, a 72-year-old reading their ID card still sees and takes one."""
    page = kiosk_page
    department, doctor, schedule_id = elders_only_schedule(app, live)
    elder = {"id_number": resident_id(951, born=f"{date.today().year - 72}0101"), "name": chinese_name(951)}
    provision(page, live, "门诊大厅3号机")
    read_card(page, "id_card", 身份证号=elder["id_number"], 姓名=elder["name"])
    page.get_by_role("link", name=re.compile("预约挂号")).click()
    no_loading(page)
    page.get_by_role("button", name=department).click()
    row = page.locator(".row-k").filter(has_text=doctor)
    expect(row).to_contain_text("余号 2（含老年人预留 2）")
    check_axe(page, "elder lane")
    shot(page, "booking-elder-lane")
    row.click()
    page.get_by_role("button", name="确认预约").click()
    expect(page.get_by_text("预约成功")).to_be_visible()
    shot(page, "booking-elder-ticket")
    from patient_api.booking.models import Appointment
    from patient_api.extensions import db
    with app.app_context():
        rows = db.session.execute(sa.select(Appointment.pool, Appointment.booked_via)
                                  .filter_by(schedule_id=schedule_id)).all()
    assert sorted((pool or "public", via.split(":")[0]) for pool, via in rows) == [
        ("elder", "kiosk"), ("public", "wechat"), ("public", "wechat")]
