"""Errors of FHIR ingest, and the collector that gathers them by path before anything is stored."""
from ..errors import Conflict, Invalid


class InvalidFhir(Invalid):
    code, message = "invalid_fhir", "FHIR 数据不符合规范"


class InvalidIdNumber(Invalid):
    code, message = "invalid_id_number", "患者身份证号无效"


class UnknownSubject(Invalid):
    code, message = "unknown_subject", "无法确定资源所属的患者"


class MrnConflict(Conflict):
    code, message = "mrn_conflict", "病案号已关联到其他人"


class Problems:
    """Errors by path, collected over the whole bundle so the sender sees them all at once (up to a limit)."""

    LIMIT = 50

    def __init__(self):
        self.errors, self.error_class = {}, None

    @property
    def full(self):
        return len(self.errors) >= self.LIMIT

    def add(self, path, message, error_class=InvalidFhir):
        """Record one problem; the first problem decides the error code."""
        if self.full and path not in self.errors:
            return
        self.errors.setdefault(path or "$", []).append(message)
        self.error_class = self.error_class or error_class

    def raise_if_any(self):
        """Nothing is stored when anything was wrong."""
        if self.errors:
            raise self.error_class(errors=self.errors)
