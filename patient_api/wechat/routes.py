"""WeChat official-account endpoints: the server callback and the JS-SDK signature for H5 pages."""
from ..common.blueprint import Blueprint

blp = Blueprint("wechat", __name__, description="WeChat official account: callback, JS-SDK")
