"""Signals and live changes under load: R closed-loop robots step while the daemon gets a storm
of SIGHUPs (reloads), then a stream of budget changes on the control socket, then SIGTERM. The
robots stop sending the moment SIGTERM is sent; every request they sent must still be answered
(an action, or an error such as `overloaded` "the daemon is stopping"), and the daemon must exit 0.
Replies are counted per phase."""
from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

from reflex_client import ControlClient

from . import common as C
from .robots import ClosedLoopRobot, totals

BUDGETS = ({"average_fraction": 0.5}, {"average_fraction": 1.0, "deadline_ms": 40},
           {"average_fraction": 0.7, "deadline_ms": None})


def run_lifecycle(model: Path, robots: int, sighups: int, budget_changes: int,
                  interval_s: float = 0.05, reflexd: Path | None = None, config: dict | None = None) -> dict:
    cfg = C.merged({"scheduler": {"mode": "online"}, "logging": {"level": "info"}}, config)
    daemon, pong = C.start_daemon(model, cfg, reflexd)
    try:
        instruction = C.first_instruction(model)
        fleet = [ClosedLoopRobot(daemon.policy, f"life-{i}", instruction, pong["inputs"], seed=i,
                                 timeout_s=30.0, drain_s=30.0) for i in range(robots)]
        for r in fleet:
            r.start()
        phases = {}
        def snapshot() -> Counter:
            c = Counter()
            for r in fleet:
                c.update(r.codes)
            return c
        def phase(name: str, action) -> None:
            before, t0 = snapshot(), time.monotonic()
            result = action() or {}
            result["seconds"] = round(time.monotonic() - t0, 2)
            result["replies"] = dict(snapshot() - before)
            phases[name] = result
            C.log(f"lifecycle: {name}: {result}")

        phase("warm_up", lambda: time.sleep(1.0))

        def hup_storm() -> dict:
            # Every other file changes the scheduler, so that the reload rebuilds the model too.
            for k in range(sighups):
                daemon.write_config({**daemon.config, "scheduler": {**daemon.config["scheduler"],
                                                                   "probe_rate": 0.02 + 0.01 * (k % 2)}})
                daemon.send_signal(signal.SIGHUP)
                time.sleep(interval_s)
            time.sleep(0.5)
            return {"sighups": sighups, "reloads_logged": daemon.log().count("config reloaded")}
        phase("sighup_storm", hup_storm)

        def budget_stream() -> dict:
            answered = 0
            with ControlClient(daemon.control, timeout_ms=10_000) as control:
                for k in range(budget_changes):
                    reply = control.budget(**BUDGETS[k % len(BUDGETS)])
                    answered += "budget" in reply
                    time.sleep(interval_s)
            return {"budget_changes": budget_changes, "acknowledged": answered}
        phase("budget_changes", budget_stream)

        def terminate() -> dict:
            for r in fleet:
                r.stop()
            daemon.send_signal(signal.SIGTERM)
            t0 = time.monotonic()
            for r in fleet:
                r.join()
            rc = daemon.stop(timeout_s=30.0)
            return {"exit_status": rc, "stop_seconds": round(time.monotonic() - t0, 2)}
        phase("sigterm", terminate)

        reports = [r.report() for r in fleet]
        out = {"model": Path(model).name, "robots": robots, **totals(reports), "phases": phases,
               "per_robot": reports, "machine": C.machine()}
        C.log(f"lifecycle: {out['requests']} requests, unanswered {out['unanswered']}, codes {out['codes']}")
        return out
    finally:
        daemon.cleanup()
