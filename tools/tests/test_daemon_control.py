"""The control socket (stats, budget, pause/resume, unknown commands) and the serving policies:
latest wins per robot, the session cap."""
import json

import pytest
import zmq

from reflex_client import ReflexError

from .harness import EXITS, INSTRUCTION, RawDealer, observation, step_frames


def step(client, robot, seed):
    image, state = observation(seed)
    return client.step(robot, INSTRUCTION, image=image, state=state)


def test_stats_counters_budget_and_pause(start_daemon):
    daemon = start_daemon({"budget": {"average_fraction": 1.0}, "scheduler": {"mode": "fixed"}})
    with daemon.control_client() as control:
        fresh = control.stats()
        assert fresh["steps"] == 0 and fresh["errors"] == {} and fresh["sessions"] == 0
        assert fresh["exit_histogram"] == [0] * EXITS and fresh["paused"] is False

        with daemon.client() as client, RawDealer(daemon.policy) as dealer:
            for t in range(3):
                step(client, "stat-a", t)
            for t in range(2):
                step(client, "stat-b", 10 + t)
            dealer.request([b"{"])                                             # bad_header
            dealer.request(step_frames("stat-a", 1)[:2])                       # bad_tensor
            dealer.request([json.dumps({"v": 1, "type": "nope", "seq": 1}).encode()])  # unknown_type
            client.ping()
            client.reset("stat-a")

            stats = control.stats()
            assert stats["steps"] == 5
            assert stats["errors"] == {"bad_header": 1, "bad_tensor": 1, "unknown_type": 1}
            assert stats["exit_histogram"] == [0, 0, 5] and sum(stats["exit_histogram"]) == stats["steps"]
            assert stats["sessions"] == 2
            assert stats["budget"] == {"average_fraction": 1.0, "deadline_ms": None, "memory_mb": None}
            assert stats["thresholds"] == [None] * EXITS
            assert stats["loaded_exits"] == EXITS and stats["paused"] is False
            assert stats["window_steps"] == 5
            assert stats["mean_fraction"] == pytest.approx(1.0)
            assert stats["deadline_misses"] == 0 and stats["probes"] == 0
            assert isinstance(stats["resident_model_bytes"], int) and stats["resident_model_bytes"] > 0
            lat = stats["latency_us"]
            assert 0 < lat["p50"] <= lat["p99"] <= lat["max"]

            # budget: applied live, answered, reported by stats.
            answer = control.budget(average_fraction=0.5)
            assert answer == {"budget": {"average_fraction": 0.5, "deadline_ms": None, "memory_mb": None}}
            assert control.stats()["budget"]["average_fraction"] == 0.5
            answer = control.budget(deadline_ms=40)
            assert answer["budget"] == {"average_fraction": 0.5, "deadline_ms": 40, "memory_mb": None}
            answer = control.budget(deadline_ms=None)
            assert answer["budget"]["deadline_ms"] is None
            for t in range(4):
                _, info = step(client, "stat-a", 20 + t)
                assert info["type"] == "action" and 1 <= info["exit"] <= EXITS
            stats = control.stats()
            assert stats["steps"] == 9 and sum(stats["exit_histogram"]) == 9

            # Invalid budgets are refused and change nothing.
            for bad in ({"average_fraction": 2}, {"average_fraction": 0}, {"deadline_ms": 0},
                        {"average_fraction": "half"}, {"memory_mb": -1},
                        {"average_fraction": 0.2}):          # below exit 1 (0.39 of full depth)
                with pytest.raises(ReflexError) as error:
                    control.budget(**bad)
                assert error.value.message, bad
            assert control.stats()["budget"] == {"average_fraction": 0.5, "deadline_ms": None, "memory_mb": None}

            # Unknown or malformed commands: {"error": ...}, and the socket stays usable.
            for request in ({"cmd": "frobnicate"}, {"command": "stats"}, {"cmd": 3}):
                with pytest.raises(ReflexError):
                    control.command(request)
            raw = zmq.Context.instance().socket(zmq.REQ)
            raw.setsockopt(zmq.LINGER, 0)
            raw.connect(daemon.control)
            try:
                raw.send(b"not json")
                assert raw.poll(10_000)
                assert "error" in json.loads(raw.recv())
            finally:
                raw.close(linger=0)

            # pause: steps are answered `paused` (with their robot and seq); resume serves again.
            assert control.pause() == {"paused": True}
            assert control.stats()["paused"] is True
            with pytest.raises(ReflexError) as error:
                step(client, "stat-a", 30)
            assert error.value.code == "paused"
            assert error.value.info["robot"] == "stat-a" and error.value.info["seq"] == client._seq
            assert client.ping()["type"] == "pong"                         # pings still answered
            assert client.reset("stat-b")["type"] == "ok"
            assert control.resume() == {"paused": False}
            _, info = step(client, "stat-a", 31)
            assert info["type"] == "action"
            stats = control.stats()
            assert stats["paused"] is False and stats["steps"] == 10
            assert stats["errors"] == {"bad_header": 1, "bad_tensor": 1, "unknown_type": 1, "paused": 1}
            assert sum(stats["exit_histogram"]) == 10


def collect(dealer, count, timeout_ms=10_000):
    replies = []
    for _ in range(count):
        replies.append(json.loads(dealer.recv(timeout_ms)[0]))
    assert not dealer.socket.poll(200, zmq.POLLIN), "more replies than requests"
    return replies


def test_latest_wins_and_session_cap(start_daemon):
    daemon = start_daemon({"limits": {"pending_per_robot": 1, "max_sessions": 2}})
    seen_stale = 0
    with RawDealer(daemon.policy) as dealer:
        for burst in range(3):
            seqs = [100 * burst + n for n in range(5)]
            for seq in seqs:                                   # one burst, no waiting
                dealer.send(step_frames("late-1", seq, seed=seq))
            replies = collect(dealer, len(seqs))
            assert sorted(r["seq"] for r in replies) == seqs, "every request gets exactly one reply"
            for r in replies:
                assert r["robot"] == "late-1"
                assert r["type"] == "action" or (r["type"] == "error" and r["code"] == "stale"), r
            # The newest request is never superseded.
            assert next(r for r in replies if r["seq"] == seqs[-1])["type"] == "action"
            seen_stale += sum(r["type"] == "error" for r in replies)
        stats = daemon.stats()
        assert stats["errors"].get("stale", 0) == seen_stale
        assert stats["steps"] == 15 - seen_stale
        print(f"stale replies: {seen_stale} of 15")

        # The session cap: late-1 holds one session, late-2 takes the second, late-3 is refused.
        assert json.loads(dealer.request(step_frames("late-2", 1))[0])["type"] == "action"
        refused = json.loads(dealer.request(step_frames("late-3", 2))[0])
        assert refused["type"] == "error" and refused["code"] == "overloaded", refused
        assert refused["robot"] == "late-3" and refused["seq"] == 2
        # Robots that hold a session are still served, and resets do not open new sessions.
        assert json.loads(dealer.request(step_frames("late-1", 3))[0])["type"] == "action"
        reset = {"v": 1, "type": "reset", "robot": "late-4", "seq": 4}
        assert json.loads(dealer.request([json.dumps(reset).encode()])[0])["type"] == "ok"
        stats = daemon.stats()
        assert stats["sessions"] == 2 and stats["errors"]["overloaded"] == 1


def test_session_cap_holds_for_new_robots_arriving_together(start_daemon):
    """Several new robots in one burst: the cap counts robots that are queued, not only those
    already served; at most max_sessions of them are served."""
    daemon = start_daemon({"limits": {"pending_per_robot": 2, "max_sessions": 2}})
    with RawDealer(daemon.policy) as dealer:
        for n, robot in enumerate(["cap-1", "cap-2", "cap-3", "cap-4"]):
            dealer.send(step_frames(robot, n, seed=n))
        replies = collect(dealer, 4)
    served = [r for r in replies if r["type"] == "action"]
    refused = [r for r in replies if r["type"] == "error"]
    assert all(r["code"] == "overloaded" for r in refused), refused
    assert len(served) <= 2, f"{len(served)} robots served with max_sessions 2: {replies}"
    assert daemon.stats()["sessions"] <= 2


def test_memory_cap_loads_fewer_exits_and_moves_live(start_daemon):
    """tiny's exits need 142,992 / 211,600 / 280,208 resident bytes: 0.22 MiB holds two exits."""
    daemon = start_daemon({"budget": {"average_fraction": 1.0, "memory_mb": 0.22}})
    with daemon.control_client() as control, daemon.client() as client:
        stats = control.stats()
        assert stats["loaded_exits"] == 2 and stats["resident_model_bytes"] == 211600
        assert stats["thresholds"][2] is None
        for t in range(3):
            _, info = step(client, "mem-a", t)
            assert (info["exit"], info["reason"], info["exits"]) == (2, "memory", EXITS)
        answer = control.budget(memory_mb=None)
        assert answer["budget"]["memory_mb"] is None
        stats = control.stats()
        assert stats["loaded_exits"] == 3 and stats["resident_model_bytes"] == 280208
        _, info = step(client, "mem-a", 9)
        assert (info["exit"], info["reason"]) == (3, "last")
        with pytest.raises(ReflexError, match="cannot hold exit 1"):
            control.budget(memory_mb=0.1)
        assert control.stats()["loaded_exits"] == 3
