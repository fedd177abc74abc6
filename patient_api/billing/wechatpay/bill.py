"""The daily trade bill (交易账单, type ALL): render it the way WeChat does, and parse it back."""
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# (WeChat column, our key); keys ending in _fen are money, written in yuan with two decimals.
COLUMNS = (
    ("交易时间", "trade_time"), ("公众账号ID", "appid"), ("商户号", "mchid"), ("特约商户号", "sub_mchid"),
    ("设备号", "device_info"), ("微信订单号", "transaction_id"), ("商户订单号", "out_trade_no"),
    ("用户标识", "openid"), ("交易类型", "trade_type"), ("交易状态", "trade_state"), ("付款银行", "bank_type"),
    ("货币种类", "currency"), ("应结订单金额", "settled_fen"), ("代金券金额", "coupon_fen"),
    ("微信退款单号", "refund_id"), ("商户退款单号", "out_refund_no"), ("退款金额", "refund_fen"),
    ("充值券退款金额", "coupon_refund_fen"), ("退款类型", "refund_type"), ("退款状态", "refund_status"),
    ("商品名称", "description"), ("商户数据包", "attach"), ("手续费", "fee_fen"), ("费率", "rate"),
    ("订单金额", "amount_fen"), ("申请退款金额", "requested_refund_fen"), ("费率备注", "rate_note"),
)
SUMMARY_COLUMNS = (
    ("总交易单数", "count"), ("应结订单总金额", "settled_fen"), ("退款总金额", "refund_fen"),
    ("充值券退款总金额", "coupon_refund_fen"), ("手续费总金额", "fee_fen"), ("订单总金额", "amount_fen"),
    ("申请退款总金额", "requested_refund_fen"),
)
HEADER = ",".join(name for name, _ in COLUMNS)
SUMMARY_HEADER = ",".join(name for name, _ in SUMMARY_COLUMNS)
# Payment rows carry "0" in the refund-number columns, as WeChat's files do; parsing turns it back into "".
NO_REFUND = "0"
# WeChat reports fees with sub-fen precision; they are rounded to fen when parsed.
FEE_KEYS = ("fee_fen",)


def render_trade_bill(rows):
    """Bill text: header, backtick-prefixed detail rows, summary header, summary row (CRLF lines, as WeChat)."""
    lines = [HEADER]
    lines += [",".join("`" + _cell(key, row.get(key)) for _, key in COLUMNS) for row in rows]
    lines.append(SUMMARY_HEADER)
    summary = summarize(rows)
    lines.append(",".join("`" + _cell(key, summary[key]) for _, key in SUMMARY_COLUMNS))
    return "\r\n".join(lines) + "\r\n"


def summarize(rows):
    """The summary line's figures: row count and column totals in fen."""
    totals = {key: sum(int(row.get(key) or 0) for row in rows) for _, key in SUMMARY_COLUMNS if key != "count"}
    return {"count": len(rows), **totals}


def parse_trade_bill(text):
    """Detail rows as dicts (trade_time, out_trade_no, transaction_id, trade_state, amount_fen, refund_fen, ...)."""
    header, body, _ = _sections(text)
    return [_row(header, line) for line in body]


def parse_trade_bill_summary(text):
    """The summary line as {count, settled_fen, refund_fen, coupon_refund_fen, fee_fen, amount_fen, ...}."""
    _, _, (names, values) = _sections(text)
    found = dict(zip(_split_header(names), _split_row(values, len(SUMMARY_COLUMNS)), strict=True))
    try:
        summary = {key: _value(key, found[name]) for name, key in SUMMARY_COLUMNS}
        summary["count"] = int(found["总交易单数"])
    except (KeyError, ValueError) as exc:
        raise ValueError(f"bad trade bill summary: {exc}") from exc
    return summary


def _sections(text):
    """(header names, detail lines, (summary header, summary line)); raises ValueError if the shape is wrong."""
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("总交易单数")]
    if len(lines) < 3 or not starts or starts[-1] != len(lines) - 2:
        raise ValueError("not a WeChat trade bill (header, rows, summary header, summary line)")
    header = _split_header(lines[0])
    missing = [name for name, _ in COLUMNS if name not in header]
    if missing:
        raise ValueError(f"trade bill lacks columns {missing}")
    return header, lines[1:starts[-1]], (lines[-2], lines[-1])


def _split_header(line):
    """Column names of a header line."""
    return [name.strip() for name in line.split(",")]


def _split_row(line, width):
    """Fields of a data line: every field starts with a backtick, so ",`" splits even names holding commas."""
    if not line.startswith("`"):
        raise ValueError("trade bill data lines start with a backtick")
    fields = line[1:].split(",`")
    if len(fields) != width:
        raise ValueError(f"trade bill line has {len(fields)} fields, expected {width}")
    return fields


def _row(header, line):
    """One detail line as a dict keyed by our names, money in fen."""
    found = dict(zip(header, _split_row(line, len(header)), strict=True))
    row = {key: _value(key, found[name]) for name, key in COLUMNS}
    for key in ("refund_id", "out_refund_no"):
        if row[key] == NO_REFUND:
            row[key] = ""
    return row


def _cell(key, value):
    """A value as the bill writes it: money in yuan with two decimals, text on one line."""
    if key.endswith("_fen"):
        return yuan(int(value or 0))
    # A line break inside a field would split the record; WeChat's own files never contain one.
    return "" if value is None else str(value).replace("\r", " ").replace("\n", " ")


def _value(key, text):
    """A cell read back: fen for money columns, text otherwise."""
    if not key.endswith("_fen"):
        return text
    try:
        fen = Decimal(text or "0") * 100
    except InvalidOperation as exc:
        raise ValueError(f"bad amount {text!r} in {key}") from exc
    if not fen.is_finite():
        raise ValueError(f"bad amount {text!r} in {key}")
    if key in FEE_KEYS:
        return int(fen.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if fen != fen.to_integral_value():
        raise ValueError(f"amount {text!r} in {key} is not whole fen")
    return int(fen)


def yuan(fen):
    """Fen as yuan text with two decimals (integer arithmetic, never float)."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"
