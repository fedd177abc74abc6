"""Public directory: hospitals, departments, doctors, schedules (no sign-in needed)."""
from ..common.blueprint import Blueprint
from . import services
from .models import Hospital
from .schemas import (
    DepartmentList,
    DoctorList,
    HospitalList,
    HospitalOut,
    ScheduleList,
    ScheduleOut,
    ScheduleQuery,
    SlotList,
)

blp = Blueprint("directory", __name__, description="Hospitals, departments, doctors and schedules")


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


@blp.get("/schedules")
@blp.arguments(ScheduleQuery(), location="query")
@blp.response(200, ScheduleList)
def list_schedules(query):
    """Clinic sessions with live availability, soonest first; without a date, the coming week. Paged: follow
    `next_cursor` (as `cursor`) until it is null."""
    items, paging = services.schedules(query)
    return {**paging, "items": items}


@blp.get("/schedules/<id:schedule_id>")
@blp.response(200, ScheduleOut)
def get_schedule(schedule_id):
    """One clinic session."""
    return services.schedule(schedule_id)


@blp.get("/schedules/<id:schedule_id>/slots")
@blp.response(200, SlotList)
def list_slots(schedule_id):
    """The time windows (分时段) of a session, what is left in each and whether it can be booked (open|full|past)."""
    return {"items": services.slots(schedule_id)}
