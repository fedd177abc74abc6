"""Hospital levels (医院等级), as the directory records them: 三级甲等, 二级乙等, 一级 …"""


def level_rank(level):
    """1, 2 or 3 from a level such as "三级甲等", "二级乙等" or "一级"; 0 for anything else."""
    for rank, prefix in ((3, "三级"), (2, "二级"), (1, "一级")):
        if isinstance(level, str) and level.strip().startswith(prefix):
            return rank
    return 0
