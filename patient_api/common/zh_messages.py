"""Chinese default messages for every marshmallow field, validator and schema, set once before any schema is built.

A 422 body is read by residents and nurses: marshmallow's English defaults ("Missing data for required field.")
must never appear in it. Validators format some messages when constructed, hence "before any schema is built".
"""
from marshmallow import Schema, fields, validate

FIELD_MESSAGES = {
    fields.Field: {"required": "必填", "null": "不能为空", "validator_failed": "取值无效"},
    fields.Nested: {"type": "类型不正确"},
    fields.List: {"invalid": "应为列表"},
    fields.Tuple: {"invalid": "应为元组"},
    fields.String: {"invalid": "应为字符串", "invalid_utf8": "不是有效的 UTF-8 字符串"},
    fields.UUID: {"invalid_uuid": "不是有效的 UUID"},
    fields.Number: {"invalid": "应为数字", "too_large": "数值过大"},
    fields.Integer: {"invalid": "应为整数"},
    fields.Float: {"special": "不能是 NaN 或无穷大"},
    fields.Decimal: {"special": "不能是 NaN 或无穷大"},
    fields.Boolean: {"invalid": "应为 true 或 false"},
    fields.DateTime: {"invalid": "不是有效的日期时间（ISO 8601，如 2026-11-23T08:00:00+08:00）",
                      "invalid_awareness": "日期时间格式不正确", "format": "日期时间格式不正确"},
    fields.NaiveDateTime: {"invalid_awareness": "应为不带时区的日期时间"},
    fields.AwareDateTime: {"invalid_awareness": "应为带时区的日期时间（如 2026-11-23T08:00:00+08:00）"},
    fields.Date: {"invalid": "不是有效的日期（YYYY-MM-DD）", "format": "日期格式不正确"},
    fields.Time: {"invalid": "不是有效的时间（HH:MM:SS）", "format": "时间格式不正确"},
    fields.TimeDelta: {"invalid": "不是有效的时长", "format": "时长格式不正确"},
    fields.Mapping: {"invalid": "应为 JSON 对象"},
    fields.Url: {"invalid": "不是有效的网址"},
    fields.Email: {"invalid": "不是有效的邮箱地址"},
    fields.IP: {"invalid_ip": "不是有效的 IP 地址"},
    fields.IPv4: {"invalid_ip": "不是有效的 IPv4 地址"},
    fields.IPv6: {"invalid_ip": "不是有效的 IPv6 地址"},
    fields.IPInterface: {"invalid_ip_interface": "不是有效的网络接口地址"},
    fields.IPv4Interface: {"invalid_ip_interface": "不是有效的 IPv4 接口地址"},
    fields.IPv6Interface: {"invalid_ip_interface": "不是有效的 IPv6 接口地址"},
    fields.Enum: {"unknown": "应为以下之一：{choices}"},
}

VALIDATOR_MESSAGES = {
    validate.URL: {"default_message": "不是有效的网址"},
    validate.Email: {"default_message": "不是有效的邮箱地址"},
    validate.Range: {"message_min": "应{min_op} {{min}}", "message_max": "应{max_op} {{max}}",
                     "message_all": "应{min_op} {{min}}，且{max_op} {{max}}", "message_gte": "大于或等于",
                     "message_gt": "大于", "message_lte": "小于或等于", "message_lt": "小于"},
    validate.Length: {"message_min": "长度不能少于 {min}", "message_max": "长度不能超过 {max}",
                      "message_all": "长度应在 {min} 到 {max} 之间", "message_equal": "长度应为 {equal}"},
    validate.Equal: {"default_message": "应等于 {other}"},
    validate.Regexp: {"default_message": "格式不正确"},
    validate.Predicate: {"default_message": "取值无效"},
    validate.NoneOf: {"default_message": "取值无效"},
    validate.OneOf: {"default_message": "应为以下之一：{choices}"},
    validate.ContainsOnly: {"default_message": "含有不允许的取值，可选：{choices}"},
    validate.ContainsNoneOf: {"default_message": "含有不允许的取值：{values}"},
}

SCHEMA_MESSAGES = {"type": "应为 JSON 对象", "unknown": "不支持该字段"}


def install():
    """Replace the English defaults in place (subclasses merge their classes' messages along the MRO)."""
    for field_class, messages in FIELD_MESSAGES.items():
        # Assigned on the class itself: updating an inherited dict would change the parent's messages too.
        field_class.default_error_messages = {**field_class.__dict__.get("default_error_messages", {}), **messages}
    for validator_class, messages in VALIDATOR_MESSAGES.items():
        for name, message in messages.items():
            setattr(validator_class, name, message)
    Schema._default_error_messages = {**Schema._default_error_messages, **SCHEMA_MESSAGES}


install()
