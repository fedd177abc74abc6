"""先诊疗后付费 (treat first, pay once at the end) and 无感支付 (automatic 委托代扣 deduction): docs/credit.md."""
