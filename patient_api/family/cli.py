"""`flask family …`: link a staff sign-in to a team as a member, list a clinic's teams, run the upkeep job now."""
import json

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from ..directory.models import Hospital
from ..errors import ApiError
from ..extensions import db
from . import catalogue, jobs
from .models import MEMBER_ROLES, FamilyTeam


def _echo(data):
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _hospital(code):
    hospital = db.session.scalars(sa.select(Hospital).filter_by(code=code)).first()
    if hospital is None:
        raise click.ClickException(f"no hospital with code {code}")
    return hospital


def cli():
    """The `family` command group."""
    group = AppGroup("family", help="家庭医生签约: team members, teams, the upkeep job.")

    @group.command("add-member")
    @click.option("--hospital", "hospital_code", required=True, help="Clinic (hospital) code.")
    @click.option("--team", "team_code", required=True, help="Team code within the clinic.")
    @click.option("--name", required=True, help="The member's name as residents see it.")
    @click.option("--member-role", type=click.Choice(MEMBER_ROLES), required=True)
    @click.option("--title", default=None, help="e.g. 全科主治医师.")
    @click.option("--username", default=None, help="A staff account of the clinic with role family_team.")
    @click.option("--doctor-code", default=None,
                  help="The clinic's doctor (code as HIS sends schedules) whose sessions keep 签约居民预留 tickets.")
    @click.option("--lead", is_flag=True, help="The member leads the team.")
    def add_member(hospital_code, team_code, name, member_role, title, username, doctor_code, lead):
        """Add a member to a team; with --username the staff account acts for the team in the staff app, with
        --doctor-code the doctor's new schedules keep the family_team share of PATIENT_API_BOOKING_POOLS."""
        hospital = _hospital(hospital_code)
        team = catalogue.team_by_code(hospital, team_code)
        if team is None:
            raise click.ClickException(f"no team {team_code} at {hospital_code}")
        staff = catalogue.staff_by_username(username) if username else None
        if username and staff is None:
            raise click.ClickException(f"no staff account {username}")
        doctor = catalogue.doctor_by_code(hospital, doctor_code) if doctor_code else None
        if doctor_code and doctor is None:
            raise click.ClickException(f"no doctor {doctor_code} at {hospital_code}")
        try:
            member = catalogue.add_member(team, name, member_role, title, staff, lead, doctor)
            db.session.commit()
        except ApiError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from None
        except sa.exc.IntegrityError:
            db.session.rollback()
            raise click.ClickException(f"{username} is already a member of {team_code}") from None
        click.echo(f"added {member.member_role} {member.name} to {team.code} ({member.id})")

    @group.command("teams")
    @click.option("--hospital", "hospital_code", required=True, help="Clinic (hospital) code.")
    def teams(hospital_code):
        """The clinic's teams: code, name, capacity, places left."""
        rows = db.session.scalars(sa.select(FamilyTeam).filter_by(hospital_id=_hospital(hospital_code).id)
                                  .order_by(FamilyTeam.code)).all()
        _echo([{"id": t.id, "code": t.code, "name": t.name, "capacity": t.capacity,
                "remaining": catalogue.remaining(t)} for t in rows])

    @group.command("upkeep")
    def upkeep():
        """Expire ended contracts, send renewal and follow-up reminders now (the worker does it hourly)."""
        _echo(jobs.run())
    return group
