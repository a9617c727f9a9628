"""Faults: clients killed mid-request, a reconnect storm, robots that go silent — while a monitor
robot steps at 10 Hz. Afterwards, once the dead robots' sessions have idled out, the daemon must
hold what it held before: the same open files, the same threads, one session (the monitor's),
and its memory within bounds; the monitor must have been answered every time.

- killed clients: a child process (fork) connects, sends one step and is killed with SIGKILL
  0–5 ms later (before, during or after the daemon computes its answer), 8 at a time, as 4
  robots (a robot whose client restarts keeps its name);
- reconnect storm: threads that connect, send a step, maybe wait a moment, and close, again and
  again, as 4 other robots;
- silent robots: one sends a single step and nothing more (its session must idle out); one
  opens a raw connection to the policy endpoint, sends the first bytes of a ZMTP greeting and
  goes silent (the daemon's libzmq must not wait on it).
"""
from __future__ import annotations

import multiprocessing
import os
import random
import signal
import socket
import threading
import time
from pathlib import Path

import zmq

from reflex_client import wire

from . import common as C
from .robots import PacedRobot, observation_inputs, percentiles_ms

IDLE_S = 2          # session_idle_s of the daemon under test: dead robots' sessions go quickly
ROBOT_IDS = 4       # the killed clients are 4 robots whose client crashes and restarts, again and
                    # again; the storm's connections are 4 others


def _step_frames(robot: str, seq: int, instruction: str, tensors) -> list:
    header = {"v": 1, "type": "step", "robot": robot, "seq": seq, "instruction": instruction}
    return [b""] + [bytes(f) for f in wire.encode_request(header, tensors)]


def killed_clients(endpoint: str, count: int, instruction: str, tensors, parallel: int = 8,
                   seed: int = 0) -> dict:
    """`count` child processes, each killed with SIGKILL mid-request."""
    rng = random.Random(seed)
    children: set[int] = set()
    killed = started = 0
    def reap(at_most: int) -> None:
        """Waits until at most `at_most` of our children live (never os.waitpid(-1): the
        daemon is a child too)."""
        nonlocal killed
        while children:
            for pid in list(children):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    children.remove(pid)
                    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
                        killed += 1
            if len(children) <= at_most:
                return
            time.sleep(0.001)
    while started < count:
        while started < count and len(children) < parallel:
            frames = _step_frames(f"crashy-{started % ROBOT_IDS}", started + 1, instruction, tensors)
            delay = rng.uniform(0, 0.005)
            pid = os.fork()
            if pid == 0:                       # the child: never returns
                try:
                    ctx = zmq.Context()
                    s = ctx.socket(zmq.DEALER)
                    s.connect(endpoint)
                    s.send_multipart(frames)
                    time.sleep(delay)
                finally:
                    os.kill(os.getpid(), signal.SIGKILL)
            children.add(pid)
            started += 1
        reap(parallel - 1)
    reap(0)
    return {"clients": count, "killed_by_sigkill": killed}


def reconnect_storm(endpoint: str, cycles: int, instruction: str, tensors, threads: int = 4,
                    seed: int = 0) -> dict:
    """`cycles` connect → step → (wait 0–2 ms) → close, over `threads` threads."""
    replies = [0] * threads
    def worker(t: int) -> None:
        rng = random.Random(seed * 100 + t)
        ctx = zmq.Context.instance()
        for k in range(t, cycles, threads):
            s = ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.LINGER, 0)
            s.connect(endpoint)
            s.send_multipart(_step_frames(f"storm-{k % ROBOT_IDS}", k + 1, instruction, tensors))
            if s.poll(int(rng.uniform(0, 2)), zmq.POLLIN):
                s.recv_multipart()
                replies[t] += 1
            s.close(linger=0)
    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for p in pool:
        p.start()
    for p in pool:
        p.join()
    return {"connections": cycles, "replies_read_before_close": sum(replies)}


def raw_connection(endpoint: str) -> socket.socket:
    """A plain stream socket to a tcp:// or ipc:// endpoint (no ZeroMQ)."""
    if endpoint.startswith("ipc://"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(endpoint[len("ipc://"):])
        return s
    host, port = endpoint[len("tcp://"):].rsplit(":", 1)
    return socket.create_connection((host, int(port)))


def _monitor(endpoint: str, instruction: str, inputs: list, stop, results) -> None:
    """The monitor robot, in a process of its own (as a real robot is: the forks and threads
    of the faults must not stall it): 10 Hz until `stop` is set; sends back its record."""
    robot = PacedRobot(endpoint, "monitor", instruction, inputs, seed=0, hz=10)
    robot.start()
    stop.wait()
    robot.stop()
    robot.join()
    results.put({"report": robot.report(), "reply_times": robot.reply_times,
                 "latencies": robot.latencies, "daemon_times": robot.daemon_times})


def _between(record: dict, key: str, t0: float, t1: float) -> list[float]:
    return [x for t, x in zip(record["reply_times"], record[key]) if t0 <= t < t1]


def run_faults(model: Path, killed: int, reconnects: int, rounds: int = 1, reflexd: Path | None = None,
               config: dict | None = None) -> dict:
    """`rounds` times: the killed clients, the storm, the silent robots, then an idle wait. Growth
    from the baseline to the end of round 1 is where the allocator settles (libzmq's buffers for
    many connections at once); a leak would show as growth from round 1 to the last."""
    cfg = C.merged({"limits": {"session_idle_s": IDLE_S}}, config)
    daemon, pong = C.start_daemon(model, cfg, reflexd)
    held_open: list = []
    try:
        instruction = C.first_instruction(model)
        tensors = observation_inputs(pong["inputs"], seed=99)
        spawn = multiprocessing.get_context("spawn")
        stop, results = spawn.Event(), spawn.Queue()
        monitor = spawn.Process(target=_monitor, args=(daemon.policy, instruction, pong["inputs"], stop, results))
        monitor.start()
        C.wait_sessions(daemon, 1)
        time.sleep(1.0)                                  # warm-up: the monitor's session exists
        baseline = C.holdings(daemon)
        baseline_targets = C.open_file_targets(daemon)
        phases, spans = {}, {}
        def phase(name: str, action) -> None:
            C.log(f"faults: {name} ...")
            t0 = time.monotonic()
            result = action()
            spans[name] = (t0, time.monotonic())
            result["seconds"] = round(spans[name][1] - t0, 2)
            result["holdings_after"] = C.holdings(daemon)
            phases[name] = result
            C.log(f"faults: {name}: {result}")

        def silent() -> dict:
            one = zmq.Context.instance().socket(zmq.DEALER)
            one.setsockopt(zmq.LINGER, 0)
            one.connect(daemon.policy)
            one.send_multipart(_step_frames("silent-robot", 1, instruction, tensors))
            held_open.append(one)
            one.poll(10_000, zmq.POLLIN)                  # its one answer is there; it never reads it
            sessions = C.stats(daemon)["sessions"]
            raw = raw_connection(daemon.policy)
            raw.sendall(b"\xff\x00\x00\x00")            # the first bytes of a ZMTP greeting
            held_open.append(raw)
            time.sleep(3.0)
            for h in held_open:
                h.close()
            held_open.clear()
            return {"silent_robots": 1, "half_greetings": 1, "sessions_while_silent": sessions}

        after_round = []
        for k in range(1, rounds + 1):
            phase(f"killed_clients.{k}", lambda k=k: killed_clients(daemon.policy, killed, instruction, tensors, seed=k))
            phase(f"reconnect_storm.{k}",
                  lambda k=k: reconnect_storm(daemon.policy, reconnects, instruction, tensors, seed=k))
            phase(f"silent.{k}", silent)
            time.sleep(IDLE_S + 2.5)                     # dead and silent robots idle out
            after_round.append(C.holdings(daemon))       # before a stats call: its connection
        final = after_round[-1]                          # would still be open
        final_targets = C.open_file_targets(daemon)
        final_stats = C.stats(daemon)
        stop.set()
        record = results.get(timeout=60)
        monitor.join()
        m = record["report"]
        for name, (t0, t1) in spans.items():
            phases[name]["monitor_latency_ms"] = percentiles_ms(_between(record, "latencies", t0, t1))
            phases[name]["monitor_daemon_ms"] = percentiles_ms(_between(record, "daemon_times", t0, t1))
        out = {"model": Path(model).name, "baseline": baseline, "final": final, "phases": phases,
               "sessions_final": final_stats["sessions"], "monitor": m,
               **C.growth(baseline, final),
               "fds_new": [t for t in final_targets if t not in baseline_targets],
               "after_round": after_round,
               "rss_growth_after_round_1_pct": C.pct(after_round[0]["rss_kib"], final["rss_kib"]),
               "daemon_alive": daemon.alive(), "daemon_errors": final_stats.get("errors"),
               "machine": C.machine()}
        out["exit_status"] = daemon.stop()
        C.log(f"faults: fds {baseline['fds']} -> {final['fds']}, threads {baseline['threads']} -> "
              f"{final['threads']}, RSS {baseline['rss_kib']} -> {final['rss_kib']} KiB, sessions "
              f"{final_stats['sessions']}, monitor codes {m['codes']} unanswered {m['unanswered']}")
        return out
    finally:
        for h in held_open:
            h.close()
        daemon.cleanup()
