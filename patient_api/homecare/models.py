"""互联网+护理: a hospital's home-nursing catalogue, which nurse may do what, the orders and the dispatchers' alerts."""
import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..common import crypto
from ..common.clock import UtcDateTime, now
from ..common.ids import new_id
from ..extensions import db

# requested → assigned (dispatcher chose a nurse) → accepted (the nurse took it) → in_visit (checked in) → finished;
# or declined / lapsed (nobody reviewed it in time) / cancelled (by the resident, before check-in).
STATUSES = ("requested", "assigned", "accepted", "in_visit", "finished", "declined", "lapsed", "cancelled")
OPEN = ("requested", "assigned", "accepted", "in_visit")
CANCELLABLE = ("requested", "assigned", "accepted")
MOBILITY = ("bed_bound", "limited", "independent")
SHARED_KINDS = ("admission", "report")
ALERT_KINDS = ("review_lapsed", "visit_overdue", "complaint")


class HomecareService(db.Model):
    """One service of a hospital's catalogue (上门换药, PICC维护 …); rules, bands, consumables and areas are JSON."""

    __tablename__ = "homecare_services"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "code"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("hcs"))
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(60))
    description: Mapped[str] = mapped_column(sa.String(1000))  # what the visit includes
    service_fee_fen: Mapped[int]
    duration_minutes: Mapped[int]
    eligibility_json: Mapped[str] = mapped_column(sa.Text)  # {"match": "any"|"all", "rules": [{"kind", …}]}
    travel_bands_json: Mapped[str] = mapped_column(sa.Text)  # [{"code", "name", "fee_fen"}]: travel fee by distance
    consumables_json: Mapped[str] = mapped_column(sa.Text)  # [{"code", "name", "unit", "unit_price_fen"}]
    areas: Mapped[str] = mapped_column(sa.String(2000))  # comma-separated district/county codes (xxxx00: a city)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    hospital = relationship("Hospital", viewonly=True, lazy="joined")

    @property
    def eligibility(self):
        """The structured who-may-be-served rules."""
        return json.loads(self.eligibility_json)

    @property
    def travel_bands(self):
        """Distance bands and their travel fees."""
        return json.loads(self.travel_bands_json)

    @property
    def consumables(self):
        """Priced consumables a nurse may record."""
        return json.loads(self.consumables_json)

    @property
    def area_codes(self):
        """The district/county codes served."""
        return [code for code in self.areas.split(",") if code]

    def band(self, code):
        """The travel band with that code, or None."""
        return next((band for band in self.travel_bands if band["code"] == code), None)

    def covers(self, area_code):
        """True for a listed code, or a district of a listed city (a code ending in 00)."""
        return any(area_code == code or (code.endswith("00") and area_code[:4] == code[:4])
                   for code in self.area_codes)


class HomecareQualification(db.Model):
    """A nurse may do this service (set by an admin of the nurse's hospital)."""

    __tablename__ = "homecare_qualifications"
    __table_args__ = (sa.UniqueConstraint("staff_id", "service_id"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    staff_id: Mapped[str] = mapped_column(sa.ForeignKey("staff.id"), index=True)
    service_id: Mapped[str] = mapped_column(sa.ForeignKey("homecare_services.id"), index=True)
    granted_by: Mapped[str] = mapped_column(sa.String(32))
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class HomecareOrder(db.Model):
    """A resident's request for a home visit and everything that happens to it; prices are copied when set."""

    __tablename__ = "homecare_orders"
    __table_args__ = (sa.Index("ix_homecare_orders_hospital", "hospital_id", "created_at"),
                      sa.Index("ix_homecare_orders_nurse", "nurse_id", "created_at"),
                      sa.Index("ix_homecare_orders_account", "account_id", "created_at"),
                      sa.Index("ix_homecare_orders_status", "status", "review_due_at"))

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("hco"))
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    service_id: Mapped[str] = mapped_column(sa.ForeignKey("homecare_services.id"))
    patient_id: Mapped[str] = mapped_column(sa.ForeignKey("patients.id"), index=True)
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id"))  # who asked: only they see and rate it
    status: Mapped[str] = mapped_column(sa.String(12), default="requested")
    service_fee_fen: Mapped[int]
    distance_band: Mapped[str | None] = mapped_column(sa.String(16))
    travel_fee_fen: Mapped[int | None]
    address_enc: Mapped[str] = mapped_column(sa.Text)
    area_code: Mapped[str] = mapped_column(sa.String(6))
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime)
    condition: Mapped[str] = mapped_column(sa.String(500))
    mobility: Mapped[str | None] = mapped_column(sa.String(12))
    contact_phone_enc: Mapped[str] = mapped_column(sa.String(200))
    # A stay or report of the patient's own, shared with the nurse with the requester's consent (reference only).
    shared_kind: Mapped[str | None] = mapped_column(sa.String(10))
    shared_id: Mapped[str | None] = mapped_column(sa.String(32))
    share_consent: Mapped[bool] = mapped_column(default=False)
    review_due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    dispatcher_id: Mapped[str | None] = mapped_column(sa.String(32))
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decline_reason: Mapped[str | None] = mapped_column(sa.String(200))
    nurse_id: Mapped[str | None] = mapped_column(sa.ForeignKey("staff.id"))
    nurse_accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    departed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    check_in_lat: Mapped[float | None] = mapped_column(sa.Float)
    check_in_lng: Mapped[float | None] = mapped_column(sa.Float)
    visit_notes: Mapped[str | None] = mapped_column(sa.Text)
    consumables_json: Mapped[str | None] = mapped_column(sa.Text)  # [{"code", "name", "unit", "quantity", …}]
    recorded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    checked_out_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lapsed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancel_fee_fen: Mapped[int | None]
    bill_id: Mapped[str | None] = mapped_column(sa.ForeignKey("bills.id"), unique=True)  # the visit's or the fee's
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rating_score: Mapped[int | None]
    rating_comment: Mapped[str | None] = mapped_column(sa.String(500))
    rated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    complaint: Mapped[str | None] = mapped_column(sa.String(1000))
    complained_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    service: Mapped[HomecareService] = relationship(lazy="joined")
    hospital = relationship("Hospital", viewonly=True, lazy="joined")

    @property
    def address(self):
        """The decrypted address (shown only to the assigned nurse in the window; masked otherwise)."""
        return crypto.decrypt(self.address_enc)

    @property
    def contact_phone(self):
        """The decrypted contact phone (always answered masked)."""
        return crypto.decrypt(self.contact_phone_enc)

    @property
    def consumables_used(self):
        """What the nurse recorded, priced."""
        return json.loads(self.consumables_json) if self.consumables_json else []


class HomecareAlert(db.Model):
    """Something a hospital's dispatchers must look at; one per (order, kind), so a job run twice alerts once."""

    __tablename__ = "homecare_alerts"
    __table_args__ = (sa.UniqueConstraint("order_id", "kind"),
                      sa.Index("ix_homecare_alerts_hospital", "hospital_id", "created_at"))

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("hca"))
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"))
    order_id: Mapped[str] = mapped_column(sa.ForeignKey("homecare_orders.id"))
    kind: Mapped[str] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(sa.String(32))
