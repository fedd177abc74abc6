"""HIS reverses a charge line (冲销/退费) with a negative line naming it: idempotent, bounded, reflected in totals."""
from datetime import timedelta

import pytest

from patient_api.common.clock import today_local

from .inpatient import Hospital, line

STAFF = "/api/v1/staff/admissions"
DRUG = 2 * 1550  # G-1: two capsules at 15.50 元


@pytest.fixture
def stay(app, client, make):
    """An admitted patient with yesterday's drug line G-1 and bed line G-2."""
    h = Hospital(app, client, make)
    family, _, person = h.resident()
    admission = h.admit(person)
    yesterday = today_local() - timedelta(days=1)
    h.charges(admission["admission_no"], [line("G-1", yesterday),
                                          line("G-2", yesterday, "CW001", "床位费", "床位费", 1, 4500)])
    h.family, h.admission, h.no = family, admission, admission["admission_no"]
    return h


def reversal(source_id, reverses, quantity=-1, **changes):
    """A reversal of G-1's item booked today."""
    return {**line(source_id, today_local(), quantity=quantity), "reverses_source_id": reverses, **changes}


def total(stay):
    return stay.client.get("/api/v1/admissions", headers=stay.family).json["items"][0]["charges_total_fen"]


def test_a_line_is_reversed_in_parts_never_beyond_what_was_charged(stay):
    first = stay.charges(stay.no, [reversal("R-1", "G-1")]).json
    assert (first["accepted"], first["charges_total_fen"]) == (1, DRUG + 4500 - 1550)
    again = stay.charges(stay.no, [reversal("R-1", "G-1")]).json  # HIS re-sends: nothing changes
    assert (again["accepted"], again["duplicates"], again["charges_total_fen"]) == (0, 1, first["charges_total_fen"])
    too_much = stay.charges(stay.no, [reversal("R-2", "G-1", quantity=-2)], expect=422).json
    assert too_much["code"] == "reversal_exceeds_charge" and "冲销数量" in too_much["message"]
    assert too_much["errors"] == {"items": {"0": {"quantity": ["超过原费用未冲销的数量"]}}}
    # Two reversals in one push count together.
    both = stay.charges(stay.no, [reversal("R-2", "G-1"), reversal("R-3", "G-1")], expect=422).json
    assert both["code"] == "reversal_exceeds_charge" and list(both["errors"]["items"]) == ["1"]
    assert stay.charges(stay.no, [reversal("R-2", "G-1")]).json["charges_total_fen"] == 4500
    assert total(stay) == 4500
    changed = stay.charges(stay.no, [reversal("R-1", "G-1", quantity=-2)], expect=409).json
    assert changed["code"] == "source_id_conflict"


@pytest.mark.parametrize("bad, code", [
    (reversal("R-9", "NOPE"), "reversed_charge_not_found"),
    (reversal("R-9", "G-1", unit_price_fen=1600), "reversal_mismatch"),
    (reversal("R-9", "G-1", code="YP002"), "reversal_mismatch"),
    (reversal("R-9", "G-2"), "reversal_mismatch"),  # the bed line is another item
])
def test_a_reversal_must_name_a_charged_line_of_the_same_item(stay, bad, code):
    refused = stay.charges(stay.no, [line("OK-1", today_local()), bad], expect=422).json
    assert refused["code"] == code and "1" in refused["errors"]["items"]
    assert total(stay) == DRUG + 4500  # the good line of the push was not stored either


@pytest.mark.parametrize("bad", [
    {**line("N-1", today_local()), "quantity": -1},  # negative without naming a line
    reversal("N-1", "G-1", quantity=1),  # naming a line but adding
    reversal("N-1", "N-1"),  # itself
    reversal("N-1", "G-1", quantity=0),
])
def test_signs_are_checked_before_anything_else(stay, bad):
    assert stay.charges(stay.no, [bad], expect=422).json["code"] == "validation_error"


def test_a_reversal_is_not_reversed_and_same_push_originals_count(stay):
    stay.charges(stay.no, [reversal("R-1", "G-1")])
    assert stay.charges(stay.no, [reversal("R-2", "R-1")], expect=422).json["code"] == "reversed_charge_not_found"
    same_push = [line("N-1", today_local(), quantity=3), reversal("N-R", "N-1", quantity=-3)]
    assert stay.charges(stay.no, same_push).json["accepted"] == 2
    assert total(stay) == DRUG + 4500 - 1550


def test_the_daily_list_and_the_settlement_show_the_net(stay):
    stay.charges(stay.no, [reversal("R-1", "G-1"), reversal("R-2", "G-1")])  # G-1 wholly reversed today
    admission_id = stay.admission["id"]
    today = stay.client.get(f"/api/v1/admissions/{admission_id}/daily-charges?date={today_local()}",
                            headers=stay.family).json
    assert today["total_fen"] == -DRUG
    [drugs] = today["categories"]
    assert drugs["total_fen"] == -DRUG and [(i["quantity"], i["amount_fen"], i["reverses_source_id"])
                                            for i in drugs["items"]] == [(-1, -1550, "G-1"), (-1, -1550, "G-1")]
    assert [d["total_fen"] for d in today["days"]] == [DRUG + 4500, -DRUG]

    nurse = stay.staff(wards="W1")
    stay.paid_deposit(stay.family, admission_id, 100_000)
    stay.signal(stay.no, "discharge-order")
    stay.signal(stay.no, "orders-complete")
    assert stay.client.post(f"{STAFF}/{admission_id}/discharge-review", headers=nurse).status_code == 200
    preview = stay.client.post(f"{STAFF}/{admission_id}/pre-settlement", headers=nurse).json
    assert preview["total_fen"] == 4500
    settled = stay.client.post(f"{STAFF}/{admission_id}/settle", headers=nurse).json
    assert settled["status"] == "settled" and [i["name"] for i in settled["invoice"]["items"]] == ["床位费"]

    late = stay.charges(stay.no, [reversal("R-3", "G-2")], expect=409).json
    assert late["code"] == "admission_closed" and "已结算" in late["message"]
