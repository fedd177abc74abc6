"""Bills and payments for residents, and the WeChat Pay notification endpoint."""
from flask import request
from flask.views import MethodView

from ..common.auth import BEARER_DOC, current_account_id, resident_required
from ..common.blueprint import Blueprint
from ..common.idempotency import idempotent
from ..errors import NotFound
from . import invoices, notifications, payments, services
from .presettlement import presettle
from .schemas import BillList, BillOut, BillQuery, PayIn, PayOut, SplitOut

blp = Blueprint("billing", __name__, description="Bills and payments (诊间结算)")


@blp.route("/bills")
class Bills(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(BillQuery(), location="query")
    @blp.response(200, BillList)
    def get(self, query):
        """Bills of all the account's patients."""
        return {"items": services.bills_for(current_account_id(), query.get("status"))}


@blp.route("/bills/<id:bill_id>")
class BillItem(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, BillOut)
    def get(self, bill_id):
        """One bill with its items, payments and refunds."""
        return services.bill_for(current_account_id(), bill_id)


@blp.route("/bills/<id:bill_id>/pre-settlement")
class PreSettlement(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, SplitOut)
    def post(self, bill_id):
        """The insurance split before paying: fund + personal account + self-pay = total."""
        return presettle(services.bill_for(current_account_id(), bill_id))


@blp.route("/bills/<id:bill_id>/payments")
class Payments(MethodView):
    @resident_required
    @idempotent(current_account_id)
    @blp.doc(**BEARER_DOC)
    @blp.arguments(PayIn())
    @blp.response(201, PayOut)
    def post(self, body, bill_id):
        """Pay the self-pay part: JSAPI parameters for WeixinJSBridge, or a code_url for a kiosk QR."""
        return payments.pay(current_account_id(), bill_id, body["method"])


@blp.route("/payments/wechatpay/notify")
class WechatPayNotify(MethodView):
    @blp.response(204)
    def post(self):
        """WeChat Pay v3 notification, verbatim: verified, decrypted, applied once."""
        body = request.get_data(cache=False)
        notifications.handle(request.headers, body, request.environ.get(notifications.VERIFIED))


@blp.route("/bills/<id:bill_id>/invoice")
class BillInvoice(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, invoices.InvoiceOut)
    def get(self, bill_id):
        """The electronic receipt (电子票据) of a paid bill; 404 invoice_not_found before payment."""
        invoice = invoices.invoice_for_bill(services.bill_for(current_account_id(), bill_id, clinical=True).id)
        if invoice is None:
            raise NotFound("该账单暂无电子票据", code="invoice_not_found")
        return invoices.render(invoice)
