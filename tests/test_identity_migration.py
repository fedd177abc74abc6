"""The identity migration moves today's links: every link stays usable for booking as `claimed`, and the phone a
resident typed moves from the patient to the link that typed it (it is no phone on file)."""
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from patient_api import create_app
from patient_api.common import crypto

BEFORE = "56768476a180"


def test_links_become_claimed_and_the_typed_phone_moves_to_the_first_link(tmp_path, redis_client):
    app = create_app({"ENV_NAME": "test", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.db'}",
                      "REDIS_CLIENT": redis_client,
                      "SECRET_KEY": "test-secret", "DATA_KEY": "test-data-key (generated for tests only)"})
    with app.app_context():
        upgrade(revision=BEFORE)
        engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
        phone = crypto.encrypt("13800138000")
        with engine.begin() as conn:
            for account in ("acc_a", "acc_b", "acc_c"):
                conn.execute(sa.text("INSERT INTO accounts (id, openid, created_at) VALUES (:id, :id, "
                                     "'2026-01-01 00:00:00')"), {"id": account})
            for pid, name in (("pat_typed", "张三"), ("pat_kiosk", "李四")):
                conn.execute(sa.text(
                    "INSERT INTO patients (id, name, id_number_enc, id_number_index, phone_enc, gender, birth_date, "
                    "region_code, created_at) VALUES (:id, :name, 'x', :id, :phone, 'male', '1986-01-01', '370902', "
                    "'2026-01-01 00:00:00')"), {"id": pid, "name": name, "phone": phone})
            for link, account, at in (("lnk_1", "acc_a", "2026-01-01 00:00:00"), ("lnk_2", "acc_b", "2026-02-01 "
                                                                                                    "00:00:00")):
                conn.execute(sa.text("INSERT INTO patient_links (id, account_id, patient_id, relation, created_at) "
                                     "VALUES (:id, :acc, 'pat_typed', 'self', :at)"), {"id": link, "acc": account,
                                                                                       "at": at})
        upgrade()
        with engine.begin() as conn:
            links = conn.execute(sa.text("SELECT id, status, claimed_name, phone_enc FROM patient_links "
                                         "ORDER BY id")).all()
            sources = dict(conn.execute(sa.text("SELECT id, name_source FROM patients")).all())
            columns = {c["name"] for c in sa.inspect(conn).get_columns("patients")}
        assert [(row[0], row[1], row[2]) for row in links] == [("lnk_1", "claimed", "张三"),
                                                                ("lnk_2", "claimed", "张三")]
        assert crypto.decrypt(links[0][3]) == "13800138000" and links[1][3] is None
        assert sources == {"pat_typed": "claim", "pat_kiosk": "card"} and "phone_enc" not in columns
        downgrade(revision=BEFORE)  # and back, cleanly
        upgrade()
