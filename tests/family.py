"""Helpers for 家庭医生签约 tests: a township clinic with two teams, their staff and packages; residents who apply."""
import itertools
import json

import sqlalchemy as sa
from stdnum.cn import ric

from patient_api.accounts.staff import Staff
from patient_api.common.notify import CHANNEL
from patient_api.common.outbox import OutboxMessage
from patient_api.directory.models import Hospital as HospitalRow
from patient_api.extensions import db
from patient_api.family import catalogue
from patient_api.records.models import FamilyDoctorContract

from .factories import chinese_name
from .inpatient import Hospital

REGION, VILLAGE, OTHER_VILLAGE = "370911", "范镇村", "东故村"  # 岱岳区
ELDERLY = {"match": "any", "rules": [{"kind": "age_at_least_years", "years": 65}]}
CHRONIC = {"match": "any", "rules": [{"kind": "condition", "conditions": ["hypertension", "diabetes"]}]}
ITEMS = [{"name": "健康评估", "frequency": "每年1次"}, {"name": "血压测量", "frequency": "每季度1次"}]
_seq = itertools.count(101)
API = "/api/v1"


class Clinic:
    """A clinic (hospital of the directory) with teams A and B, a member signed in for each, and three packages."""

    def __init__(self, app, client, make, code="FZWSY", capacity=100):
        self.app, self.client, self.make, self.code = app, client, make, code
        self.hospital = Hospital(app, client, make, code)  # also the clinic's integration key (self.hospital.his)
        self.staff_a = self.hospital.staff(role="family_team", wards="")
        self.staff_b = self.hospital.staff(role="family_team", wards="")
        ids = {name: self.staff_id(headers) for name, headers in (("a", self.staff_a), ("b", self.staff_b))}
        with app.app_context():
            hospital = db.session.scalars(sa.select(HospitalRow).filter_by(code=code)).one()
            self.team_a = self._team(hospital, f"{code[:8]}A", "范镇卫生院家庭医生一团队", capacity, [VILLAGE],
                                     ids["a"], "王立新")
            self.team_b = self._team(hospital, f"{code[:8]}B", "范镇卫生院家庭医生二团队", capacity,
                                     [VILLAGE, OTHER_VILLAGE], ids["b"], "李春梅")
            self.basic = catalogue.create_package(hospital, "JC", "basic", "基础包", "国家基本公共卫生服务",
                                                  ITEMS, 0).id
            self.elderly = catalogue.create_package(hospital, "LN", "elderly", "老年人服务包", "每年体检、中医体质辨识",
                                                    ITEMS, 12000, ELDERLY).id
            self.chronic = catalogue.create_package(hospital, "MB", "chronic", "慢病服务包", "高血压、糖尿病随访",
                                                    ITEMS, 10000, CHRONIC).id
            db.session.commit()

    @staticmethod
    def _team(hospital, code, name, capacity, villages, staff_id, doctor):
        team = catalogue.create_team(hospital, code, name, capacity, [(REGION, v) for v in villages],
                                     phone="0538-8760120")
        catalogue.add_member(team, doctor, "doctor", "全科主治医师", db.session.get(Staff, staff_id),
                             is_lead=True)
        catalogue.add_member(team, "赵海燕", "nurse", "护师")
        return team.id

    def team_code(self, which):
        """The code of team "a" or "b"."""
        return f"{self.code[:8]}{which.upper()}"

    def staff_id(self, headers):
        return self.client.get(f"{API}/staff/me", headers=headers).json["id"]

    def resident(self, verified=True, born="19860101"):
        """(headers, patient_id, person) of a new account with one patient born on `born`."""
        n = next(_seq)
        headers = self.make.login()
        person = {"id_number": person_id(n, born), "name": chinese_name(n)}
        patient_id = self.make.patient(headers, n, **person)
        if verified:
            self.make.verify(headers, patient_id)
        return headers, patient_id, person

    def apply(self, headers, patient_id, team_id=None, package_id=None, expect=201, **changes):
        body = {"patient_id": patient_id, "team_id": team_id or self.team_a, "package_id": package_id or self.basic,
                "region_code": REGION, "community": VILLAGE, **changes}
        response = self.client.post(f"{API}/me/family/contracts", json=body, headers=headers)
        assert response.status_code == expect, response.json
        return response.json

    def staff_post(self, headers, contract_id, step, body=None, expect=200):
        kwargs = {"json": body} if body is not None else {}
        response = self.client.post(f"{API}/staff/family/contracts/{contract_id}/{step}", headers=headers, **kwargs)
        assert response.status_code == expect, response.json
        return response.json

    def signed(self, headers, patient_id, **changes):
        """An application to team A accepted by its member; returns the contract."""
        contract = self.apply(headers, patient_id, **changes)
        return self.staff_post(self.staff_a, contract["id"], "accept")

    def mine(self, headers, contract_id, suffix="", method="get", body=None):
        return getattr(self.client, method)(f"{API}/me/family/contracts/{contract_id}{suffix}", headers=headers,
                                            **({"json": body} if body is not None else {}))

    def push(self, body, headers=None):
        return self.client.post(f"{API}/integration/family-doctor-contracts", json=body,
                                headers=headers or self.hospital.his)


def person_id(n, born):
    """A valid resident ID of 岱岳区 born on `born` (YYYYMMDD); unique per n below 1000 (odd n: a man)."""
    body = f"{REGION}{born}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def pushed(id_number, contract_no="QY-1", **changes):
    """A contract as the centre's system pushes it."""
    body = {"contract_no": contract_no, "patient": {"id_number": id_number}, "team": "范镇卫生院家庭医生一团队",
            "doctor": "王立新", "starts_on": "2026-01-01", "ends_on": "2099-12-31", "package": "基础包"}
    body.update(changes)
    return body


def contracts_count(app, **filters):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(FamilyDoctorContract).filter_by(**filters))


def told(app, event, channel=CHANNEL):
    """[(destination, payload)] queued with that event on a channel, oldest first."""
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.channel == channel,
                                                                 OutboxMessage.event == event)
                                  .order_by(OutboxMessage.created_at, OutboxMessage.id)).all()
        return [(row.destination, json.loads(row.payload)) for row in rows]
