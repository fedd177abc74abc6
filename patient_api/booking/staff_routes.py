"""Staff app: 代预约 at the registration window or on the phone, its printed slip, and a schedule's 号源预留."""
from flask.views import MethodView

from ..common import audit
from ..common.auth import BEARER_DOC
from ..common.blueprint import Blueprint
from . import counter, reservations
from .counter_schemas import LookupIn, LookupOut, ReservationsIn, ReservationsOut, SlipOut, StaffBookIn, StaffCancelIn

blp = Blueprint("booking_staff", __name__, description="Staff: 代预约 (registration window) and 号源预留")


@blp.route("/staff/patient-lookup")
class StaffPatientLookup(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(LookupIn())
    @blp.response(200, LookupOut)
    def post(self, body):
        """Before booking: is the ID number registered (masked name), the age, and does the elder pool apply
        (registrar, admin)."""
        return counter.lookup(counter.current_staff("book"), body["id_number"])


@blp.route("/staff/appointments")
class StaffAppointments(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(StaffBookIn())
    @blp.response(201, SlipOut)
    def post(self, body):
        """代预约: book for a resident by ID number and name (the patient is created on first use), at the window
        or on the phone; an elder (65+ on the visit day) takes from the elder pool first. Paid at the window now,
        or held until check-in closes to be paid at a kiosk or window. Answers the slip to print (registrar,
        admin; 404 schedule_not_found for another hospital's schedule; the booking errors of POST
        /appointments)."""
        staff = counter.current_staff("book")
        return counter.slip(counter.book(staff, body))


@blp.route("/staff/appointments/<id:appointment_id>/slip")
class StaffSlip(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, SlipOut)
    def get(self, appointment_id):
        """Print the slip again for any appointment at the staff member's hospital (registrar, admin)."""
        staff = counter.current_staff("book")
        appointment = counter.hospital_appointment(staff, appointment_id)
        audit.record("staff", staff.id, "booking.slip_print", patient_id=appointment.patient_id,
                     resource=appointment.id)
        return counter.slip(appointment)


@blp.route("/staff/appointments/<id:appointment_id>/cancel")
class StaffCancel(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(StaffCancelIn())
    @blp.response(200, SlipOut)
    def post(self, body, appointment_id):
        """Cancel a 代预约 (booked at the window or on the phone) of the staff member's hospital; the ticket goes back
        to its pool and the family is told (registrar, admin; 404 appointment_not_found for another hospital's, 409
        not_counter_booking for one booked another way)."""
        staff = counter.current_staff("book")
        return counter.slip(counter.cancel(staff, appointment_id, body["reason"]))


@blp.route("/staff/schedules/<id:schedule_id>/reservations")
class StaffReservations(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, ReservationsOut)
    def get(self, schedule_id):
        """号源预留 of a schedule of the staff member's hospital: rules and per pool kept, free, used, released
        (registrar, admin)."""
        staff = counter.current_staff("view_reservations")
        return reservations.view(counter.hospital_schedule(staff, schedule_id))

    @blp.doc(**BEARER_DOC)
    @blp.arguments(ReservationsIn())
    @blp.response(200, ReservationsOut)
    def put(self, body, schedule_id):
        """Replace a schedule's 号源预留 (hospital admin): free tickets move between the pools and the public at
        once, tickets already booked stay; 409 schedule_closed once the session ended or stopped."""
        staff = counter.current_staff("reservations")
        schedule = counter.hospital_schedule(staff, schedule_id)
        result = reservations.change(schedule, body["reserved"])
        audit.record("staff", staff.id, "schedule.reservations", resource=schedule.id, reserved=schedule.reservations)
        return result
