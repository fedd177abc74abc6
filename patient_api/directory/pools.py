"""号源预留 (ticket pools): which tickets of a schedule are kept back for referrals, elders … and until when.

A ticket whose `reserved_for` names a pool is kept for that pool until its `release_at`; from that instant on it is
public, whether or not the release job has run yet (public_clause). The share a schedule keeps comes from the HIS
push or a hospital admin, else from the defaults in config (BOOKING_POOLS). docs/booking-pools.md has the rules.
"""
import math
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select

from ..common.clock import now
from ..errors import Invalid
from ..extensions import db
from .levels import level_rank
from .models import Ticket

POOLS = {}  # name → the label staff and residents read, in the order plans are made
SCOPES = {}  # name → applies(doctor_id) → bool: the schedules a pool's config defaults are for (absent: all)


def register(name, label, applies=None):
    """Declare a pool (a later feature adds e.g. family_team); names are at most 20 characters.

    `applies(doctor_id)` limits the config defaults to some doctors' schedules (family_team: doctors of a team); a
    rule the HIS push or an admin sets explicitly applies whatever it says.
    """
    if len(name) > 20:
        raise ValueError("pool names are at most 20 characters")
    POOLS[name] = label
    if applies is not None:
        SCOPES[name] = applies


register("referral", "转诊预留")
register("elder", "老年人预留")

MAX_RELEASE_HOURS = 24 * 30


def public_clause(instant):
    """Tickets the public may take at `instant`: never kept back, or past their release."""
    return or_(Ticket.reserved_for.is_(None), Ticket.release_at <= instant)


def kept_clause(instant, pool=None):
    """Tickets still kept back for a pool (any pool when None) at `instant`."""
    kept = and_(Ticket.reserved_for.is_not(None), Ticket.release_at > instant)
    return and_(kept, Ticket.reserved_for == pool) if pool else kept


def release_instant(rule, schedule):
    """When a pool's tickets go public: the rule's own `release_at`, or hours before the session starts."""
    if rule.get("release_at") is not None:
        return rule["release_at"]
    return schedule.starts_at - timedelta(hours=rule["release_hours_before"])


def check_release(rules, schedule):
    """422 release_after_session when a pool's tickets would go public only after the session ended."""
    for pool, rule in rules.items():
        if release_instant(rule, schedule) >= schedule.ends_at:
            raise Invalid("预留号源的释放时间须早于出诊结束时间", code="release_after_session",
                          errors={"reserved": {pool: {"release_at": ["须早于出诊结束时间"]}}})


def kept_count(rule, capacity):
    """Tickets a share keeps: rounded down, so a pool never keeps more than its share."""
    return math.floor(rule["share"] * capacity + 1e-9)


def defaults_for(hospital, fee_kind, doctor_id=None):
    """{pool: rule} from config: for each pool the most specific matching entry (hospital > level > any; a fee
    kind adds to it); an entry with share 0 keeps nothing. A scoped pool (register's `applies`) only for the
    doctors it applies to."""
    best = {}
    for entry in current_app.config.get("BOOKING_POOLS") or ():
        if entry.get("pool") not in POOLS:
            continue
        scope = SCOPES.get(entry["pool"])
        if scope is not None and (doctor_id is None or not scope(doctor_id)):
            continue
        score = 0
        for key, weight, actual in (("hospital", 4, hospital.code), ("level", 2, level_rank(hospital.level)),
                                    ("fee_kind", 1, fee_kind)):
            if key in entry:
                if entry[key] != actual:
                    break
                score += weight
        else:
            if entry["pool"] not in best or score >= best[entry["pool"]][0]:
                best[entry["pool"]] = (score, entry)
    return {pool: {"share": entry["share"], "release_hours_before": entry.get("release_hours_before", 24)}
            for pool, (_, entry) in best.items() if entry.get("share", 0) > 0}


def spread(candidates, count):
    """`count` of the ordered candidates, evenly spaced (the middle of each stretch): a pool's tickets fall in
    every part of the session rather than on the first numbers."""
    if count <= 0 or not candidates:
        return []
    count = min(count, len(candidates))
    return [candidates[math.floor((i + 0.5) * len(candidates) / count)] for i in range(count)]


def plan(seqs, counts):
    """{seq: pool} for ordered ticket numbers and {pool: count}: pools in registration order, each spread over
    the numbers the earlier pools left."""
    left, chosen = list(seqs), {}
    for pool in POOLS:
        for seq in spread(left, counts.get(pool, 0)):
            chosen[seq] = pool
        left = [seq for seq in left if seq not in chosen]
    return chosen


def stored(rules):
    """The rules as the schedule keeps them (JSON): instants as ISO strings."""
    return {pool: {key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in rule.items()}
            for pool, rule in rules.items()}


def stored_release(rule, schedule):
    """When a stored rule's (schedule.reservations) tickets go public; None for no rule."""
    if not rule:
        return None
    if isinstance(rule.get("release_at"), str):
        return datetime.fromisoformat(rule["release_at"])
    return release_instant(rule, schedule)


def kept_by_schedule(schedule_ids, instant=None):
    """{schedule id: {pool: free tickets still kept}} in one query (every registered pool present)."""
    instant = instant or now()
    counts = {schedule_id: dict.fromkeys(POOLS, 0) for schedule_id in schedule_ids}
    if not counts:
        return counts
    rows = db.session.execute(select(Ticket.schedule_id, Ticket.reserved_for, func.count()).where(
        Ticket.schedule_id.in_(list(counts)), Ticket.status == "free", kept_clause(instant))
        .group_by(Ticket.schedule_id, Ticket.reserved_for)).all()
    for schedule_id, pool, count in rows:
        counts[schedule_id][pool] = count
    return counts


def claimable_kept_by_schedule(schedule_ids, instant=None):
    """{schedule id: {pool: free tickets still kept whose window is not over}} in one query: what a claim from each
    pool could take now (a kept ticket of a window already over is counted in `reserved` but nobody gets it)."""
    instant = instant or now()
    counts = {schedule_id: dict.fromkeys(POOLS, 0) for schedule_id in schedule_ids}
    if not counts:
        return counts
    rows = db.session.execute(select(Ticket.schedule_id, Ticket.reserved_for, func.count()).where(
        Ticket.schedule_id.in_(list(counts)), Ticket.status == "free", Ticket.window_end > instant,
        kept_clause(instant)).group_by(Ticket.schedule_id, Ticket.reserved_for)).all()
    for schedule_id, pool, count in rows:
        counts[schedule_id][pool] = count
    return counts


def past_free_by_schedule(schedule_ids, instant=None):
    """{schedule id: free public tickets whose window is already over} for schedules in progress (one query).

    They still count in `available` but nobody can take them: a list showing them would promise a ticket that
    booking then refuses as sold out.
    """
    instant = instant or now()
    if not schedule_ids:
        return {}
    rows = db.session.execute(select(Ticket.schedule_id, func.count()).where(
        Ticket.schedule_id.in_(list(schedule_ids)), Ticket.status == "free", Ticket.window_end <= instant,
        public_clause(instant)).group_by(Ticket.schedule_id)).all()
    return dict(rows)


def public_free(schedule_id, instant=None):
    """Free tickets the public may take now (a lapsed hold not yet swept is not counted, as `available`)."""
    return db.session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.schedule_id == schedule_id, Ticket.status == "free", public_clause(instant or now())))


def check_defaults(entries):
    """Raise RuntimeError naming what is wrong with BOOKING_POOLS (the app refuses to start with it)."""
    if not isinstance(entries, list):
        raise RuntimeError("PATIENT_API_BOOKING_POOLS must be a JSON list")
    for n, entry in enumerate(entries):
        problems = []
        if not isinstance(entry, dict) or entry.get("pool") not in POOLS:
            problems.append(f"pool must be one of {', '.join(POOLS)}")
        elif set(entry) - {"pool", "share", "release_hours_before", "hospital", "level", "fee_kind"}:
            problems.append("unknown keys " + ", ".join(sorted(set(entry) - {
                "pool", "share", "release_hours_before", "hospital", "level", "fee_kind"})))
        else:
            share, hours = entry.get("share"), entry.get("release_hours_before", 24)
            if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 <= share <= 1:
                problems.append("share must be a number from 0 to 1")
            if not isinstance(hours, int) or isinstance(hours, bool) or not 0 <= hours <= MAX_RELEASE_HOURS:
                problems.append(f"release_hours_before must be an integer from 0 to {MAX_RELEASE_HOURS}")
        if problems:
            raise RuntimeError(f"PATIENT_API_BOOKING_POOLS entry {n}: " + "; ".join(problems))
