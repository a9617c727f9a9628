"""The evaluation's settings: what the daemon is asked to do in each (budget, scheduler mode,
memory cap) and what the robot sends (live or frozen camera). Used by the evaluation (`evaluate`,
`episodes`, `records`, `report`) and `plots`.

Names (`--settings` takes a comma-separated list of these, or the groups below):
  full               average_fraction 1.0: every step at full depth
  exit-K             only exit K answers: average_fraction 1.0 and `memory_mb` set between exit
                     K's resident bytes and exit K+1's, so that exactly K exits are loaded (every
                     reply then says exit K, reason `memory`; exit-E is the whole model, reason
                     `last`, which is what `full` measures too)
  avg-X-MODE         average_fraction X (e.g. 0.6, 0.4) with scheduler.mode MODE (online|fixed)
  avg-min-MODE       the lowest feasible average: exit 1's cost fraction × 1.05
  frozen-image       full depth, but every step sends the same camera frame: the reset frame of a
                     layout that is not evaluated (MT1(task, VAL_SEED) layout 0): does the policy
                     find the target in the image?
  frozen-first       full depth, every step sends the episode's own first frame: does the policy
                     use the image in closed loop, beyond the initial scene?
Groups: `default` (the issue's set, in the order run), `exits` (exit-1 … exit-(E-1)),
`budgets` (the six avg-* settings), `all` (default + frozen-first).

No deadline is set in any setting (`deadline_ms: null`): the evaluation measures what the
average budget trades, and a deadline on a loaded 2-core machine would add noise.
"""
from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence

from . import tasks as T

AVG_MIN_MARGIN = 1.05          # avg-min = exit 1's cost fraction × this
MEMORY_GAP_SHARE = 0.25        # exit-K cap: exit K's bytes + this share of the gap to exit K+1's
MIB = 1 << 20
BUDGET_LEVELS = ("0.6", "0.4", "min")
MODES = ("online", "fixed")
FROZEN_LAYOUT = (T.VAL_SEED, 0)  # (seed, layout index) of the frozen-image frame: never evaluated


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    kind: str                     # "full" | "exit" | "budget" | "frozen"
    mode: str = "fixed"           # scheduler.mode
    level: str | None = None      # budget level: "0.6", "0.4", "min" (kind "budget")
    exit: int | None = None       # forced exit (kind "exit")
    frozen: str | None = None     # "layout" (frozen-image) | "first" (frozen-first)

    def average_fraction(self, model: ModelInfo) -> float:
        if self.kind != "budget":
            return 1.0
        if self.level == "min":
            return model.min_fraction
        return float(self.level)

    def memory_mb(self, model: ModelInfo) -> float | None:
        if self.kind != "exit" or self.exit == model.exits:
            return None
        return model.memory_mb_for(self.exit)

    def daemon_config(self, model: ModelInfo) -> dict:
        """The `budget` and `scheduler` sections of the daemon's config for this setting."""
        return {"budget": {"average_fraction": round(self.average_fraction(model), 6),
                           "deadline_ms": None, "memory_mb": self.memory_mb(model)},
                "scheduler": {"mode": self.mode}}

    def describe(self, model: ModelInfo) -> str:
        if self.kind == "full":
            return "full depth (average_fraction 1.0)"
        if self.kind == "exit":
            mb = self.memory_mb(model)
            return (f"exit {self.exit} forced (memory_mb {mb} loads {self.exit} of {model.exits} exits)"
                    if mb is not None else f"exit {self.exit} = the whole model (no cap)")
        if self.kind == "budget":
            return f"average_fraction {self.average_fraction(model):.4f}, {self.mode} thresholds"
        if self.frozen == "layout":
            return (f"full depth, camera frozen to the reset frame of MT1(task, {FROZEN_LAYOUT[0]}) "
                    f"layout {FROZEN_LAYOUT[1]}")
        return "full depth, camera frozen to the episode's first frame"


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the evaluation needs from `reflexctl inspect MODEL --json`."""
    directory: str
    sha256: str
    name: str
    gflops: tuple[float, ...]          # per exit, 1 … E
    resident_bytes: tuple[int, ...]    # per exit
    observation: dict
    inputs: tuple
    calibration_samples: int = 0       # budget settings below full depth need calibration data
    chunk: int = 1                     # H: actions per reply (action.chunk)

    @property
    def exits(self) -> int:
        return len(self.gflops)

    @property
    def full_gflops(self) -> float:
        return self.gflops[-1]

    @property
    def fractions(self) -> tuple[float, ...]:
        return tuple(g / self.full_gflops for g in self.gflops)

    @property
    def min_fraction(self) -> float:
        return min(1.0, self.fractions[0] * AVG_MIN_MARGIN)

    def memory_mb_for(self, k: int) -> float:
        """A memory cap (MiB, rounded up to 1/1000) that loads exactly exits 1 … k."""
        lo = self.resident_bytes[k - 1]
        hi = self.resident_bytes[k]
        mb = math.ceil((lo + MEMORY_GAP_SHARE * (hi - lo)) / MIB * 1000) / 1000
        if not (lo <= mb * MIB < hi):
            raise ValueError(f"no memory cap separates exit {k} ({lo} B) from exit {k + 1} ({hi} B)")
        return mb

    @classmethod
    def from_inspect(cls, d: dict) -> ModelInfo:
        exits = sorted(d["exits"], key=lambda e: e["index"])
        return cls(directory=d.get("directory", ""), sha256=d["sha256"], name=d.get("name", ""),
                   gflops=tuple(float(e["gflops"]) for e in exits),
                   resident_bytes=tuple(int(e["resident_bytes"]) for e in exits),
                   observation=d.get("observation") or {}, inputs=tuple(
                       (i["name"], i["dtype"], tuple(i["shape"])) for i in d.get("inputs", [])),
                   calibration_samples=int(d.get("calibration_samples") or 0),
                   chunk=int((d.get("action") or {}).get("chunk", 1)))


def default_names(exits: int) -> list[str]:
    """The issue's settings, most important first (a run interrupted early has the key ones)."""
    return (["full", "avg-0.4-online", "exit-1", "frozen-image", "avg-0.4-fixed",
             "avg-0.6-online", "avg-0.6-fixed", "avg-min-online", "avg-min-fixed"]
            + [f"exit-{k}" for k in range(2, exits)])


def expand(spec: str | Sequence[str], exits: int) -> list[str]:
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for item in (s.strip() for s in items):
        if not item:
            continue
        if item == "default":
            names = default_names(exits)
        elif item == "all":
            names = default_names(exits) + ["frozen-first"]
        elif item == "exits":
            names = [f"exit-{k}" for k in range(1, exits)]
        elif item == "budgets":
            names = [f"avg-{lv}-{m}" for lv in BUDGET_LEVELS for m in MODES]
        else:
            names = [item]
        for n in names:
            if n not in out:
                out.append(n)
    return out


_AVG = re.compile(r"^avg-(min|0?\.\d+|1(?:\.0*)?)-(online|fixed)$")
_EXIT = re.compile(r"^exit-(\d+)$")


def parse(name: str, exits: int) -> Setting:
    if name == "full":
        return Setting(name, "full")
    if name == "frozen-image":
        return Setting(name, "frozen", frozen="layout")
    if name == "frozen-first":
        return Setting(name, "frozen", frozen="first")
    m = _EXIT.match(name)
    if m:
        k = int(m.group(1))
        if not 1 <= k <= exits:
            raise ValueError(f"setting {name!r}: the model has exits 1 … {exits}")
        return Setting(name, "exit", exit=k)
    m = _AVG.match(name)
    if m:
        level = m.group(1)
        if level != "min" and not 0 < float(level) <= 1:
            raise ValueError(f"setting {name!r}: the average fraction must be in (0, 1]")
        return Setting(name, "budget", mode=m.group(2), level=level)
    raise ValueError(f"unknown setting {name!r} (full, exit-K, avg-X-online|fixed, avg-min-online|fixed, "
                     f"frozen-image, frozen-first, or the groups default, exits, budgets, all)")
