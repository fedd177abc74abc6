"""The family-doctor migration makes the pushed contracts table the one table: contracts already past their end are
expired, of several still active for one person only the latest-starting stays active (the unique index could not be
built otherwise), registered patients are linked; and it goes back down cleanly."""
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from patient_api import create_app

BEFORE = "d7a3c5e9b2f4"
ROWS = [  # (id, person, contract_no, starts_on, ends_on, status)
    ("fdc_old", "p1", "A-1", "2020-01-01", "2021-01-01", "active"),  # past its end
    ("fdc_early", "p2", "B-1", "2026-01-01", "2099-01-01", "active"),  # superseded by B-2
    ("fdc_late", "p2", "B-2", "2026-06-01", "2099-01-01", "active"),
    ("fdc_ended", "p2", "B-0", "2025-01-01", "2025-12-31", "ended"),
    ("fdc_alone", "p3", "C-1", "2026-01-01", "2099-01-01", "active"),
]


def test_existing_contracts_fit_the_one_active_rule(tmp_path, redis_client):
    app = create_app({"ENV_NAME": "test", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'f.db'}",
                      "REDIS_CLIENT": redis_client,
                      "SECRET_KEY": "test-secret", "DATA_KEY": "test-data-key (generated for tests only)"})
    with app.app_context():
        upgrade(revision=BEFORE)
        engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO hospitals (id, code, name, level, release_days_ahead, release_time, "
                                 "cancel_deadline_time) VALUES ('hsp_1', 'CHC', '社区卫生服务中心', '一级', 7, "
                                 "'07:00:00', '15:00:00')"))
            conn.execute(sa.text(
                "INSERT INTO patients (id, name, id_number_enc, id_number_index, name_source, gender, birth_date, "
                "region_code, created_at) VALUES ('pat_3', '王三', 'x', 'p3', 'claim', 'male', '1950-01-01', "
                "'370911', '2026-01-01 00:00:00')"))
            for row in ROWS:
                conn.execute(sa.text(
                    "INSERT INTO family_doctor_contracts (id, person_index, hospital_id, contract_no, team, doctor, "
                    "starts_on, ends_on, status, updated_at) VALUES (:id, :person, 'hsp_1', :no, '一团队', '王医生', "
                    ":starts, :ends, :status, '2026-01-01 00:00:00')"),
                    dict(zip(("id", "person", "no", "starts", "ends", "status"), row, strict=True)))
        upgrade()
        with engine.begin() as conn:
            after = {row[0]: tuple(row[1:]) for row in conn.execute(sa.text(
                "SELECT id, status, source, patient_id FROM family_doctor_contracts")).all()}
        assert after == {"fdc_old": ("expired", "push", None), "fdc_early": ("ended", "push", None),
                         "fdc_late": ("active", "push", None), "fdc_ended": ("ended", "push", None),
                         "fdc_alone": ("active", "push", "pat_3")}
        downgrade(revision=BEFORE)  # and back, cleanly
        upgrade()
