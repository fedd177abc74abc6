"""Public directory: hospitals, departments, doctors, schedules (no sign-in needed)."""
from ..common.auth import current_account_id
from ..common.blueprint import Blueprint
from . import public_cache, services
from .models import Hospital
from .schemas import (
    DepartmentList,
    DoctorList,
    HospitalList,
    HospitalOut,
    PatientViewQuery,
    ScheduleList,
    ScheduleOut,
    ScheduleQuery,
    SlotList,
)

blp = Blueprint("directory", __name__, description="Hospitals, departments, doctors and schedules")
SIGN_IN_WITH_PATIENT = {"security": [{}, {"bearerAuth": []}]}  # anonymous, or signed in to name a patient


@blp.get("/hospitals")
@blp.response(200, HospitalList)
def list_hospitals():
    """All hospitals of the city."""
    return {"items": services.hospitals()}


@blp.get("/hospitals/<id:hospital_id>")
@blp.response(200, HospitalOut)
def get_hospital(hospital_id):
    """One hospital."""
    return services.get(Hospital, hospital_id, "hospital_not_found")


@blp.get("/hospitals/<id:hospital_id>/departments")
@blp.response(200, DepartmentList)
def list_departments(hospital_id):
    """A hospital's departments."""
    return {"items": services.departments(hospital_id)}


@blp.get("/departments/<id:department_id>/doctors")
@blp.response(200, DoctorList)
def list_doctors(department_id):
    """A department's doctors."""
    return {"items": services.doctors(department_id)}


def viewer(query):
    """The signed-in resident when a patient is named (401 otherwise), else None: the public view needs no sign-in."""
    return current_account_id() if query.get("patient_id") is not None else None


@blp.get("/schedules")
@public_cache.cached
@blp.arguments(ScheduleQuery(), location="query")
@blp.response(200, ScheduleList)
@blp.doc(**SIGN_IN_WITH_PATIENT)
def list_schedules(query):
    """Clinic sessions with live availability, soonest first; without a date, the coming week. Paged: follow
    `next_cursor` (as `cursor`) until it is null. With `patient_id` (signed in), also what that patient may book."""
    items, paging = services.schedules(query, viewer(query))
    return {**paging, "items": items}


@blp.get("/schedules/<id:schedule_id>")
@public_cache.cached
@blp.arguments(PatientViewQuery(), location="query")
@blp.response(200, ScheduleOut)
@blp.doc(**SIGN_IN_WITH_PATIENT)
def get_schedule(query, schedule_id):
    """One clinic session; with `patient_id` (signed in), also what that patient may book."""
    return services.schedule(schedule_id, viewer(query), query.get("patient_id"))


@blp.get("/schedules/<id:schedule_id>/slots")
@public_cache.cached
@blp.arguments(PatientViewQuery(), location="query")
@blp.response(200, SlotList)
@blp.doc(**SIGN_IN_WITH_PATIENT)
def list_slots(query, schedule_id):
    """The time windows (分时段) of a session, what is left in each and whether it can be booked (open|full|past);
    with `patient_id` (signed in), also what that patient may book in each."""
    return {"items": services.slots(schedule_id, account_id=viewer(query), patient_id=query.get("patient_id"))}
