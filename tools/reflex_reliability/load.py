"""Several robots at once: R paced robots at H Hz each for S seconds against one daemon (robot i
ticks i/R of a period after robot 0, as independent robots would). Reports
per robot and overall: requests, actions, `stale`/`overloaded`/other errors, unanswered, late
actions (later than one period) and latency percentiles (client round trip), the rate served,
and the daemon's own counters."""
from __future__ import annotations

import time
from pathlib import Path

from . import common as C
from .robots import PacedRobot, percentiles_ms, totals


def run_load(model: Path, robots: int, hz: float, seconds: float, config: dict | None = None,
             reflexd: Path | None = None, label: str = "load") -> dict:
    daemon, pong = C.start_daemon(model, config, reflexd)
    try:
        instruction = C.first_instruction(model)
        fleet = [PacedRobot(daemon.policy, f"{label}-{i}", instruction, pong["inputs"], seed=i, hz=hz,
                            phase=i / robots) for i in range(robots)]
        C.log(f"{label}: {robots} robots x {hz:g} Hz for {seconds:g} s on {Path(model).name} "
              f"({daemon.config['budget']})")
        before = C.stats(daemon)
        t0 = time.monotonic()
        for r in fleet:
            r.start()
        time.sleep(seconds)
        for r in fleet:
            r.stop()
        for r in fleet:
            r.join()
        wall = time.monotonic() - t0
        after = C.stats(daemon)
        reports = [r.report() for r in fleet]
        all_latencies = [x for r in fleet for x in r.latencies]
        total = totals(reports)
        served = after["steps"] - before["steps"]
        out = {"label": label, "model": Path(model).name, "robots": robots, "hz": hz,
               "seconds": seconds, "offered_per_s": round(robots * hz, 1),
               "served_steps": served, "served_per_s": round(served / wall, 1),
               "budget": daemon.config["budget"], "scheduler": daemon.config["scheduler"],
               **total, "latency_ms": percentiles_ms(all_latencies),
               "daemon": {"latency_us": after.get("latency_us"), "deadline_misses": after.get("deadline_misses"),
                          "errors": after.get("errors"), "exit_histogram": after.get("exit_histogram"),
                          "mean_fraction": after.get("mean_fraction")},
               "per_robot": reports, "machine": C.machine(), "exit_status": daemon.stop()}
        C.log(f"{label}: {total['requests']} requests, codes {total['codes']}, unanswered "
              f"{total['unanswered']}, late {total['late']}, latency ms {out['latency_ms']}, "
              f"served {out['served_per_s']}/s")
        return out
    finally:
        daemon.cleanup()
