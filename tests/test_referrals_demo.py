"""Demo data for the 双向转诊 screens: referrers made with the CLI at the township clinic and the central hospital,
and the central hospital's 专家号 keeping tickets for referrals."""
import sqlalchemy as sa

from patient_api import demo
from patient_api.common.clock import now
from patient_api.directory import pools
from patient_api.directory.models import Hospital, Schedule, Ticket
from patient_api.extensions import db

from .pools import PASSWORD
from .referrals import API


def test_demo_referrers_see_the_central_hospitals_referral_tickets(app, client):
    with app.app_context():
        demo.load(days=3)
        central = db.session.scalars(sa.select(Hospital).filter_by(code="TAZXYY")).one()
        experts = db.session.scalars(sa.select(Schedule).where(Schedule.hospital_id == central.id,
                                                               Schedule.fee_kind == "专家号")).all()
        assert experts and all(s.reservations["referral"] == {"share": 0.2, "release_hours_before": 24}
                               for s in experts)
        kept = db.session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(
            Ticket.schedule_id.in_([s.id for s in experts]), pools.kept_clause(now(), "referral")))
        assert kept > 0
        ordinary = db.session.scalars(sa.select(Schedule.reservations).where(
            Schedule.hospital_id == central.id, Schedule.fee_kind == "普通号")).all()
        assert set(map(bool, ordinary)) == {False}  # config defaults ([] here) decide the rest
    tokens = {}
    for code, username in (("DYWSY", "fz-zhuanzhen"), ("TAZXYY", "zx-zhuanzhen")):
        result = app.test_cli_runner().invoke(args=["staff", "create", "--hospital", code, "--username", username,
                                                    "--password", PASSWORD, "--role", "referrer", "--name", "王医生"])
        assert result.exit_code == 0 and "created referrer" in result.output, result.output
        login = client.post(f"{API}/staff/auth/login", json={"username": username, "password": PASSWORD})
        tokens[code] = {"Authorization": f"Bearer {login.json['token']}"}
    places = client.get(f"{API}/staff/referrals/destinations?direction=up", headers=tokens["DYWSY"]).json["items"]
    central = next(p for p in places if p["name"] == "泰安市中心医院")
    tickets = client.get(f"{API}/staff/referrals/tickets?hospital_id={central['hospital_id']}",
                         headers=tokens["DYWSY"]).json["items"]
    assert any(t["referral_available"] > 0 for t in tickets)
    down = client.get(f"{API}/staff/referrals/destinations?direction=down", headers=tokens["TAZXYY"]).json["items"]
    assert [p["name"] for p in down] == ["岱岳区范镇卫生院"]
