"""The WeChat Pay adapter's 委托代扣 (papay) calls: the sandbox's contracts, wallet and deductions in WeChat's formats,
and LiveClient's requests (signed, answers verified) against a mocked gateway. No app, no database."""
import json
from datetime import date

import pytest

from patient_api.billing.wechatpay import DictStore, SandboxClient, verify_notification
from patient_api.billing.wechatpay.live import LiveClient

from .test_wechatpay import (  # noqa: F401  (fixtures)
    GATEWAY,
    NOW,
    check_authorization,
    clock,
    gateway,
    keys,
    live_settings,
    pay_error,
    wechat_answer,
    wx,
)

PLAN = 12535


@pytest.fixture(autouse=True)
def clean():
    """These tests need neither the app nor its database."""
    yield


@pytest.fixture
def sandbox(wx, keys, clock):  # noqa: F811
    return SandboxClient(wx, DictStore(), keys["platform_private_key_pem"], clock=clock)


def test_sandbox_contract_lifecycle_in_wechat_formats(sandbox, wx):  # noqa: F811
    page = sandbox.presign_contract(PLAN, "C2026ABC", "张*的诊疗费用", "o-payer", wx.notify_url)
    assert page["redirect_url"].startswith("https://")
    assert sandbox.presign_contract(PLAN, "C2026ABC", "张*的诊疗费用", "o-payer", wx.notify_url) == page
    assert pay_error(lambda: sandbox.query_contract(PLAN, "C2026ABC")).code == "RESOURCE_NOT_EXISTS"
    assert pay_error(lambda: sandbox.presign_contract(PLAN, "C-bad!", "x", "o", wx.notify_url)).code == "PARAM_ERROR"
    headers, body = sandbox.simulate_contract_signing("C2026ABC", NOW)
    notice = verify_notification(wx, headers, body, NOW)
    resource = notice["resource"]
    assert notice["event_type"] == "PAPAY.SIGN"
    assert (resource["change_type"], resource["plan_id"], resource["openid"], resource["mchid"]) == (
        "ADD", PLAN, "o-payer", wx.mchid)
    assert resource["contract_id"] and resource["operate_time"].endswith("+08:00")
    replay = sandbox.simulate_contract_signing("C2026ABC", NOW + 60)
    assert json.loads(replay[1])["id"] == json.loads(body)["id"]  # a re-send, not a new event
    assert sandbox.query_contract(PLAN, "C2026ABC")["contract_state"] == "ADD"
    assert pay_error(lambda: sandbox.presign_contract(PLAN, "C2026ABC", "x", "o-payer", wx.notify_url)).code == \
        "INVALID_REQUEST"  # a used code is never reused
    sandbox.terminate_contract(resource["contract_id"], "关闭")
    sandbox.terminate_contract(resource["contract_id"], "关闭")
    ended = verify_notification(wx, *sandbox.contract_notification("C2026ABC", NOW), NOW)
    assert ended["event_type"] == "PAPAY.TERMINATE" and ended["resource"]["contract_termination_mode"] == 3
    assert pay_error(lambda: sandbox.pay_by_contract("PAP-0001", "扣费", 100, resource["contract_id"],
                                                     wx.notify_url)).code == "CONTRACT_NOT_EXIST"


def test_sandbox_deducts_once_per_number_and_knows_not_enough(sandbox, wx):  # noqa: F811
    sandbox.presign_contract(PLAN, "C1", "张*", "o-payer", wx.notify_url)
    contract_id = verify_notification(wx, *sandbox.simulate_contract_signing("C1", NOW), NOW)["resource"][
        "contract_id"]
    sandbox.set_wallet("o-payer", 1000)
    sandbox.pay_by_contract("PAP-0001", "先诊疗后付费", 600, contract_id, wx.notify_url)
    sandbox.pay_by_contract("PAP-0001", "先诊疗后付费", 600, contract_id, wx.notify_url)  # the same number: once
    paid = sandbox.query("PAP-0001")
    assert (paid["trade_state"], paid["trade_type"], paid["amount"]["total"]) == ("SUCCESS", "PAP", 600)
    notice = verify_notification(wx, *sandbox.deduction_notification("PAP-0001", NOW), NOW)
    assert notice["event_type"] == "TRANSACTION.SUCCESS" and notice["resource"]["out_trade_no"] == "PAP-0001"
    assert pay_error(lambda: sandbox.pay_by_contract("PAP-0001", "先诊疗后付费", 700, contract_id,
                                                     wx.notify_url)).code == "OUT_TRADE_NO_USED"
    sandbox.pay_by_contract("PAP-0002", "先诊疗后付费", 600, contract_id, wx.notify_url)  # 400 left
    short = sandbox.query("PAP-0002")
    assert (short["trade_state"], short["trade_state_desc"]) == ("PAYERROR", "余额不足（NOT_ENOUGH）")
    assert pay_error(lambda: sandbox.deduction_notification("PAP-0002", NOW)).code == "ORDER_NOT_PAID"
    bill = sandbox.trade_bill(date(2026, 11, 23))
    assert "`PAP-0001" in bill and "`PAP-0002" not in bill and "`PAP" in bill


def test_sandbox_payer_can_end_the_contract_in_wechat(sandbox, wx):  # noqa: F811
    sandbox.presign_contract(PLAN, "C2", "张*", "o-payer", wx.notify_url)
    contract_id = verify_notification(wx, *sandbox.simulate_contract_signing("C2", NOW), NOW)["resource"][
        "contract_id"]
    ended = verify_notification(wx, *sandbox.simulate_user_termination(contract_id, NOW), NOW)
    assert (ended["resource"]["change_type"], ended["resource"]["contract_termination_mode"]) == ("DELETE", 2)


def test_live_papay_calls_are_signed_and_shaped(live_settings, keys, gateway):  # noqa: F811
    live = LiveClient(live_settings)
    gateway.add_callback("POST", f"{GATEWAY}/v3/papay/scheduled-deduct-sign/contracts/pre-entrust-sign/jsapi",
                         callback=wechat_answer(live_settings, keys, 200, {"redirect_url": "https://pay.example/s"}))
    gateway.add_callback("POST", f"{GATEWAY}/v3/papay/pay/transactions/apply",
                         callback=wechat_answer(live_settings, keys, 204))
    gateway.add_callback("POST", f"{GATEWAY}/v3/papay/sign/contracts/202601/terminate",
                         callback=wechat_answer(live_settings, keys, 204))
    contract = {"contract_id": "202601", "contract_state": "ADD", "out_contract_code": "C1", "plan_id": PLAN}
    gateway.add_callback("GET", f"{GATEWAY}/v3/papay/sign/contracts/plan-id/{PLAN}/out-contract-code/C1"
                         f"?appid={live_settings.appid}", callback=wechat_answer(live_settings, keys, 200, contract))
    assert live.presign_contract(PLAN, "C1", "张*的诊疗费用", "o-payer", live_settings.notify_url) == {
        "redirect_url": "https://pay.example/s"}
    assert live.pay_by_contract("PAP-0001", "先诊疗后付费", 600, "202601", live_settings.notify_url) is None
    assert live.terminate_contract("202601", "关闭") is None
    assert live.query_contract(PLAN, "C1") == contract
    sent = [json.loads(call.request.body) if call.request.body else None for call in gateway.calls]
    assert sent[0] == {"appid": live_settings.appid, "openid": "o-payer", "plan_id": PLAN, "out_contract_code": "C1",
                       "contract_display_account": "张*的诊疗费用", "contract_notify_url": live_settings.notify_url}
    assert sent[1] == {"appid": live_settings.appid, "out_trade_no": "PAP-0001", "description": "先诊疗后付费",
                       "transaction_notify_url": live_settings.notify_url, "contract_id": "202601",
                       "amount": {"total": 600, "currency": "CNY"}}
    assert sent[2] == {"appid": live_settings.appid, "termination_note": "关闭"}
    for call in gateway.calls:
        check_authorization(call.request, live_settings, keys)
