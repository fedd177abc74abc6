"""Demo data: three Tai'an hospitals with departments, doctors and a week of schedules plus the day released next,
the central hospital's 互联网+护理 catalogue, and the township clinic's two family-doctor teams and packages."""
import json
from datetime import timedelta

from sqlalchemy import select

from .common.clock import now, today_local
from .directory import pools
from .directory.models import Department, Doctor, Hospital, Schedule
from .directory.schedules import create_schedule
from .extensions import db
from .family import catalogue as family_catalogue
from .family.models import FamilyPackage, FamilyTeam
from .homecare.models import HomecareService

HOSPITALS = [
    ("TAZXYY", "泰安市中心医院", "三级甲等", "泰安市泰山区龙潭路29号", "0538-6298000"),
    ("TAZYY", "泰安市中医医院", "三级甲等", "泰安市泰山区东岳大街216号", "0538-8266000"),
    ("DYWSY", "岱岳区范镇卫生院", "一级", "泰安市岱岳区范镇驻地", "0538-8760120"),
]
DEPARTMENTS = {
    "TAZXYY": [("NK", "内科", "内科系"), ("XXGNK", "心血管内科", "内科系"), ("WK", "普外科", "外科系"),
               ("GK", "骨科", "外科系"), ("EK", "儿科", "儿科"), ("FCK", "妇产科", "妇产科")],
    "TAZYY": [("ZYNK", "中医内科", "中医科"), ("ZJK", "针灸推拿科", "中医科"), ("ZYEK", "中医儿科", "儿科"),
              ("ZYFK", "中医妇科", "妇产科")],
    "DYWSY": [("QK", "全科门诊", "全科"), ("BMMZ", "便民门诊", "全科"), ("YFJZ", "预防接种门诊", "公共卫生")],
}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = ["建国", "秀英", "志强", "海燕", "立新", "春梅", "文博", "晓东", "丽华", "国庆", "玉兰", "明远"]
# (title, fee kind, fee in fen, tickets per session)
TITLES = [("主任医师", "专家号", 5000, 20), ("副主任医师", "专家号", 3000, 24), ("主治医师", "普通号", 1200, 30)]


def load(days=8):
    """Create the demo set; running it again adds only what is missing (e.g. the next day's schedules)."""
    today = today_local()
    counter = 0
    for code, name, level, address, phone in HOSPITALS:
        hospital = _get_or_add(Hospital, code=code, defaults=dict(name=name, level=level, address=address,
                                                                  phone=phone))
        for dep_code, dep_name, category in DEPARTMENTS[code]:
            department = _get_or_add(Department, hospital_id=hospital.id, code=dep_code,
                                     defaults=dict(name=dep_name, category=category))
            free_clinic = dep_code == "BMMZ"
            titles = TITLES[2:] if code == "DYWSY" else TITLES
            for index, (title, fee_kind, fee_fen, capacity) in enumerate(titles):
                counter += 1
                name = SURNAMES[counter % len(SURNAMES)] + GIVEN[counter % len(GIVEN)]
                doctor = _get_or_add(Doctor, hospital_id=hospital.id, code=f"{dep_code}{index + 1:02d}",
                                     defaults=dict(department_id=department.id, title=title, name=name))
                if free_clinic:
                    fee_kind, fee_fen = "便民门诊", 0
                for offset in range(days + 1):
                    day = today + timedelta(days=offset)
                    for period in _periods(index, offset, code):
                        _ensure_schedule(hospital, department, doctor, day, period, fee_kind, fee_fen, capacity)
        if code == "TAZXYY":
            _homecare(hospital)
        if code == "DYWSY":
            _family_doctors(hospital)
    db.session.commit()


# 互联网+护理 of 泰安市中心医院: (code, name, what it includes, fee in fen, minutes, rules, consumables)
ELDERLY, BED_BOUND, DISCHARGED = ({"kind": "age_at_least_years", "years": 60}, {"kind": "bed_bound"},
                                  {"kind": "discharged_within_days", "days": 30})
HOMECARE = [
    ("HC001", "上门换药", "伤口评估、清创消毒、更换敷料，指导家属观察伤口", 12000, 45, [BED_BOUND, DISCHARGED, ELDERLY],
     [("FL01", "无菌换药包", "包", 1500), ("FL02", "藻酸盐敷料", "片", 3800)]),
    ("HC002", "PICC维护", "导管评估、冲封管、更换贴膜及输液接头", 15000, 40, [DISCHARGED, BED_BOUND],
     [("PI01", "PICC维护包", "套", 4500), ("PI02", "无针输液接头", "个", 2200)]),
    ("HC003", "导尿管更换", "评估留置导尿、更换导尿管及集尿袋，会阴护理", 13000, 40, [BED_BOUND, ELDERLY],
     [("DN01", "一次性导尿包", "套", 3500), ("DN02", "抗反流集尿袋", "个", 1200)]),
    ("HC004", "压疮护理", "压疮分期评估、清创换药、体位与减压指导", 14000, 50, [BED_BOUND],
     [("YC01", "水胶体敷料", "片", 2600), ("FL01", "无菌换药包", "包", 1500)]),
    ("HC005", "留置胃管", "评估后置入或更换胃管，确认位置，鼻饲指导", 13000, 40, [BED_BOUND, ELDERLY],
     [("WG01", "一次性胃管", "根", 1800), ("WG02", "营养泵管路", "套", 3200)]),
    ("HC006", "新生儿护理", "新生儿体格检查、脐部护理、黄疸监测、母乳喂养指导", 10000, 60,
     [{"kind": "age_at_most_days", "days": 28}], [("XS01", "脐带护理包", "包", 900)]),
]
HOMECARE_BANDS = [{"code": "A", "name": "5公里以内", "fee_fen": 3000},
                  {"code": "B", "name": "5-15公里", "fee_fen": 5000},
                  {"code": "C", "name": "15公里以上", "fee_fen": 8000}]
HOMECARE_AREAS = "370902,370911,370921"  # 泰山区, 岱岳区, 宁阳县


def _homecare(hospital):
    """The hospital's home-nursing catalogue (services already there are left as an admin may have changed them)."""
    for code, name, description, fee_fen, minutes, rules, consumables in HOMECARE:
        _get_or_add(HomecareService, hospital_id=hospital.id, code=code, defaults=dict(
            name=name, description=description, service_fee_fen=fee_fen, duration_minutes=minutes,
            eligibility_json=json.dumps({"match": "any", "rules": rules}),
            travel_bands_json=json.dumps(HOMECARE_BANDS, ensure_ascii=False),
            consumables_json=json.dumps([{"code": c, "name": n, "unit": u, "unit_price_fen": p}
                                         for c, n, u, p in consumables], ensure_ascii=False),
            areas=HOMECARE_AREAS, active=True))


# 家庭医生签约 at 岱岳区范镇卫生院: two teams covering the villages of 范镇 (岱岳区 370911), and its packages.
FAMILY_REGION = "370911"
FAMILY_TEAMS = [
    ("T01", "范镇卫生院家庭医生一团队", 600, "负责范镇东片各村，每周二、四下村随访",
     ["范镇村", "东故村", "西故村", "北故村"], [("王建国", "doctor", "全科主治医师", True),
                                              ("刘春梅", "nurse", "主管护师", False),
                                              ("陈立新", "public_health", "公卫医师", False)]),
    ("T02", "范镇卫生院家庭医生二团队", 500, "负责范镇西片各村及镇区社区，每周一、三、五下村随访",
     ["范镇村", "沟里村", "西南村", "范镇社区"], [("李秀英", "doctor", "全科医师", True),
                                                 ("张海燕", "nurse", "护师", False),
                                                 ("赵志强", "public_health", "公卫医师", False)]),
]
# The team doctors' clinic sessions (doctor codes of the clinic): they keep tickets for the team's signed residents.
FAMILY_TEAM_DOCTORS = {"T01": "QK01", "T02": "BMMZ01"}
DEMO_FAMILY_TEAM_RULE = {"share": 0.3, "release_hours_before": 24}
_YEARLY = "每年1次"
FAMILY_PACKAGES = [
    ("JC", "basic", "基础包", "国家基本公共卫生服务，免费", 0, None,
     [("建立健康档案", "签约时"), ("健康咨询与用药指导", "随时"), ("预约转诊", "按需")]),
    ("LN", "elderly", "老年人服务包", "65岁以上老年人健康管理", 12000,
     {"match": "any", "rules": [{"kind": "age_at_least_years", "years": 65}]},
     [("健康体检（含血常规、肝肾功能、心电图、B超）", _YEARLY), ("中医体质辨识", _YEARLY), ("上门随访", "每季度1次")]),
    ("MB", "chronic", "慢病服务包", "高血压、2型糖尿病患者的规范管理", 10000,
     {"match": "any", "rules": [{"kind": "condition", "conditions": ["hypertension", "diabetes"]}]},
     [("血压、血糖随访", "每月1次"), ("糖化血红蛋白检测", _YEARLY), ("用药调整与生活方式指导", "每季度1次")]),
    ("YC", "maternal", "孕产妇服务包", "孕早期建册到产后42天", 20000,
     {"match": "any", "rules": [{"kind": "condition", "conditions": ["pregnancy"]}]},
     [("孕期保健指导", "每月1次"), ("产后访视", "2次")]),
    ("ET", "child", "儿童服务包", "0-6岁儿童健康管理", 5000,
     {"match": "any", "rules": [{"kind": "age_at_most_years", "years": 6}]},
     [("生长发育评估", "每半年1次"), ("预防接种提醒", "按免疫程序")]),
]


def _family_doctors(hospital):
    """The clinic's teams (with members, villages) and packages; ones already there are left as they are."""
    for code, name, capacity, introduction, villages, members in FAMILY_TEAMS:
        if db.session.scalars(select(FamilyTeam.id).filter_by(hospital_id=hospital.id, code=code)).first():
            continue
        team = family_catalogue.create_team(hospital, code, name, capacity,
                                            [(FAMILY_REGION, village) for village in villages],
                                            phone=hospital.phone, introduction=introduction)
        doctor = db.session.scalars(select(Doctor).filter_by(hospital_id=hospital.id,
                                                             code=FAMILY_TEAM_DOCTORS[code])).first()
        for member, role, title, lead in members:
            family_catalogue.add_member(team, member, role, title, is_lead=lead,
                                        doctor=doctor if role == "doctor" else None)
    for code, kind, name, description, price_fen, rules, items in FAMILY_PACKAGES:
        if db.session.scalars(select(FamilyPackage.id).filter_by(hospital_id=hospital.id, code=code)).first():
            continue
        family_catalogue.create_package(hospital, code, kind, name, description,
                                        [{"name": item, "frequency": when} for item, when in items], price_fen, rules)


def _periods(index, offset, hospital_code):
    """Senior doctors hold fewer sessions; the big hospitals run evening clinics (错时门诊)."""
    periods = ["morning"] if index == 0 and offset % 2 else ["morning", "afternoon"]
    if hospital_code == "TAZXYY" and index == 2:
        periods.append("evening")
    return periods


# 号源下沉: the central hospital keeps a fifth of its 专家号 for referrals from township clinics until the day before,
# so the 双向转诊 screens have referral tickets to show (the config defaults still decide every other pool).
DEMO_REFERRAL_RULE = {"share": 0.2, "release_hours_before": 24}


def _ensure_schedule(hospital, department, doctor, day, period, fee_kind, fee_fen, capacity):
    exists = db.session.scalars(select(Schedule.id).filter_by(doctor_id=doctor.id, date=day, period=period)).first()
    if not exists:
        reserved = None
        if hospital.code == "TAZXYY" and fee_kind == "专家号":
            reserved = {**pools.defaults_for(hospital, fee_kind, doctor.id), "referral": DEMO_REFERRAL_RULE}
        if hospital.code == "DYWSY" and doctor.code in FAMILY_TEAM_DOCTORS.values():
            # 签约居民预留: the schedules are made before the teams link their doctors, so the demo says it here.
            reserved = {**pools.defaults_for(hospital, fee_kind, doctor.id), "family_team": DEMO_FAMILY_TEAM_RULE}
        create_schedule(hospital, department, doctor, day, period, fee_kind, fee_fen, capacity, reserved=reserved)


def _get_or_add(model, defaults, **keys):
    row = db.session.scalars(select(model).filter_by(**keys)).first()
    if row is None:
        row = model(**keys, **defaults)
        db.session.add(row)
        db.session.flush()
    return row


def rush_schedule(capacity, fee_fen=1200):
    """A schedule released right now with `capacity` free tickets (for bench/rush.py); returns its id."""
    hospital = _get_or_add(Hospital, code="RUSH", defaults=dict(name="压测医院", level="三级甲等"))
    department = _get_or_add(Department, hospital_id=hospital.id, code="NK", defaults=dict(name="内科"))
    doctor = _get_or_add(Doctor, hospital_id=hospital.id, code=f"R{now():%H%M%S%f}",
                         defaults=dict(department_id=department.id, name="压测医生", title="主任医师"))
    day = today_local() + timedelta(days=1)
    schedule = create_schedule(hospital, department, doctor, day, "morning", "普通号", fee_fen, capacity,
                               release_at=now() - timedelta(seconds=1))
    db.session.commit()
    return schedule.id
