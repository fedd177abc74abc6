"""Bills and payments for residents, and the WeChat Pay notification endpoint."""
from flask.views import MethodView

from ..common.auth import BEARER_DOC, current_account_id, resident_required
from ..common.blueprint import Blueprint
from . import services
from .schemas import BillList, BillOut, BillQuery

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
