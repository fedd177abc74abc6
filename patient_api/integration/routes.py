"""Hospital-facing API: bills and schedules (出诊, with 号源预留) from HIS."""
from flask.views import MethodView

from ..billing import his
from ..billing.schemas import BillOut
from ..booking import reservations
from ..common import audit
from ..common.blueprint import Blueprint
from ..directory import push
from ..directory import services as directory_services
from ..directory.schemas import ScheduleOut
from .auth import HOSPITAL_DOC, current_hospital, hospital_required
from .schemas import HisBillIn, HisRefundIn, RefundOut, SchedulePushIn

blp = Blueprint("integration", __name__, description="Hospital systems (HIS/LIS/PACS), per-hospital key")


@blp.route("/integration/bills")
class HisBills(MethodView):
    @hospital_required
    @blp.doc(**HOSPITAL_DOC)
    @blp.arguments(HisBillIn())
    @blp.response(201, BillOut)
    def post(self, body):
        """Push an outpatient bill; re-sending the same order_no returns the same bill (201 again)."""
        bill, _created = his.push_bill(current_hospital(), body)
        return bill


@blp.route("/integration/bills/<id:order_no>/void")
class VoidBill(MethodView):
    @hospital_required
    @blp.doc(**HOSPITAL_DOC)
    @blp.response(200, BillOut)
    def post(self, order_no):
        """Void an unpaid bill (409 bill_already_paid otherwise)."""
        return his.void_bill(current_hospital(), order_no)


@blp.route("/integration/bills/<id:order_no>/refunds")
class HisRefunds(MethodView):
    @hospital_required
    @blp.doc(**HOSPITAL_DOC)
    @blp.arguments(HisRefundIn())
    @blp.response(201, RefundOut)
    def post(self, body, order_no):
        """Refund part or all of a paid bill's self-pay; idempotent by out_refund_no (≤ 50 per order, 365 days)."""
        return his.refund_bill(current_hospital(), order_no, **body)


@blp.route("/integration/schedules")
class HisSchedules(MethodView):
    @hospital_required
    @blp.doc(**HOSPITAL_DOC)
    @blp.arguments(SchedulePushIn())
    @blp.response(201, ScheduleOut)
    def post(self, body):
        """Push a clinic session (出诊) with its tickets; departments and doctors are created from their codes on
        first use. Re-sending the same doctor, day and period returns that schedule (201 again) and applies a given
        `reserved` anew; other ticket settings → 409 schedule_conflict."""
        hospital = current_hospital()
        schedule, created = push.upsert(hospital, body)
        if not created and "reserved" in body:
            reservations.change(schedule, body["reserved"])
            audit.record("hospital", hospital.id, "schedule.reservations", resource=schedule.id,
                         reserved=schedule.reservations)
        return directory_services.with_pools([schedule])[0]
