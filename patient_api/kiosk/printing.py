"""Print-ready HTML of a report: an 80 mm thermal receipt roll or an A4 page (autoescaped Jinja)."""
from flask import render_template_string

from ..common.clock import to_local
from ..common.masking import mask_name
from ..results import rules

PAGE = {"thermal80": "@page { size: 80mm auto; margin: 2mm } body { width: 76mm; font-size: 11px }",
        "a4": "@page { size: A4; margin: 15mm } body { font-size: 12pt }"}
KINDS = {"lab": "检验报告", "imaging": "检查报告", "outpatient": "门诊病历", "inpatient": "出院小结"}
STATUS = {"preliminary": "（初步报告）", "partial": "（部分结果）", "amended": "（已更正）", "corrected": "（已更正）"}

TEMPLATE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>{{ page_css }} body { font-family: "SimSun", "Noto Serif CJK SC", serif; margin: 0 }
h1 { font-size: 1.3em; text-align: center; margin: 0 0 .4em } table { width: 100%; border-collapse: collapse }
th, td { text-align: left; padding: 1px 2px; vertical-align: top } .flag { font-weight: bold }
.meta td { padding: 0 2px } .foot { margin-top: .6em; font-size: .85em } hr { border: 0; border-top: 1px dashed #000 }
</style></head><body>
<h1>{{ hospital }}<br>{{ kind }}{{ status }}</h1>
<table class="meta"><tr><td>姓名：{{ patient }}</td><td>报告：{{ title }}</td></tr>
<tr><td>报告时间：{{ issued }}</td><td>{% if department %}科室：{{ department }}{% endif %}</td></tr></table><hr>
{% if items %}<table><tr><th>项目</th><th>结果</th><th>单位</th>{% if wide %}<th>参考范围</th>{% endif %}</tr>
{% for item in items %}<tr><td>{{ item.name }}</td><td>{{ item.value }}{% if item.flag and item.flag != "N" %}
<span class="flag">{{ arrows.get(item.flag, item.flag) }}</span>{% endif %}</td><td>{{ item.unit or "" }}</td>
{% if wide %}<td>{{ range_of(item) }}</td>{% endif %}</tr>{% endfor %}</table>{% endif %}
{% if findings %}<p><b>检查所见：</b>{{ findings }}</p>{% endif %}
{% if impression %}<p><b>诊断意见：</b>{{ impression }}</p>{% endif %}
{% if body %}<div>{{ body }}</div>{% endif %}
<hr><div class="foot">{% if recognised %}本结果可在全市医疗机构互认。{% endif %}
打印时间：{{ printed }}　本报告仅供参考，请以医院出具的正式报告为准。</div></body></html>"""
ARROWS = {"H": "↑", "L": "↓", "HH": "↑↑ 危急", "LL": "↓↓ 危急", "A": "异常"}


def range_of(item):
    """The range column of one result."""
    return rules.range_text(item.reference_range, item.ref_low, item.ref_high) or ""


def render(report, hospital_name, patient_name, printer, instant):
    """The report as a standalone HTML page for the chosen printer."""
    return render_template_string(
        TEMPLATE, page_css=PAGE[printer], wide=printer == "a4", hospital=hospital_name,
        kind=KINDS.get(report.kind, "报告"), status=STATUS.get(report.status, ""), title=report.title,
        patient=mask_name(patient_name), issued=to_local(report.issued_at).strftime("%Y-%m-%d %H:%M"),
        department=report.department, items=report.items, findings=report.findings, impression=report.impression,
        body=report.body, recognised=report.mutually_recognised, arrows=ARROWS, range_of=range_of,
        printed=to_local(instant).strftime("%Y-%m-%d %H:%M"))
