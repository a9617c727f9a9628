"""ChunkedPolicy against an in-test ROUTER that answers when the test says (not reflexd itself;
tools/tests/test_chunked_policy_daemon.py runs it against the real daemon). Control periods are
calls of act(); the clock is the test's."""
import itertools
import json

import numpy as np
import pytest
import zmq

from reflex_client import ChunkedPolicy, ReflexError

SAFETY_MS = 10_000  # a limit so a broken test fails instead of hanging; nothing asserts on time
H, A = 8, 2
HOLD = np.array([-9.0, -9.0], np.float32)
OBS = {"image": np.zeros((4, 4, 3), np.uint8), "state": np.zeros(3, np.float32)}
_ENDPOINTS = itertools.count()


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Daemon:
    """A ROUTER on inproc:// that the test drives: take() a request, reply with a chunk or an error."""

    def __init__(self, context):
        self.endpoint = f"inproc://chunked-{next(_ENDPOINTS)}"
        self.socket = context.socket(zmq.ROUTER)
        self.socket.linger = 0
        self.socket.bind(self.endpoint)

    def take(self):
        assert self.socket.poll(SAFETY_MS, zmq.POLLIN), "no request reached the daemon"
        identity, header, *tensors = self.socket.recv_multipart()
        return identity, json.loads(header), tensors

    def idle(self):
        """True when no request is waiting."""
        return not self.socket.poll(50, zmq.POLLIN)

    def answer(self, request, chunk):
        identity, header, _ = request
        chunk = np.asarray(chunk, np.float32)
        info = {"v": 1, "type": "action", "robot": header["robot"], "seq": header["seq"], "period_s": 0.1,
                "tensors": [{"name": "action", "dtype": "float32", "shape": list(chunk.shape)}]}
        self.socket.send_multipart([identity, json.dumps(info).encode(), chunk.tobytes()])

    def refuse(self, request, code):
        identity, header, _ = request
        info = {"v": 1, "type": "error", "robot": header["robot"], "seq": header["seq"], "code": code, "message": code}
        self.socket.send_multipart([identity, json.dumps(info).encode()])


def chunk(base):
    """Row t = [base + t, -(base + t)]: every action says which chunk and row it came from."""
    rows = base + np.arange(H, dtype=np.float32)
    return np.stack([rows, -rows], 1)


@pytest.fixture
def context():
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


def make(context, **options):
    daemon = Daemon(context)
    clock = Clock()
    policy = ChunkedPolicy(daemon.endpoint, "arm-1", "open the drawer", HOLD, clock=clock, context=context,
                           **options)
    return daemon, policy, clock


def arrived(policy):
    """Waits (safety limit only) until the reply the test just sent can be read."""
    assert policy._socket.poll(SAFETY_MS, zmq.POLLIN)


def test_a_chunk_that_arrives_after_d_periods_skips_its_first_d_actions(context):
    daemon, policy, _ = make(context, refill_at=2)
    first = policy.act(OBS)                                   # period 0: nothing planned yet
    assert first.held and np.array_equal(first.action, HOLD) and policy.starvations == 1
    request = daemon.take()
    assert request[1]["type"] == "step" and request[1]["seq"] == 1 and request[1]["robot"] == "arm-1"
    assert [t["name"] for t in request[1]["tensors"]] == ["image", "state"]
    for _ in range(2):                                        # periods 1, 2: still waiting
        assert policy.act(OBS).held
    daemon.answer(request, chunk(10))
    arrived(policy)
    step = policy.act(OBS)                                    # period 3: d = 3
    assert not step.held and step.chunk_seq == 1
    assert np.array_equal(step.action, [13, -13])
    assert [policy.act(OBS).action[0] for _ in range(3)] == [14, 15, 16]
    assert policy.starvations == 3 and policy.chunks == 1


def test_without_skip_stale_a_late_chunk_runs_from_its_first_action(context):
    daemon, policy, _ = make(context, refill_at=2, skip_stale=False)
    policy.act(OBS)
    request = daemon.take()
    for _ in range(2):
        policy.act(OBS)
    daemon.answer(request, chunk(10))
    assert policy.reply_ready(SAFETY_MS)
    assert [policy.act(OBS).action[0] for _ in range(4)] == [10, 11, 12, 13]   # d = 3, nothing skipped
    assert policy.starvations == 3 and policy.chunks == 1


def test_refill_asks_when_fewer_than_refill_at_remain_and_one_request_is_in_flight(context):
    daemon, policy, _ = make(context, refill_at=3)
    policy.act(OBS)
    daemon.answer(daemon.take(), chunk(0))
    arrived(policy)
    # Period 1 hands out row 1; rows 2..7 remain planned (6 ≥ 3): no request until fewer remain.
    handed = []
    for period in range(1, 5):
        handed.append(policy.act(OBS).action[0])
        assert policy.in_flight is None and daemon.idle(), f"period {period}"
    assert handed == [1, 2, 3, 4]
    step = policy.act(OBS)                                    # period 5: rows 6, 7 remain (2 < 3)
    assert step.action[0] == 5 and policy.in_flight == 2 and policy.requests == 2
    request = daemon.take()
    # However long the daemon takes, the robot has one request in flight.
    for _ in range(6):
        policy.act(OBS)
        assert daemon.idle()
    assert policy.requests == 2 and policy.starvations == 1 + 4    # periods 0 and 8…11
    daemon.answer(request, chunk(100))
    arrived(policy)
    step = policy.act(OBS)                                    # period 12: observation of period 5, d = 7
    assert step.action[0] == 107 and policy.requests == 3     # only row 7 was left: refill at once
    assert daemon.take()[1]["seq"] == 3


@pytest.mark.parametrize("overlap,weight", [("blend", 0.25), ("replace", 0.25)])
def test_an_overlapping_chunk_is_blended_or_replaces(context, overlap, weight):
    daemon, policy, _ = make(context, refill_at=4, overlap=overlap, blend_weight=weight)
    policy.act(OBS)
    daemon.answer(daemon.take(), chunk(0))
    arrived(policy)
    for _ in range(4):
        policy.act(OBS)                                       # periods 1…4: rows 1…4; asks at 4
    request = daemon.take()
    policy.act(OBS)                                           # period 5: row 5 of chunk 0
    daemon.answer(request, chunk(100))
    arrived(policy)
    got = [policy.act(OBS) for _ in range(7)]                 # periods 6…12; new chunk skips d = 2
    old, new = np.array([6, 7], np.float32), np.array([102, 103, 104, 105, 106, 107, 108], np.float32)
    if overlap == "blend":
        expected = np.concatenate([(1 - weight) * old + weight * new[:2], new[2:6]])
    else:
        expected = new[:6]
    assert np.allclose([g.action[0] for g in got[:6]], expected)
    assert np.allclose([g.action[1] for g in got[:6]], -expected)
    assert [g.chunk_seq for g in got[:6]] == [2] * 6
    assert got[6].held                                        # period 12: past the new chunk's end


def test_a_request_given_up_on_is_never_applied_and_the_timeout_is_reported(context):
    daemon, policy, clock = make(context, refill_at=2, timeout_s=0.5, retry_after_s=0.2)
    policy.act(OBS)
    late = daemon.take()
    clock.now += 0.6
    step = policy.act(OBS)
    assert step.held and len(step.errors) == 1 and isinstance(step.errors[0], TimeoutError)
    assert policy.in_flight is None and daemon.idle()         # no retry before retry_after_s
    daemon.answer(late, chunk(50))                            # the late reply to seq 1
    arrived(policy)
    clock.now += 0.3
    step = policy.act(OBS)
    assert step.held and policy.dropped_replies == 1 and policy.chunks == 0
    retry = daemon.take()
    assert retry[1]["seq"] == 2
    daemon.answer(retry, chunk(200))
    arrived(policy)
    step = policy.act(OBS)
    assert step.action[0] == 201 and step.chunk_seq == 2 and step.errors == []


def test_errors_are_reported_and_the_robot_holds_while_paused(context):
    daemon, policy, clock = make(context, refill_at=2, retry_after_s=0.2)
    policy.act(OBS)
    daemon.refuse(daemon.take(), "paused")
    arrived(policy)
    step = policy.act(OBS)
    assert step.held and [(type(e), e.code) for e in step.errors] == [(ReflexError, "paused")]
    assert daemon.idle()                                      # waits retry_after_s before asking again
    clock.now += 0.25
    assert policy.act(OBS).errors == [] and daemon.take()[1]["seq"] == 2


def test_a_chunk_older_than_itself_counts_as_expired(context):
    daemon, policy, clock = make(context, refill_at=2, timeout_s=100)
    policy.act(OBS)
    request = daemon.take()
    for _ in range(H + 1):
        policy.act(OBS)
    daemon.answer(request, chunk(0))
    arrived(policy)
    assert policy.act(OBS).held and policy.expired_chunks == 1 and policy.chunks == 0


def test_a_one_action_reply_is_a_chunk_of_one_and_a_wrong_width_is_an_error(context):
    daemon, policy, _ = make(context, refill_at=1)
    policy.act(OBS)
    daemon.answer(daemon.take(), np.array([1.0, 2.0, 3.0], np.float32))
    arrived(policy)
    step = policy.act(OBS)
    assert step.held and step.errors[0].code == "bad_reply"
    daemon.answer(daemon.take(), np.array([1.0, 2.0], np.float32))
    arrived(policy)
    assert policy.act(OBS).held                               # d = 1: the one action was due a period ago
    assert policy.expired_chunks == 1


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        ChunkedPolicy("inproc://x", "r", "i", HOLD, overlap="mix")
    with pytest.raises(ValueError, match="blend_weight"):
        ChunkedPolicy("inproc://x", "r", "i", HOLD, blend_weight=2)
    with pytest.raises(ValueError, match="refill_at"):
        ChunkedPolicy("inproc://x", "r", "i", HOLD, refill_at=0)
