"""The closed-loop delay experiment: action chunks executed on the robot side while inference is
late, in Meta-World, every step through a real reflexd over ZeroMQ.

    python -m reflex_metaworld.delay --model models/chunked --episodes 10 \\
        --records docs/results/delay/records.jsonl
    python -m reflex_metaworld.delay --report docs/results/delay/records.jsonl --out docs/results/delay

Time is counted in control periods (one Meta-World step, 12.5 ms). Inference latency is
simulated: the reply to a request sent at period t (with the observation of period t) reaches the
robot at period t + d, and in between the simulator keeps stepping with whatever the robot-side
executor hands out. The daemon itself answers at once; a ZeroMQ proxy in this process (a ROUTER
facing the robot, a DEALER facing reflexd) holds each reply back until its period.

Modes (the chunked bundle says, in `observation.request_every_periods`, S: how often it was trained
to be asked):
- `sync`: the robot asks, holds still (hold action) for the d periods the reply takes, then
  executes the first S actions of the chunk, and asks again. d = 0 is inference that takes no time:
  the reference every mode is compared with.
- `async`: `reflex_client.ChunkedPolicy` with refill_at = H − S (a new chunk every S periods),
  no compensation: a late chunk runs from its first action (`skip_stale=False`), the new chunk
  replaces what remains of the old one.
- `async-skip-blend`: the same executor with its defaults: a chunk d periods late skips its first d
  actions, and the overlap with the previous chunk is blended (ACT's temporal ensembling, weight
  0.5).
The asynchronous modes need d ≥ 1 (a reply cannot arrive before the period its request was sent
in ends); at d = 0 every mode is the synchronous loop.

`--setting` runs the daemon under one of the closed-loop evaluation's settings other than the
frozen ones (eval_settings.py: `full` by default, `exit-K`, `avg-0.4-online`, …), so the chunked
model's depth/compute trade-off can be measured with the same executor.

Held periods: periods in which the robot had no planned action (sync: its waits; async: the
executor's starvations). Records (JSON lines, one per episode) are appended and resumed from.
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import zmq

from reflex_client import ChunkedPolicy, ReflexClient

from . import episodes as EP
from . import eval_settings as S
from . import records as RC
from . import render as R
from . import tasks as T

MODES = ("sync", "async", "async-skip-blend")
DEFAULT_DELAYS = (0, 1, 2, 4)
BLEND_WEIGHT = 0.5
REPLY_TIMEOUT_MS = 30_000
DELIVERY_TIMEOUT_MS = 5_000


class Observation(Mapping):
    """The robot's observation of one period, rendered only if a request sends it (an executor
    asks every S periods: the other periods' frames would be thrown away)."""

    def __init__(self, scene: ChunkScene, obs: np.ndarray):
        self._scene, self._obs, self._values = scene, obs, None

    def _render(self) -> dict:
        if self._values is None:
            self._values = self._scene.observe(self._obs)
        return self._values

    def __getitem__(self, key):
        return self._render()[key]

    def __iter__(self):
        return iter(self._render())

    def __len__(self):
        return len(self._render())


class ChunkScene(EP.TaskScene):
    """The evaluation's TaskScene (environment, `image` camera, evaluation layouts) with every
    further camera the bundle names (`observation.cameras`), and the episode's period limit."""

    def __init__(self, task: str, model: S.ModelInfo, max_periods: int | None = None):
        cameras = model.observation.get("cameras") or {"image": R.image_render(model.observation)}
        super().__init__(task, cameras["image"]["image_size"], cameras["image"]["camera"],
                         cameras["image"].get("fovy"))
        self.max_periods = self.spec.max_steps if max_periods is None else min(max_periods, self.spec.max_steps)
        self.extra_cameras = {name: R.Camera.from_settings(self.env, c)
                              for name, c in cameras.items() if name != "image"}

    def observe(self, obs: np.ndarray) -> dict:
        """Every input of the model for the observation `obs`: each camera's frame, and `state`."""
        out = {"image": self.camera.render(), **{name: cam.render() for name, cam in self.extra_cameras.items()}}
        out["state"] = T.state_of(obs)
        return out

    def close(self) -> None:
        for cam in self.extra_cameras.values():
            cam.close()
        super().close()


class DelayProxy:
    """Between the robot's executor and reflexd: forwards each request at once, holds its reply
    until the period it is due (period sent + d), then hands it to the executor's socket."""

    _ids = itertools.count()

    def __init__(self, context: zmq.Context, daemon_endpoint: str):
        self.endpoint = f"inproc://delay-proxy-{next(self._ids)}"
        self.front = context.socket(zmq.ROUTER)
        self.front.linger = 0
        self.front.bind(self.endpoint)
        self.back = context.socket(zmq.DEALER)
        self.back.linger = 0
        self.back.connect(daemon_endpoint)
        self.pending: list[tuple[int, list[bytes]]] = []   # (due period, [routing id, reply frames…])
        self.infos: list[dict] = []                         # headers of the replies forwarded

    def forward(self, due: int) -> None:
        """Takes the executor's request (it must have sent one), asks reflexd, keeps the reply for `due`."""
        if not self.front.poll(DELIVERY_TIMEOUT_MS, zmq.POLLIN):
            raise RuntimeError("the executor sent no request")
        routing_id, *request = self.front.recv_multipart()
        self.back.send_multipart(request)
        if not self.back.poll(REPLY_TIMEOUT_MS, zmq.POLLIN):
            raise RuntimeError("reflexd did not answer")
        reply = self.back.recv_multipart()
        self.infos.append(json.loads(reply[0]))
        self.pending.append((due, [routing_id, *reply]))

    def deliver(self, period: int, policy: ChunkedPolicy) -> None:
        """Hands the executor every reply due by `period` and waits until it can read them."""
        due = [p for p in self.pending if p[0] <= period]
        self.pending = [p for p in self.pending if p[0] > period]
        for _, frames in due:
            self.front.send_multipart(frames)
        if due and not policy.reply_ready(DELIVERY_TIMEOUT_MS):
            raise RuntimeError("a delivered reply did not reach the executor")

    def close(self) -> None:
        self.front.close(linger=0)
        self.back.close(linger=0)


def hold_action(last: np.ndarray | None) -> np.ndarray:
    """No motion; the gripper keeps its last command (a held object stays held)."""
    out = np.zeros(T.ACTION_DIM, np.float32)
    if last is not None:
        out[-1] = last[-1]
    return out


def _summary(infos: list[dict], model: S.ModelInfo) -> dict:
    exits = [int(i["exit"]) for i in infos if i.get("type") == "action"]
    gflops = [float(i["gflops"]) for i in infos if i.get("type") == "action"]
    return {"requests": len(infos), "mean_exit": round(float(np.mean(exits)), 4) if exits else None,
            "mean_fraction": round(float(np.mean(gflops)) / model.full_gflops, 6) if gflops else None}


def run_sync(scene: ChunkScene, client: ReflexClient, robot: str, episode: int, delay: int,
             every: int, model: S.ModelInfo) -> dict:
    """The synchronous loop: ask, hold for `delay` periods, execute the chunk's first `every` actions."""
    obs = scene.reset(episode)
    client.reset(robot)
    period, held, last, infos = 0, 0, None, []
    first_success, truncated = None, False
    while period < scene.max_periods and first_success is None and not truncated:
        chunk, info = client.step(robot, scene.spec.instruction, tensors=scene.observe(obs))
        infos.append(info)
        chunk = chunk.reshape(-1, T.ACTION_DIM)
        plan = [hold_action(last)] * delay + list(chunk[:every])
        for i, action in enumerate(plan):
            obs, _r, _term, trunc, env_info = scene.env.step(action)
            period += 1
            held += i < delay
            last = action if i >= delay else last
            if env_info.get("success"):
                first_success = period
            truncated = bool(trunc)
            if first_success is not None or truncated or period >= scene.max_periods:
                break
    return {"success": first_success is not None, "first_success": first_success, "periods": period,
            "held": held, "chunks": len(infos), "expired": 0, **_summary(infos, model)}


def run_async(scene: ChunkScene, context: zmq.Context, daemon_endpoint: str, client: ReflexClient,
              robot: str, episode: int, delay: int, every: int, chunk: int, compensate: bool,
              model: S.ModelInfo) -> dict:
    """ChunkedPolicy in the loop, replies delivered `delay` periods late by a DelayProxy."""
    if delay < 1:
        raise ValueError("the asynchronous executor needs a delay of at least one period")
    obs = scene.reset(episode)
    client.reset(robot)
    proxy = DelayProxy(context, daemon_endpoint)
    clock_period = [0]
    policy = ChunkedPolicy(proxy.endpoint, robot, scene.spec.instruction, hold_action(None),
                           refill_at=chunk - every, overlap="blend" if compensate else "replace",
                           blend_weight=BLEND_WEIGHT, skip_stale=compensate, timeout_s=1e9,
                           clock=lambda: float(clock_period[0]), context=context)
    first_success, period = None, 0
    try:
        while period < scene.max_periods:
            clock_period[0] = period
            proxy.deliver(period, policy)
            sent = policy.requests
            step = policy.act(Observation(scene, obs))
            if step.errors:
                raise RuntimeError(f"{robot}: {step.errors}")
            if policy.requests > sent:
                proxy.forward(period + delay)
            obs, _r, _term, trunc, env_info = scene.env.step(step.action)
            period += 1
            if not step.held:
                policy.hold_action = hold_action(step.action)
            if env_info.get("success"):
                first_success = period
                break
            if trunc:
                break
        return {"success": first_success is not None, "first_success": first_success, "periods": period,
                "held": policy.starvations, "chunks": policy.chunks, "expired": policy.expired_chunks,
                **_summary(proxy.infos, model)}
    finally:
        policy.close()
        proxy.close()


def record_key(r: dict) -> tuple:
    return (r.get("setting", "full"), r["task"], r["mode"], int(r["delay"]), int(r["episode"]))


def load_records(paths: list[Path]) -> list[dict]:
    return [r for p in paths for r in RC.read_records(p)]


def run(args) -> int:
    reflexd = EP.default_binary("REFLEXD_BIN", "reflexd")
    reflexctl = EP.default_binary("REFLEXCTL_BIN", "reflexctl")
    model = EP.inspect_model(reflexctl, args.model)
    every = int(model.observation.get("request_every_periods", 1))
    chunk = model.chunk
    if chunk < 2:
        raise SystemExit(f"{args.model}: action.chunk is {chunk}; the delay experiment needs a chunked bundle")
    if not 1 <= every < chunk:
        raise SystemExit(f"{args.model}: observation.request_every_periods {every} must be in 1 … H − 1")
    tasks = [t for t in args.tasks.split(",") if t]
    delays = [int(d) for d in args.delays.split(",")]
    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in MODES:
            raise SystemExit(f"--modes: unknown mode {m!r} (one of {', '.join(MODES)})")
    done = {record_key(r) for r in load_records([args.records])}
    setting = S.parse(args.setting, model.exits)
    if setting.kind == "frozen":
        raise SystemExit("--setting: the frozen-image settings are not supported by the delay experiment")
    if setting.kind == "budget" and model.calibration_samples == 0:
        raise SystemExit(f"--setting {args.setting}: the bundle has no calibration data")
    cfg = setting.daemon_config(model)
    context = zmq.Context()
    t0 = time.time()
    with EP.Daemon(reflexd, args.model, cfg["budget"], cfg["scheduler"]) as daemon, \
            contextlib.ExitStack() as stack:
        stack.callback(context.destroy, linger=0)
        pong = daemon.start()
        client = ReflexClient(daemon.policy, timeout_ms=REPLY_TIMEOUT_MS, context=context)
        print(f"[delay] model {pong.get('model')} chunk H = {chunk}, asked every S = {every} periods; "
              f"tasks {len(tasks)}, delays {delays}, modes {modes}, {args.episodes} episodes each", flush=True)
        for task in tasks:
            scene = ChunkScene(task, model, args.max_periods)
            try:
                for delay, mode, e in itertools.product(delays, modes, range(args.episodes)):
                    if delay == 0 and mode != "sync":
                        continue       # d = 0: every mode is the synchronous loop
                    key = (setting.name, task, mode, delay, e)
                    if key in done:
                        continue
                    robot = f"delay-{setting.name}-{task}-{mode}-{delay}"
                    t_e = time.time()
                    if mode == "sync":
                        r = run_sync(scene, client, robot, e, delay, every, model)
                    else:
                        r = run_async(scene, context, daemon.policy, client, robot, e, delay, every, chunk,
                                      mode == "async-skip-blend", model)
                    r = {"setting": setting.name, "task": task, "mode": mode, "delay": delay, "episode": e,
                         "layout_index": scene.layout_index(e), "chunk": chunk, "every": every,
                         "model_sha256": model.sha256, **r, "wall_s": round(time.time() - t_e, 3)}
                    RC.append_record(args.records, r)
            finally:
                scene.close()
            print(f"[delay {time.strftime('%H:%M:%S')}] {task} done ({time.time() - t0:.0f}s)", flush=True)
        client.close()
    return 0


# --------------------------------------------------------------------------- the report

def counts_for(r: dict) -> tuple[str, ...]:
    """The modes a record stands for: a d = 0 record is the synchronous loop every mode shares."""
    return MODES if int(r["delay"]) == 0 else (r["mode"],)


def table(records: list[dict]) -> list[dict]:
    """One row per (setting, mode, delay): episodes, success rate, mean periods to success
    (successes only), held periods per episode, expired chunks, mean exit and mean compute
    fraction; d = 0 rows are the synchronous loop, shared by every mode."""
    rows = []
    settings = list(dict.fromkeys(r.get("setting", "full") for r in records))
    delays = sorted({int(r["delay"]) for r in records})
    for setting, mode, d in itertools.product(settings, MODES, delays):
        sel = [r for r in records if r.get("setting", "full") == setting and int(r["delay"]) == d
               and mode in counts_for(r)]
        if not sel:
            continue
        ok = [r for r in sel if r["success"]]
        rows.append({"setting": setting, "mode": mode, "delay": d, "episodes": len(sel),
                     "success": round(100 * len(ok) / len(sel), 1),
                     "periods_to_success": round(float(np.mean([r["first_success"] for r in ok])), 1) if ok else None,
                     "held_per_episode": round(float(np.mean([r["held"] for r in sel])), 2),
                     "expired_chunks": int(sum(r["expired"] for r in sel)),
                     "mean_exit": round(float(np.mean([r["mean_exit"] for r in sel if r["mean_exit"]])), 3),
                     "mean_fraction": round(float(np.mean([r["mean_fraction"] for r in sel if r["mean_fraction"]])), 4)})
    return rows


def per_task(records: list[dict]) -> dict:
    """{(setting, mode, delay): {task: (successes, episodes)}}, d = 0 under every mode."""
    out: dict = {}
    for r in records:
        for mode in counts_for(r):
            cell = out.setdefault((r.get("setting", "full"), mode, int(r["delay"])), {}).setdefault(r["task"], [0, 0])
            cell[0] += bool(r["success"])
            cell[1] += 1
    return out


def markdown(rows: list[dict]) -> str:
    head = ("| setting | mode | delay (periods) | episodes | success % | periods to success "
            "| held periods / episode | expired chunks | mean exit | compute fraction |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n")
    return head + "".join(
        f"| {r['setting']} | {r['mode']} | {r['delay']} | {r['episodes']} | {r['success']:.1f} | "
        f"{r['periods_to_success']} | {r['held_per_episode']:.2f} | {r['expired_chunks']} | {r['mean_exit']} | "
        f"{r['mean_fraction']} |\n" for r in rows)


def markdown_tasks(records: list[dict]) -> str:
    cells = per_task(records)
    keys = [k for k in cells if k[2] > 0 or k[1] == "sync"]
    tasks = [t for t in T.TASK_NAMES if any(t in cells[k] for k in keys)]
    head = "| task | " + " | ".join(f"{s} {m} d={d}" for s, m, d in keys) + " |\n"
    head += "|---|" + "---|" * len(keys) + "\n"
    body = "".join(f"| {t} | " + " | ".join("{}/{}".format(*cells[k][t]) if t in cells[k] else "–" for k in keys)
                   + " |\n" for t in tasks)
    return head + body


def plot(rows: list[dict], path: Path) -> None:
    """Success and periods to success against the delay, one line per mode (the first setting)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    setting = rows[0]["setting"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for key, ax, label in (("success", axes[0], "success (%)"),
                           ("periods_to_success", axes[1], "periods to success (successful episodes)")):
        for mode, marker in zip(MODES, "osD"):
            pts = sorted((r["delay"], r[key]) for r in rows
                         if r["mode"] == mode and r["setting"] == setting and r[key] is not None)
            if pts:
                ax.plot(*zip(*pts), marker=marker, label=mode)
        ax.set_xlabel("inference delay (control periods of 12.5 ms)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.get_lines():
            ax.legend()
    fig.suptitle(f"Chunked execution under inference delay ({setting} depth, every request through reflexd)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(paths: list[Path], out: Path) -> int:
    records = load_records(paths)
    if not records:
        raise SystemExit(f"no records in {', '.join(map(str, paths))}")
    rows = table(records)
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.json").write_text(json.dumps(rows, indent=2) + "\n")
    (out / "table.md").write_text(markdown(rows) + "\n" + markdown_tasks(records))
    plot(rows, out / "delay.png")
    print(markdown(rows) + "\n" + markdown_tasks(records))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="a chunked bundle (action.chunk > 1)")
    ap.add_argument("--tasks", default=",".join(T.TASK_NAMES))
    ap.add_argument("--setting", default="full", help="the daemon's setting (eval_settings.py; not frozen-*)")
    ap.add_argument("--episodes", type=int, default=10, help="per task, mode and delay")
    ap.add_argument("--delays", default=",".join(map(str, DEFAULT_DELAYS)))
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--max-periods", type=int, default=None, help="episode limit (default: the task's)")
    ap.add_argument("--records", type=Path, default=Path("delay-records.jsonl"))
    ap.add_argument("--report", type=Path, nargs="*", default=None,
                    help="write the table and plot from these record files instead of running")
    ap.add_argument("--out", type=Path, default=Path("docs/results/delay"))
    args = ap.parse_args(argv)
    if args.report is not None:
        return report(args.report or [args.records], args.out)
    if args.model is None:
        ap.error("--model is required to run episodes")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
