"""The nurse station: ward list, discharge review, pre-settlement, settlement, bedside payment, receipt."""
from flask.views import MethodView

from ..billing import invoices, payments
from ..billing.models import Bill
from ..billing.schemas import PayOut
from ..common import audit
from ..common.auth import BEARER_DOC, current_staff_id
from ..common.blueprint import Blueprint
from ..errors import Conflict, NotFound
from ..extensions import db
from . import settlement, views
from .access import audited, check_ward, current_staff, require_right, staff_admission
from .schemas import AdmissionList, AdmissionOut, BedsidePayIn, DailyChargesOut, DayQuery, FiguresOut, SettlementOut

blp = Blueprint("nurse_station", __name__, description="Nurse station and bedside settlement (床旁结算), staff only")


@blp.before_request
def _signed_in():
    """A staff session before anything else: without one the answer is 401, never a 422 about the body."""
    current_staff_id()


def _admission(admission_id, action):
    """The staff member and an admission in their scope, with the access audited."""
    staff = current_staff()
    admission = staff_admission(staff, admission_id)
    audited(staff, action, admission)
    return staff, admission


@blp.route("/staff/wards/<id:ward_code>/admissions")
class WardAdmissions(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, AdmissionList)
    def get(self, ward_code):
        """Open admissions of a ward by bed with balances and flags (low_deposit, orders_pending, balance_due)."""
        staff = current_staff()
        check_ward(staff, ward_code)
        audit.record("staff", staff.id, "ward.list", resource=ward_code)
        return {"items": views.ward_list(staff.hospital_id, ward_code)}


@blp.route("/staff/admissions/<id:admission_id>")
class StaffAdmission(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, AdmissionOut)
    def get(self, admission_id):
        """One admission of the staff member's wards."""
        return views.render(_admission(admission_id, "admission.view")[1])


@blp.route("/staff/admissions/<id:admission_id>/daily-charges")
class StaffDailyCharges(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(DayQuery(), location="query")
    @blp.response(200, DailyChargesOut)
    def get(self, query, admission_id):
        """The 一日清单 of a day, as printed for the family."""
        return views.daily_charges(_admission(admission_id, "admission.daily_charges")[1], query.get("date"))


@blp.route("/staff/admissions/<id:admission_id>/discharge-review")
class DischargeReview(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, AdmissionOut)
    def post(self, admission_id):
        """出院审核: 409 orders_pending while orders are open, 409 discharge_not_ordered before the discharge order."""
        staff = current_staff()
        admission = staff_admission(staff, admission_id)
        return views.render(settlement.review(staff, admission))


@blp.route("/staff/admissions/<id:admission_id>/pre-settlement")
class StaffPreSettlement(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, FiguresOut)
    def post(self, admission_id):
        """The insurance split of the charges so far and the deposits against it: balance due or refund."""
        return settlement.preview(_admission(admission_id, "admission.pre_settlement")[1])


@blp.route("/staff/admissions/<id:admission_id>/settle")
class Settle(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, SettlementOut)
    def post(self, admission_id):
        """Settle at the bed; settling again returns the first settlement."""
        staff = current_staff()
        return settlement.render(settlement.settle(staff, staff_admission(staff, admission_id)))


@blp.route("/staff/admissions/<id:admission_id>/settlement")
class StaffSettlement(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, SettlementOut)
    def get(self, admission_id):
        """The settlement as it stands (refund progress, balance paid or not): what the bedside screen polls."""
        found = settlement.settlement_of(_admission(admission_id, "settlement.view")[1].id)
        if found is None:
            raise NotFound("该住院尚未结算", code="settlement_not_found")
        return settlement.render(found)


@blp.route("/staff/admissions/<id:admission_id>/settlement/payment")
class BedsidePayment(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(BedsidePayIn())
    @blp.response(201, PayOut)
    def post(self, body, admission_id):
        """Take the balance due at the bed: a Native QR for the family to scan (409 nothing_due otherwise)."""
        staff, admission = _admission(admission_id, "settlement.payment")
        require_right(staff, "settle")
        found = settlement.settlement_of(admission.id)
        if found is None or found.status != "awaiting_payment":
            raise Conflict("没有待支付的结算金额", code="nothing_due")
        return payments.open_order(db.session.get(Bill, found.bill_id), body["method"])


@blp.route("/staff/admissions/<id:admission_id>/receipt")
class BedsideReceipt(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, invoices.InvoiceOut)
    def get(self, admission_id):
        """The electronic receipt of the settlement, to show or print at the bed."""
        admission = _admission(admission_id, "settlement.receipt")[1]
        found = settlement.settlement_of(admission.id)
        invoice = found and invoices.invoice_for_bill(found.bill_id)
        if not invoice:
            raise NotFound("结算尚未完成，暂无电子票据", code="invoice_not_found")
        return invoices.render(invoice)
