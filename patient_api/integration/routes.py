"""Hospital-facing API: bills from HIS (results, admissions and FHIR come in later issues)."""
from flask.views import MethodView

from ..billing import his
from ..billing.schemas import BillOut
from ..common.blueprint import Blueprint
from .auth import HOSPITAL_DOC, current_hospital, hospital_required
from .schemas import HisBillIn, HisRefundIn, RefundOut

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
