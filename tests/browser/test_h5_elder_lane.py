"""老年人就医便捷通道 in the H5 app: a family member whose proxy link to a 70-year-old parent is verified sees the
tickets kept for elders (余号 … 含老年人预留 N) and books one when the public tickets are all taken; the proxy of a
60-year-old sees 约满 and the waitlist. The counts are the server's (available_to_patient), the rule booking's own."""
import itertools
import re
from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from patient_api.common.clock import now, today_local
from patient_api.extensions import db

from ..factories import chinese_name, resident_id
from .helpers import (
    MODES,
    elder_on,
    look,
    sign_in,
)
from .outpatient import add_patient, day_label, verify

_people = itertools.count(861)


def kept_schedule(app, live, doctor_name, days_ahead):
    """A 4-ticket 普通号 session at 泰安市中心医院 儿科 keeping half for elders (until 2 hours before it starts), its
    two public tickets taken by others: its id."""
    from patient_api.directory.models import Department, Doctor, Hospital
    from patient_api.directory.schedules import create_schedule
    n = next(_people)
    with app.app_context():
        hospital = db.session.scalars(sa.select(Hospital).filter_by(code="TAZXYY")).one()
        department = db.session.scalars(sa.select(Department).filter_by(hospital_id=hospital.id, code="EK")).one()
        doctor = Doctor(hospital_id=hospital.id, department_id=department.id, code=f"ELDER{n}", name=doctor_name,
                        title="主任医师")
        db.session.add(doctor)
        db.session.flush()
        schedule = create_schedule(hospital, department, doctor, today_local() + timedelta(days=days_ahead),
                                   "morning", "普通号", 1200, 4, release_at=now() - timedelta(hours=1),
                                   reserved={"elder": {"share": 0.5, "release_hours_before": 2}})
        db.session.commit()
        schedule_id = schedule.id
    for k in range(2):
        holder = live.api(f"elder-lane-holder-{n}-{k}")
        patient_id, _name, _number = add_patient(holder)
        taken = holder.post(holder.base + "/appointments",
                            json={"schedule_id": schedule_id, "patient_id": patient_id}, timeout=10)
        assert taken.status_code == 201 and taken.json()["pool"] is None, taken.text
    return schedule_id


def proxy_of_parent(app, live, openid, age):
    """A family member's account whose only 就诊人 is their parent, `age` (born on 1 January) on the visit days,
    the link verified with the phone the hospitals hold for the parent: (api, patient_id)."""
    n = next(_people)
    number = resident_id(n, born=f"{today_local().year - age}0101")
    api = live.api(openid)
    answer = api.post(api.base + "/me/patients", json={"name": chinese_name(n), "id_number": number,
                                                      "phone": "13800138000", "relation": "parent"}, timeout=10)
    assert answer.status_code == 201, answer.text
    patient_id = answer.json()["id"]
    verify(app, live, api, patient_id, number)
    return api, patient_id


def open_day(page, days_ahead):
    page.goto("/h5/booking")
    page.get_by_role("link", name=re.compile("泰安市中心医院")).click()
    page.get_by_role("link", name="儿科").click()
    page.get_by_role("button", name=re.compile(day_label(days_ahead))).click()
    expect(page.get_by_role("heading", name=f"{day_label(days_ahead)} 出诊医生")).to_be_visible()


@MODES
def test_a_verified_proxy_books_a_kept_ticket_for_a_70_year_old_parent(page, app, live, elder):
    days = 5 if elder else 6  # each mode its own day and doctor
    doctor = "孔颐年" if elder else "曹寿康"
    schedule_id = kept_schedule(app, live, doctor, days)
    openid = f"elder-lane-proxy-{elder}"
    api, patient_id = proxy_of_parent(app, live, openid, 70)
    sign_in(page, openid)
    if elder:
        elder_on(page)
    open_day(page, days)
    card = page.locator("li.doctor").filter(has_text=doctor)
    expect(card).to_contain_text("余号 2")
    expect(card).to_contain_text("含老年人预留 2")
    expect(card.get_by_role("button", name="加入候补")).to_have_count(0)
    look(page, "elder-lane-doctors", elder)

    card.get_by_role("button", name="选择时段").click()
    expect(page.get_by_text("第 4 步，共 5 步")).to_be_visible()
    kept_slots = page.locator("a.slot").filter(has_text="含老年人预留 1")
    expect(kept_slots).to_have_count(2)
    expect(page.get_by_role("button", name="加入候补")).to_have_count(0)
    look(page, "elder-lane-slots", elder)

    kept_slots.first.click()
    expect(page.get_by_text("第 5 步，共 5 步")).to_be_visible()
    expect(page.get_by_role("region", name="预约信息")).to_contain_text(doctor)
    look(page, "elder-lane-confirm", elder)
    page.get_by_role("button", name="立即预约").click()
    page.wait_for_url(re.compile(r"/h5/appointments/apt_\w+$"))
    expect(page.get_by_text("待支付", exact=True)).to_be_visible()
    look(page, "elder-lane-hold", elder)
    appointment = api.get(f"{api.base}/appointments/{page.url.rsplit('/', 1)[1]}", timeout=10).json()
    assert (appointment["schedule_id"], appointment["pool"]) == (schedule_id, "elder")


def test_the_proxy_of_a_60_year_old_sees_sold_out_and_the_waitlist(page, app, live):
    days, doctor = 4, "严安泰"
    kept_schedule(app, live, doctor, days)
    proxy_of_parent(app, live, "elder-lane-sixty", 60)
    sign_in(page, "elder-lane-sixty")
    elder_on(page)
    open_day(page, days)
    card = page.locator("li.doctor").filter(has_text=doctor)
    expect(card).to_contain_text("约满")
    expect(card).not_to_contain_text("老年人预留")
    expect(card.get_by_role("button", name="加入候补")).to_be_visible()
    look(page, "elder-lane-sixty-sold-out", True)
