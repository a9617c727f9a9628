"""Actions from the real daemon equal the PyTorch reference step by step (full depth), robots keep
separate recurrent states, resets, pings, both envelopes (DEALER, REQ), and the PUB copy."""
import json
import subprocess

import numpy as np
import pytest
import torch
import zmq

from .harness import EXITS, FIXTURE, INSTRUCTION, REFLEX, REFLEXD, RawDealer, module_daemon, observation, step_frames

torch.set_num_threads(1)

from reflex_model.bundle import read_bundle  # noqa: E402
from reflex_model.cost import cost_model  # noqa: E402

ATOL = 1e-4


@pytest.fixture(scope="module")
def daemon():
    yield from module_daemon({"budget": {"average_fraction": 1.0}, "scheduler": {"mode": "fixed"}})


@pytest.fixture(scope="module")
def reference():
    net, manifest = read_bundle(FIXTURE)
    net.eval()
    return net, manifest


class Chain:
    """The reference's step-by-step full-depth run of one robot, carrying the recurrent state."""

    def __init__(self, net):
        self.net = net
        self.rec = None

    def step(self, image, state, instruction=INSTRUCTION):
        result = self.net.step({"image": image, "state": state, "instruction": instruction}, self.rec, None)
        self.rec = result.state
        assert result.exit == EXITS
        return result.action.numpy(), result

    def reset(self):
        self.rec = None


def assert_action_reply(info, robot, action, expected, gflops):
    assert info["v"] == 1 and info["type"] == "action"
    assert info["robot"] == robot
    assert info["exit"] == EXITS and info["exits"] == EXITS and info["reason"] == "last"
    assert info["gflops"] == pytest.approx(gflops, rel=1e-12, abs=0)
    assert info["tensors"] == [{"name": "action", "dtype": "float32", "shape": [4]}]
    timing = info["timing_us"]
    assert set(timing) == {"queue", "infer", "total"}
    assert all(type(timing[k]) is int and timing[k] >= 0 for k in timing), timing
    assert timing["total"] >= timing["infer"] and timing["total"] >= timing["queue"], timing
    assert action.dtype == np.float32 and action.shape == (4,)
    np.testing.assert_allclose(action, expected, atol=ATOL, rtol=0)


def test_full_depth_actions_equal_the_reference_and_reset_restarts(daemon, reference):
    net, manifest = reference
    full_gflops = cost_model(manifest)["exits"][EXITS - 1]["gflops"]
    chain = Chain(net)
    first = observation(0)
    with daemon.client() as client:
        for t in range(6):
            image, state = observation(t)
            expected, ref = chain.step(image, state)
            action, info = client.step("arm-1", INSTRUCTION, image=image, state=state)
            assert_action_reply(info, "arm-1", action, expected, full_gflops)
            assert info["seq"] == client._seq
            assert "unknown_words" not in info and ref.unknown_words == []
        # The recurrent state matters: the sixth action is not what a fresh episode gives.
        fresh, _ = Chain(net).step(*observation(5))
        assert not np.allclose(expected, fresh, atol=ATOL)

        ok = client.reset("arm-1")
        assert ok == {"v": 1, "type": "ok", "robot": "arm-1", "seq": client._seq}
        chain.reset()
        expected, _ = chain.step(*first)
        action, info = client.step("arm-1", INSTRUCTION, image=first[0], state=first[1])
        assert_action_reply(info, "arm-1", action, expected, full_gflops)


def test_two_interleaved_robots_keep_separate_states(daemon, reference):
    net, manifest = reference
    full_gflops = cost_model(manifest)["exits"][EXITS - 1]["gflops"]
    chains = {"arm-a": Chain(net), "arm-b": Chain(net)}
    # arm-b changes its instruction half-way (the daemon caches tokens per robot).
    instructions = {"arm-a": ["open the drawer"] * 5,
                    "arm-b": ["push the red block"] * 2 + ["close the door"] * 3}
    with daemon.client() as client:
        for t in range(5):
            for k, robot in enumerate(chains):
                image, state = observation(100 * k + t)
                text = instructions[robot][t]
                expected, _ = chains[robot].step(image, state, text)
                action, info = client.step(robot, text, image=image, state=state)
                assert_action_reply(info, robot, action, expected, full_gflops)


def test_unknown_words_are_listed_and_tokenised_as_the_reference(daemon, reference):
    net, _ = reference
    image, state = observation(7)
    text = "Open the FRIDGE, then open the fridge and the oven"
    expected, ref = Chain(net).step(image, state, text)
    assert ref.unknown_words == ["fridge", "and", "oven"]
    with daemon.client() as client:
        client.reset("arm-words")
        action, info = client.step("arm-words", text, image=image, state=state)
    assert info["unknown_words"] == ref.unknown_words
    np.testing.assert_allclose(action, expected, atol=ATOL, rtol=0)


def test_reset_of_a_robot_never_seen_is_ok(daemon):
    with daemon.client() as client:
        assert client.reset("never-seen") == {"v": 1, "type": "ok", "robot": "never-seen", "seq": 1}


def test_largest_seq_is_echoed_exactly(daemon):
    seq = 2**64 - 1
    with RawDealer(daemon.policy) as dealer:
        reply = dealer.request(step_frames("arm-seq", seq))
        assert json.loads(reply[0])["seq"] == seq and json.loads(reply[0])["type"] == "action"
        pong = json.loads(dealer.request([json.dumps({"v": 1, "type": "ping", "seq": 0}).encode()])[0])
        assert pong["seq"] == 0 and pong["robot"] is None


# ------------------------------------------------------------------------------- ping, envelopes

def bundle_sha256() -> str:
    import hashlib
    digest = hashlib.sha256()
    for name in ("manifest.json", "weights.safetensors", "calibration.safetensors"):
        digest.update((FIXTURE / name).read_bytes())
    return digest.hexdigest()


def test_ping_answers_model_identity(daemon):
    version = subprocess.run([str(REFLEXD), "--version"], capture_output=True, text=True, timeout=30)
    assert version.returncode == 0
    inspect = json.loads(subprocess.run([str(REFLEX), "inspect", str(FIXTURE), "--json"],
                                        capture_output=True, text=True, timeout=60).stdout)
    with daemon.client() as client:
        pong = client.ping("arm-ping")
    assert pong["v"] == 1 and pong["type"] == "pong"
    assert pong["robot"] == "arm-ping" and pong["seq"] == 1
    assert pong["model"] == "tiny"
    assert pong["model_sha256"] == bundle_sha256() == inspect["sha256"]
    assert pong["version"] == version.stdout.strip()
    assert pong["exits"] == EXITS


def test_req_socket_and_both_dealer_envelopes(daemon, reference):
    net, _ = reference
    image, state = observation(11)
    expected, _ = Chain(net).step(image, state)
    frames = step_frames("arm-req", 5, seed=11)
    # REQ: the socket adds the empty delimiter and strips it from the reply.
    with RawDealer(daemon.policy, zmq.REQ) as req:
        reply = req.request(frames)
        assert len(reply) == 2
        info = json.loads(reply[0])
        assert info["type"] == "action" and info["robot"] == "arm-req" and info["seq"] == 5
        np.testing.assert_allclose(np.frombuffer(reply[1], "<f4"), expected, atol=ATOL, rtol=0)
        pong = req.request([json.dumps({"v": 1, "type": "ping", "seq": 6}).encode()])
        assert len(pong) == 1 and json.loads(pong[0])["type"] == "pong"
    with RawDealer(daemon.policy) as dealer:
        # DEALER with a delimiter gets the delimiter back ...
        reply = dealer.request([b""] + step_frames("arm-env", 1, seed=1))
        assert len(reply) == 3 and reply[0] == b"" and json.loads(reply[1])["seq"] == 1
        # ... and without one gets none.
        reply = dealer.request(step_frames("arm-env", 2, seed=2))
        assert len(reply) == 2 and json.loads(reply[0])["seq"] == 2
        reply = dealer.request([b"", json.dumps({"v": 1, "type": "reset", "robot": "arm-env", "seq": 3}).encode()])
        assert reply[0] == b"" and json.loads(reply[1]) == {"v": 1, "type": "ok", "robot": "arm-env", "seq": 3}


# ------------------------------------------------------------------------------- the PUB copy

def test_every_action_is_published_with_the_reply_bytes(daemon):
    from reflex_client import ActionSubscriber

    context = zmq.Context.instance()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(daemon.actions)
    only = ActionSubscriber(daemon.actions, robot="pub-1", timeout_ms=10_000)
    try:
        with RawDealer(daemon.policy) as dealer:
            # Subscriptions travel asynchronously: step a warm-up robot until both see it.
            for n in range(200):
                dealer.request(step_frames("pub-warm", n, seed=n))
                if sub.poll(50, zmq.POLLIN):
                    break
            else:
                pytest.fail("no publication seen in 200 steps")
            while sub.poll(200, zmq.POLLIN):
                sub.recv_multipart()
            # The prefix "pub-1" also matches "pub-10": ActionSubscriber must drop it.
            reply10 = dealer.request(step_frames("pub-10", 1, seed=50))
            assert sub.poll(10_000, zmq.POLLIN)
            assert sub.recv_multipart() == [b"pub-10"] + reply10
            for n in range(3):
                reply = dealer.request(step_frames("pub-1", 10 + n, seed=60 + n))
                assert json.loads(reply[0])["type"] == "action"
                assert sub.poll(10_000, zmq.POLLIN)
                assert sub.recv_multipart() == [b"pub-1"] + reply       # byte for byte
                robot, action, header = only.receive()
                assert robot == "pub-1" and header == json.loads(reply[0])
                assert np.array_equal(action, np.frombuffer(reply[1], "<f4"))
            # Errors, pongs and oks are not published.
            dealer.request([json.dumps({"v": 1, "type": "ping", "seq": 1}).encode()])
            dealer.request([json.dumps({"v": 1, "type": "reset", "robot": "pub-1", "seq": 2}).encode()])
            dealer.request([b"not json"])
            assert not sub.poll(300, zmq.POLLIN)
    finally:
        sub.close(linger=0)
        only.close()


# ------------------------------------------------------------------------------- tcp

def free_tcp_ports(count):
    import socket
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_tcp_endpoints(start_daemon, reference):
    net, _ = reference
    policy, actions, control = (f"tcp://127.0.0.1:{p}" for p in free_tcp_ports(3))
    daemon = start_daemon({"endpoints": {"policy": policy, "actions": actions, "control": control}})
    assert "policy=" + policy in daemon.log()
    image, state = observation(21)
    expected, _ = Chain(net).step(image, state)
    with daemon.client() as client:
        action, info = client.step("tcp-1", INSTRUCTION, image=image, state=state)
    np.testing.assert_allclose(action, expected, atol=ATOL, rtol=0)
    assert daemon.stats()["steps"] == 1
