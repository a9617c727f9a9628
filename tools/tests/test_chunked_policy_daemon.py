"""ChunkedPolicy (tools/python/reflex_client/chunked.py) against the real daemon serving
Tests/Fixtures/tiny-chunked, restarted in the middle of a chunk: the robot keeps acting from what
it has, holds when that runs out, is told of the timeout, never applies the reply to the request it
gave up on, and takes chunks again from the new daemon. Control periods are calls of act(); the
clock is the test's."""
import numpy as np
import pytest
import torch
import zmq

from reflex_client import ChunkedPolicy

from .harness import REPO

torch.set_num_threads(1)

from reflex_model.bundle import read_bundle  # noqa: E402

CHUNKED = REPO / "Tests" / "Fixtures" / "tiny-chunked"
SAFETY_MS = 10_000
H, A = 8, 4
HOLD = np.zeros(A, np.float32)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def observation():
    rng = np.random.default_rng(3)
    return {"image": rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
            "wrist_image": rng.integers(0, 256, (16, 24, 3), dtype=np.uint8),
            "state": rng.standard_normal(6).astype(np.float32)}


def test_a_daemon_restart_mid_chunk(start_daemon):
    net, _ = read_bundle(CHUNKED)
    obs = observation()
    daemon = start_daemon({"model": str(CHUNKED), "budget": {"average_fraction": 1.0}, "scheduler": {"mode": "fixed"}})
    clock = Clock()
    policy = ChunkedPolicy(daemon.policy, "arm-restart", "open the drawer", HOLD, refill_at=2,
                           timeout_s=1.0, retry_after_s=0.1, clock=clock)
    try:
        assert policy.act(obs).held                                   # period 0: asks for seq 1
        assert policy._socket.poll(SAFETY_MS, zmq.POLLIN)
        first = policy.act(obs)                                       # period 1: d = 1
        expected = net.step({**obs, "instruction": "open the drawer"}).action.numpy()
        np.testing.assert_allclose(first.action, expected[1], atol=1e-4, rtol=0)
        assert first.chunk_seq == 1 and policy.last_info["period_s"] == 0.05

        # The daemon goes away in the middle of the chunk.
        assert daemon.stop() == 0
        handed = [policy.act(obs) for _ in range(5)]                  # periods 2…6: rows 2…6
        for row, step in zip(range(2, 7), handed):
            assert not step.held and step.errors == []
            np.testing.assert_allclose(step.action, expected[row], atol=1e-4, rtol=0)
        given_up = policy.in_flight                                   # asked at period 6 (1 row left)
        assert given_up == 2
        assert not policy.act(obs).held                               # period 7: the last row
        held = [policy.act(obs) for _ in range(3)]                    # periods 8…10: nothing left
        assert all(s.held and np.array_equal(s.action, HOLD) for s in held) and policy.starvations == 1 + 3
        clock.now += 1.5
        timed_out = policy.act(obs)
        assert timed_out.held and [type(e) for e in timed_out.errors] == [TimeoutError]
        assert policy.in_flight is None

        # A new daemon on the same endpoints; the robot asks again after retry_after_s.
        daemon.start()
        clock.now += 0.2
        seqs = set()
        for _ in range(200):
            step = policy.act(obs)
            if not step.held:
                seqs.add(step.chunk_seq)
                break
            assert all(isinstance(e, TimeoutError) for e in step.errors)
            if policy.in_flight is not None:
                policy._socket.poll(SAFETY_MS, zmq.POLLIN)
            else:
                clock.now += 1.5                                      # the reconnect can lose a request: retry
        else:
            pytest.fail("no chunk from the restarted daemon")
        assert given_up not in seqs and min(seqs) > given_up
        assert policy.chunks == 2
        # ZeroMQ delivers the request queued while the daemon was down to the new one (seen every
        # run here): its reply arrives and is dropped, never applied.
        assert policy.dropped_replies in (0, 1)
    finally:
        policy.close()
