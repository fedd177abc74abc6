"""The schema comes only from migrations/, and they match the models on this database."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from patient_api.extensions import db


def test_migrated_schema_matches_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_production_refuses_development_secrets(monkeypatch):
    from patient_api.config import ProdConfig
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="production refuses to start"):
        ProdConfig.check()
