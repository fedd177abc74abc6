"""Staff sign-in for nurse stations and cashiers."""
from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ..common import audit, crypto
from ..common.auth import BEARER_DOC, bearer_token, current_staff_id, end_session
from ..common.blueprint import Blueprint
from ..common.schemas import StrictSchema, Text
from ..extensions import db
from . import people
from . import staff as staff_service
from .identity import parse_resident_id
from .schemas import NAME, BindingCodeOut, IdNumber, TokenOut
from .verification import issue_binding_code

blp = Blueprint("staff", __name__, description="Hospital staff: nurses, cashiers, admins")


class StaffLoginIn(StrictSchema):
    """Username and password."""

    username = Text(required=True, validate=validate.Length(1, 64))
    password = Text(required=True, validate=validate.Length(1, 200))


class StaffOut(Schema):
    """Who is signed in, and their scope."""

    id = fields.String(required=True)
    username = fields.String(required=True)
    role = fields.String(required=True)
    hospital_id = fields.String(required=True)
    wards = fields.List(fields.String(), attribute="ward_codes", required=True)


@blp.route("/staff/auth/login")
class StaffLogin(MethodView):
    @blp.arguments(StaffLoginIn())
    @blp.response(200, TokenOut)
    def post(self, body):
        """Sign in; 401 invalid_credentials, 423 account_locked after 5 failures (30 minutes)."""
        token, ttl = staff_service.sign_in(body["username"], body["password"], request.remote_addr)
        return {"token": token, "expires_in": ttl}


@blp.route("/staff/auth/logout")
class StaffLogout(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(204)
    def post(self):
        """End this staff session."""
        audit.record("staff", current_staff_id(), "staff.logout")
        end_session(bearer_token())


class BindingCodeIn(StrictSchema):
    """The person whose ID card (or, for a child, 户口本 with the guardian present) the staff member checked."""

    id_number = IdNumber(required=True)
    name = Text(required=True, validate=validate.Regexp(NAME, error="姓名格式不正确"))


@blp.route("/staff/binding-codes")
class StaffBindingCodes(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(BindingCodeIn())
    @blp.response(201, BindingCodeOut)
    def post(self, body):
        """Counter: after checking the physical card, a one-time code (5 minutes) the resident enters on the phone."""
        staff_id = current_staff_id()
        resident = parse_resident_id(body["id_number"])
        person = crypto.blind_index(resident.number)
        code, ttl = issue_binding_code(person, body["name"], "staff", staff_id)
        patient = people.patient_by_index(person)
        audit.record("staff", staff_id, "binding_code.issue", patient_id=patient.id if patient else None)
        return {"binding_code": code, "expires_in": ttl}


@blp.route("/staff/me")
class StaffMe(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, StaffOut)
    def get(self):
        """The signed-in staff member."""
        return db.session.get(staff_service.Staff, current_staff_id())
