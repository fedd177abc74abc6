"""Who a hospital's data is about: the resident ID number (urn:oid:2.16.156.10011.1.3), or an MRN learnt earlier."""
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..accounts.identity import InvalidIdNumber, parse_resident_id
from ..common import crypto
from ..extensions import db
from .models import MrnLink

ID_NUMBER_SYSTEM = "urn:oid:2.16.156.10011.1.3"  # 居民身份证号 (GB 11643)


def index_for_id_number(raw):
    """The person index of a valid resident ID number; raises InvalidIdNumber (with a Chinese message)."""
    return crypto.blind_index(parse_resident_id(raw).number)


def index_for_mrn(hospital, mrn):
    """The person a hospital's MRN was linked to, or None."""
    return db.session.scalar(sa.select(MrnLink.person_index).filter_by(hospital_id=hospital.id, mrn=mrn))


def link_mrn(hospital, mrn, person_index):
    """Remember the hospital's MRN for that person; an MRN already tied to someone else is refused (False)."""
    known = index_for_mrn(hospital, mrn)
    if known is not None:
        return known == person_index
    try:
        with db.session.begin_nested():
            db.session.add(MrnLink(hospital_id=hospital.id, mrn=mrn, person_index=person_index))
    except IntegrityError:  # linked in parallel: fine if to the same person
        return index_for_mrn(hospital, mrn) == person_index
    return True


__all__ = ["ID_NUMBER_SYSTEM", "InvalidIdNumber", "index_for_id_number", "index_for_mrn", "link_mrn"]
