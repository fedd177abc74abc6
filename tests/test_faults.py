"""Faults on purpose, short version of bench/faults.py: its own PostgreSQL, Redis, gunicorn and RQ worker; one
gunicorn worker and the RQ worker SIGKILLed, Redis down, PostgreSQL restarted, during a booking rush and a
notification storm. Missing PostgreSQL or Redis binaries fail this test: they are what it is about."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import faults  # noqa: E402

# Small numbers (about a minute on a loaded 2-core machine); the faults themselves are full size.
SHORT = faults.Options(residents=8, capacity=4, abandon=0.375, phase_seconds=15, storm_rate=20, storm_threads=2,
                       redis_down_seconds=10, pay_wait_seconds=45, settle_seconds=45, demo_days=1, timeout=300)


def test_every_fault_recovers_and_no_invariant_breaks(capsys):
    result = faults.run(SHORT, log=lambda *_: None)
    faults.report(result)
    figures = capsys.readouterr().out
    assert [p["name"] for p in result["phases"]] == list(faults.PHASES), figures
    for phase in result["phases"]:
        assert phase["recovery_ms"] is not None, f"{phase['name']} never answered /readyz again\n{figures}"
        assert phase["pay_ms"] is not None, f"no payment settled after {phase['name']}\n{figures}"
        assert phase["invariants"] == dict.fromkeys(faults.INV.NAMES, 0), f"{phase['name']}\n{figures}"
    assert result["probe_invariants"] == dict.fromkeys(faults.INV.NAMES, 0), figures
    assert result["phases"][1]["extra"]["respawn_ms"] is not None, figures
    assert result["phases"][2]["extra"]["orphans"] == 0, figures
    assert result["holds_lapsed"] > 0, figures  # the sweeper had holds to free
    assert result["survivors"] == [], figures
    assert result["pass"], figures
