"""The official account's custom menu and creating it through WeChat's /cgi-bin/menu/create (wechatpy)."""
import json

import click
from flask import current_app
from flask.cli import AppGroup
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from . import replies
from .token import TIMEOUT, WeChatError, call, redact

menu_cli = AppGroup("menu", help="The official account's custom menu.")


def _page(name, intent):
    # Through OAuth: the page opens with a code in hand, so the resident is signed in without an extra hop.
    return {"type": "view", "name": name, "url": replies.authorize_url(replies.PAGES[intent][0], state="menu")}


def definition():
    """The menu: the four services open their H5 pages; 使用帮助 is a CLICK answered by the callback (HELP)."""
    return {"button": [
        _page("预约挂号", "booking"),
        _page("报告查询", "reports"),
        {"name": "就医服务", "sub_button": [
            _page("门诊缴费", "bills"),
            _page("住院服务", "inpatient"),
            {"type": "click", "name": "使用帮助", "key": "HELP"},
        ]},
    ]}


def _client(token):
    config = current_app.config
    # auto_retry off: a stale token is refreshed by token.call through the shared cache, never by wechatpy alone.
    client = WeChatClient(config["WECHAT_APPID"], config["WECHAT_SECRET"], access_token=token, timeout=TIMEOUT,
                          auto_retry=False)
    client.API_BASE_URL = config["WECHAT_API_BASE"].rstrip("/") + "/cgi-bin/"
    return client


def create(menu=None):
    """Replace the account's menu with `menu` (default: definition()); raises token.WeChatError."""
    menu = menu or definition()

    def post(token):
        try:
            return _client(token).menu.create(menu)
        except WeChatClientException as exc:  # token.call retries once on token errors it recognises
            raise WeChatError(exc.errcode if exc.errcode is not None else -1, exc.errmsg or "") from None
    return call(post)


@menu_cli.command("create")
@click.option("--dry-run", is_flag=True, help="Print the menu JSON without calling WeChat.")
def create_command(dry_run):
    """Create (replace) the custom menu: flask --app wsgi wechat menu create."""
    if dry_run:
        click.echo(json.dumps(definition(), ensure_ascii=False, indent=2))
        return
    try:
        create()
    except Exception as exc:  # WeChat's errcode or the network: say which, never the access_token
        raise click.ClickException(f"menu not created: {redact(str(exc))}") from None
    click.echo("menu created")
