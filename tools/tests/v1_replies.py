"""The replies a format 1 bundle (Tests/Fixtures/tiny) gets, recorded byte for byte (timings
zeroed): golden/tiny_v1_replies.json was written by the daemon before format 2 existed, and
test_daemon_v1_bytes.py checks that today's daemon still answers exactly the same bytes.

    REFLEXD_BIN=... python -m tests.v1_replies   # rewrites the file
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from .harness import FIXTURE, REFLEXD, Daemon, RawDealer, step_frames, stopped_cleanly

GOLDEN = Path(__file__).resolve().parent / "golden" / "tiny_v1_replies.json"
# Full depth, and the calibrated thresholds of half the full cost (several exits are taken).
SETTINGS = {"full": {"budget": {"average_fraction": 1.0}, "scheduler": {"mode": "fixed"}},
            "half": {"budget": {"average_fraction": 0.5}, "scheduler": {"mode": "fixed"}}}
TIMING = re.compile(rb'"timing_us":\{"queue":\d+,"infer":\d+,"total":\d+\}')


def record(binary: Path = REFLEXD) -> dict:
    """{setting: [[header text with zero timings, action bytes as hex], ...]} over 12 steps of one
    robot (a reset before step 6) and one step of a second robot."""
    out = {}
    for name, config in SETTINGS.items():
        daemon = Daemon({"model": str(FIXTURE), **config})
        daemon.binary = Path(binary).resolve()
        daemon.start()
        try:
            replies = []
            with RawDealer(daemon.policy) as dealer:
                for t in range(12):
                    if t == 6:
                        dealer.request([json.dumps({"v": 1, "type": "reset", "robot": "gold", "seq": 100}).encode()])
                    replies.append(dealer.request(step_frames("gold", t, seed=t)))
                replies.append(dealer.request(step_frames("gold-2", 1, seed=99, instruction="push the fridge")))
            out[name] = [[TIMING.sub(b'"timing_us":{"queue":0,"infer":0,"total":0}', r[0]).decode(), r[1].hex()]
                         for r in replies]
        finally:
            stopped_cleanly(daemon)
    return out


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(record(Path(sys.argv[1]) if len(sys.argv) > 1 else REFLEXD), indent=1) + "\n")
    print(GOLDEN)
