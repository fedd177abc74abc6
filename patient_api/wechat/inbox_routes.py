"""消息: the account's inbox of WeChat messages (also those WeChat refused or that were never sent)."""
from flask.views import MethodView
from marshmallow import Schema, fields

from ..common.auth import BEARER_DOC, current_account_id, resident_required
from ..common.blueprint import Blueprint
from ..common.paging import PageOut, PageQuery
from ..common.schemas import LocalDateTime
from . import inbox

blp = Blueprint("messages", __name__, description=(
    "The account's messages, newest first: every WeChat message addressed to it, including those WeChat refused "
    "(not following, refused) or that were not sent; read state per account."))


class MessageQuery(PageQuery):
    """Paging; `unread=true` lists only unread messages."""

    unread = fields.Boolean(load_default=False)


class MessageOut(Schema):
    """One message: a heading, lines in plain Chinese, the H5 page it opens (under /h5), read and delivery state."""

    id = fields.String(required=True)
    event = fields.String(required=True)
    title = fields.String(required=True)
    lines = fields.List(fields.String(), required=True)
    path = fields.String(allow_none=True, metadata={"description": "H5 route, e.g. /reports/rpt_…"})
    patient_id = fields.String(allow_none=True)
    created_at = LocalDateTime(required=True)
    read = fields.Boolean(required=True)
    read_at = LocalDateTime(allow_none=True)
    delivery = fields.String(required=True, metadata={"description": "sent | pending | not_sent | failed (WeChat)"})


class MessageList(PageOut):
    """A page of messages and how many are unread in all."""

    items = fields.List(fields.Nested(MessageOut), required=True)
    unread_count = fields.Integer(required=True)


@blp.route("/me/messages")
class Messages(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(MessageQuery(), location="query")
    @blp.response(200, MessageList)
    def get(self, args):
        """The account's messages, newest first (cursor paging with next_cursor)."""
        items, paging, unread = inbox.list_messages(current_account_id(), args)
        return {**paging, "items": items, "unread_count": unread}


@blp.route("/me/messages/<id:message_id>/read")
class MessageRead(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, MessageOut)
    def post(self, message_id):
        """Mark a message read (again is harmless); 404 message_not_found for another account's."""
        return inbox.mark_read(current_account_id(), message_id)
