"""The reliability runs (tools/reflex_reliability) at reduced sizes against the real daemon and
the fixture bundle: several robots at once and above what is served, killed clients, a reconnect
storm and silent robots, a soak, SIGHUP storms / budget changes / SIGTERM under load. The full
sizes are commands whose figures are in docs/RELIABILITY.md. Nothing here asserts a speed."""
import pytest

from reflex_reliability.faults import run_faults
from reflex_reliability.lifecycle import run_lifecycle
from reflex_reliability.load import run_load
from reflex_reliability.soak import run_soak

from .harness import FIXTURE, REFLEXD


@pytest.mark.parametrize("robots,hz", [(8, 10), (8, 200)])
def test_every_request_of_several_robots_is_answered(robots, hz):
    result = run_load(FIXTURE, robots, hz, seconds=3, reflexd=REFLEXD)
    assert result["failures"] == []
    assert result["unanswered"] == 0
    assert result["requests"] >= robots * hz * 3 * 0.5          # the robots really sent
    codes = result["codes"]
    assert set(codes) <= {"ok", "stale"}, codes                  # late ones are superseded, never lost
    assert codes.get("ok", 0) + codes.get("stale", 0) == result["requests"]
    assert result["served_steps"] == codes.get("ok", 0)          # the daemon ran exactly the answered ones
    assert result["daemon"]["exit_histogram"] == [0, 0, codes.get("ok", 0)]   # full depth: exit 3
    assert all(r["requests"] > 0 and r["codes"].get("ok", 0) > 0 for r in result["per_robot"])
    assert result["exit_status"] == 0


def test_killed_clients_reconnect_storm_and_silent_robots_leave_nothing_behind():
    result = run_faults(FIXTURE, killed=100, reconnects=200, reflexd=REFLEXD)
    assert result["phases"]["killed_clients.1"]["killed_by_sigkill"] == 100
    assert result["phases"]["silent.1"]["sessions_while_silent"] >= 2   # the monitor and the silent robot
    monitor = result["monitor"]
    assert monitor["failure"] is None and monitor["unanswered"] == 0
    assert set(monitor["codes"]) == {"ok"}, monitor["codes"]          # others' faults never touched it
    assert result["fd_growth"] == 0, result["fds_new"]
    assert result["thread_growth"] == 0
    assert result["sessions_final"] == 1                              # dead robots' sessions idled out
    assert result["daemon_alive"] and result["exit_status"] == 0


def test_soak_ten_thousand_steps_holds_memory_and_files():
    result = run_soak(FIXTURE, steps=10_000, robots=4, reflexd=REFLEXD)
    assert result["failures"] == [] and result["unanswered"] == 0
    assert result["requests"] == 10_000
    # 4 robots x 10 generations of ids x 250 requests, a reset at each generation's seq 100 and 200
    assert result["codes"] == {"ok": 9_920, "reset_ok": 80}
    assert result["fd_growth"] == 0 and result["thread_growth"] == 0
    assert result["rss_growth_pct"] < 1.0, result["samples"]
    assert result["sessions_final"] == 0                              # every generation idled out
    assert result["exit_status"] == 0


def test_sighup_storm_budget_changes_and_sigterm_under_load_lose_nothing():
    result = run_lifecycle(FIXTURE, robots=4, sighups=10, budget_changes=20, interval_s=0.02,
                           reflexd=REFLEXD)
    assert result["failures"] == [] and result["unanswered"] == 0
    phases = result["phases"]
    for name in ("warm_up", "sighup_storm", "budget_changes"):
        assert set(phases[name]["replies"]) == {"ok"}, (name, phases[name])
    assert 1 <= phases["sighup_storm"]["reloads_logged"] <= 10
    assert phases["budget_changes"]["acknowledged"] == 20
    assert set(phases["sigterm"]["replies"]) <= {"ok", "overloaded"}
    assert phases["sigterm"]["exit_status"] == 0
