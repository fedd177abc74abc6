"""一次挂号三日免费: a paid registration covers re-visits to the same department for a few days."""
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, false

from .models import Appointment


def covering(schedule):
    """SQL condition: the appointment is a paid, attended visit to the schedule's department in the days before it,
    which makes booking this schedule a free revisit; false when the rule is off or the schedule is free anyway.

    Attended (checked in) because the rule covers a follow-up of a consultation that took place.
    """
    days = current_app.config["FREE_REVISIT_DAYS"]
    if days <= 0 or not schedule.fee_fen:
        return false()
    return and_(Appointment.department_id == schedule.department_id,
                Appointment.status.in_(("checked_in", "completed")), Appointment.fee_fen > 0,
                Appointment.free_revisit_of.is_(None),  # a free revisit does not start a new free period
                Appointment.visit_date >= schedule.date - timedelta(days=days), Appointment.visit_date < schedule.date)
