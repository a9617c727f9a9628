"""Soak: N steps from R closed-loop robots, with a reset every 100 requests and every robot
taking a new id every 2,000 requests (or every tenth of its share in a short run), so that
sessions are made and idled out all along. The daemon's resident
memory and open files are sampled at every 5% of the run; growth is measured from the end of the
warm-up (the first 10%) to the end. Every request must be answered."""
from __future__ import annotations

import time
from pathlib import Path

from . import common as C
from .robots import ClosedLoopRobot, percentiles_ms, totals

RESET_EVERY = 100
RENAME_EVERY = 2_000
WARMUP_SHARE = 0.10
SAMPLES = 20
SETTLE_S = 0.2


def run_soak(model: Path, steps: int, robots: int = 4, reflexd: Path | None = None,
             config: dict | None = None) -> dict:
    cfg = C.merged({"limits": {"session_idle_s": 1}}, config)
    daemon, pong = C.start_daemon(model, cfg, reflexd)
    try:
        instruction = C.first_instruction(model)
        per_robot = max(1, steps // robots)
        chunk = max(1, min(RENAME_EVERY, per_robot // 10))     # at least 10 generations of ids
        total_steps = robots * per_robot
        done_reports: list[dict] = []
        samples: list[dict] = []
        warm: dict | None = None
        done = next_sample = generation = 0
        t0 = time.monotonic()
        latencies: list[float] = []
        C.log(f"soak: {total_steps} steps, {robots} closed-loop robots, new ids every {chunk} "
              f"requests, reset every {RESET_EVERY}, on {Path(model).name}")
        while done < total_steps:
            n = min(chunk, max(1, (total_steps - done) // robots))
            fleet = [ClosedLoopRobot(daemon.policy, f"soak-{i}-g{generation}", instruction, pong["inputs"],
                                     seed=i, steps=n, reset_every=RESET_EVERY) for i in range(robots)]
            for r in fleet:
                r.start()
            for r in fleet:
                r.join()
            generation += 1
            done_reports += [r.report() for r in fleet]
            latencies += [x for r in fleet for x in r.latencies]
            done += sum(r.requests for r in fleet)
            warm_now = warm is None and done >= WARMUP_SHARE * total_steps
            if warm_now or done >= next_sample:
                time.sleep(SETTLE_S)           # the closed sockets' connections are gone
                held = {"requests": done, **C.holdings(daemon)}
                if warm_now:
                    warm = held
                if done >= next_sample:
                    samples.append({**held, "seconds": round(time.monotonic() - t0, 1)})
                    next_sample = done + total_steps // SAMPLES
                    C.log(f"soak: {done} requests, {samples[-1]}")
        time.sleep(2.5)                        # the last generation's sessions idle out
        final = {"requests": done, **C.holdings(daemon)}
        st = C.stats(daemon)
        total = totals(done_reports)
        wall = time.monotonic() - t0
        warm = warm or samples[0]
        rss_peak = max(s["rss_kib"] for s in samples + [final] if s["requests"] >= warm["requests"])
        out = {"model": Path(model).name, "robots": robots, **total, "seconds": round(wall, 1),
               "requests_per_s": round(total["requests"] / wall, 1),
               "latency_ms": percentiles_ms(latencies), "warm": warm, "final": final,
               **C.growth(warm, final), "rss_peak_growth_pct": C.pct(warm["rss_kib"], rss_peak),
               "sessions_final": st["sessions"], "daemon_steps": st["steps"], "daemon_errors": st.get("errors"),
               "samples": samples, "machine": C.machine()}
        out["exit_status"] = daemon.stop()
        C.log(f"soak: {total['requests']} requests in {wall:.0f} s, unanswered {total['unanswered']}, RSS "
              f"{warm['rss_kib']} -> {final['rss_kib']} KiB ({out['rss_growth_pct']}%), fds "
              f"{warm['fds']} -> {final['fds']}")
        return out
    finally:
        daemon.cleanup()
