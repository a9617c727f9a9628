"""Unit tests of reflex_client against small in-test fake servers (not reflexd itself)."""

import json
import queue
import threading

import numpy as np
import pytest
import zmq
from zmq.utils import z85

from reflex_client import ActionSubscriber, ControlClient, ReflexClient, ReflexError, load_key

SAFETY_MS = 10_000  # a limit so a broken test fails instead of hanging; nothing asserts on time


class FakeServer:
    """A ROUTER on a free port, served on a thread. ``handler(header, tensor_frames)`` returns
    a list of replies, each a list of frames (header dict first); [] answers nothing."""

    def __init__(self, handler, kind=zmq.ROUTER, curve_secret=None):
        self.handler = handler
        self.requests = queue.Queue()
        self.client_keys = []  # CURVE client keys seen in handshakes (Z85)
        self.context = zmq.Context()
        self.stopping = threading.Event()
        self.threads = []
        if curve_secret is not None:
            # A ZAP handler that admits everyone and notes each client's key; bound before the server.
            self.zap = self.context.socket(zmq.REP)
            self.zap.linger = 0
            self.zap.bind("inproc://zeromq.zap.01")
            self.threads.append(threading.Thread(target=self._serve_zap, daemon=True))
        self.socket = self.context.socket(kind)
        self.socket.linger = 0
        if curve_secret is not None:
            self.socket.curve_server = True
            self.socket.curve_secretkey = curve_secret
        self.socket.bind("tcp://127.0.0.1:*")
        self.endpoint = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self.threads.append(threading.Thread(target=self._serve, daemon=True))
        for thread in self.threads:
            thread.start()

    def _serve_zap(self):
        while not self.stopping.is_set():
            if not self.zap.poll(20):
                continue
            version, request_id, _domain, _address, _identity, mechanism, *credentials = self.zap.recv_multipart()
            key = z85.encode(credentials[0]) if mechanism == b"CURVE" else b""
            self.client_keys.append(key)
            self.zap.send_multipart([version, request_id, b"200", b"OK", key, b""])
        self.zap.close()

    def _serve(self):
        while not self.stopping.is_set():
            if not self.socket.poll(20):
                continue
            frames = self.socket.recv_multipart()
            identity, rest = frames[0], frames[1:]
            envelope = [identity]
            if rest and rest[0] == b"":
                envelope.append(b"")
                rest = rest[1:]
            header = json.loads(rest[0])
            self.requests.put((frames, header, rest[1:]))
            for reply in self.handler(header, rest[1:]):
                out = [json.dumps(reply[0]).encode() if isinstance(reply[0], dict) else reply[0]] + list(reply[1:])
                self.socket.send_multipart(envelope + out)

    def next_request(self):
        return self.requests.get(timeout=SAFETY_MS / 1000)

    def close(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join()
        self.socket.close()
        self.context.term()


def action_reply(header, values, **extra):
    action = np.asarray(values, dtype="<f4")
    reply = {"v": 1, "type": "action", "robot": header["robot"], "seq": header["seq"], "exit": 2, "exits": 6,
             "reason": "threshold", "gflops": 0.1, "timing_us": {"queue": 5, "infer": 900, "total": 950},
             "tensors": [{"name": "action", "dtype": "float32", "shape": list(action.shape)}], **extra}
    return [reply, action.tobytes()]


def echo_action(header, frames):
    """Answers every step with action [seq, seq + 0.5, ...], pings and resets in kind."""
    if header["type"] == "step":
        return [action_reply(header, [header["seq"], header["seq"] + 0.5, -1.0, 2.0])]
    if header["type"] == "ping":
        return [[{"v": 1, "type": "pong", "robot": header["robot"], "seq": header["seq"], "model": "fake",
                  "model_sha256": "0" * 64, "version": "0.0.0", "exits": 6}]]
    return [[{"v": 1, "type": "ok", "robot": header["robot"], "seq": header["seq"]}]]


@pytest.fixture
def server(request):
    handler = getattr(request, "param", echo_action)
    fake = FakeServer(handler)
    yield fake
    fake.close()


def test_step_sends_the_contract_header_and_tensor_bytes(server):
    image = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    state = [0.25, -1.5, 3.0]  # a list of Python floats goes out as float32
    with ReflexClient(server.endpoint, timeout_ms=SAFETY_MS) as client:
        client.step("arm-1", "open the drawer", image=image, state=state, deadline_ms=40)
    frames, header, tensors = server.next_request()
    assert frames[1] == b""  # the DEALER's empty delimiter
    assert header == {
        "v": 1, "type": "step", "robot": "arm-1", "seq": 1, "instruction": "open the drawer", "deadline_ms": 40,
        "tensors": [{"name": "image", "dtype": "uint8", "shape": [4, 5, 3]},
                    {"name": "state", "dtype": "float32", "shape": [3]}],
    }
    assert tensors[0] == image.tobytes()
    assert tensors[1] == np.array(state, dtype="<f4").tobytes()


def test_tensors_go_out_in_c_order_little_endian(server):
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(3, 2, 3).transpose(1, 0, 2)  # not C-contiguous
    state = np.array([1.0, 2.0], dtype=">f4")  # big-endian
    extra = np.array([[1.5, 2.5]], dtype=np.float64)
    with ReflexClient(server.endpoint, timeout_ms=SAFETY_MS) as client:
        client.step("arm-1", "go", image=image, state=state, tensors={"depth": extra})
    _, header, tensors = server.next_request()
    assert [t["name"] for t in header["tensors"]] == ["image", "state", "depth"]
    assert header["tensors"][2] == {"name": "depth", "dtype": "float32", "shape": [1, 2]}
    assert "deadline_ms" not in header
    assert tensors[0] == np.ascontiguousarray(image).tobytes()
    assert tensors[1] == np.array([1.0, 2.0], dtype="<f4").tobytes()
    assert tensors[2] == np.array([[1.5, 2.5]], dtype="<f4").tobytes()


def test_unsupported_tensor_dtype_is_refused_before_sending(server):
    with ReflexClient(server.endpoint, timeout_ms=SAFETY_MS) as client:
        with pytest.raises(TypeError):
            client.step("arm-1", "go", tensors={"ids": np.array([1, 2], dtype=np.int64)})


def test_reply_decodes_to_action_and_header(server):
    with ReflexClient(server.endpoint, timeout_ms=SAFETY_MS) as client:
        action, info = client.step("arm-1", "go", state=[0.0])
        assert action.dtype == np.float32
        np.testing.assert_array_equal(action, np.array([1.0, 1.5, -1.0, 2.0], dtype=np.float32))
        action[0] = 9.0  # the caller owns a writable array
        assert info["type"] == "action" and info["exit"] == 2 and info["exits"] == 6 and info["seq"] == 1
        assert info["timing_us"]["infer"] == 900
        _, info = client.step("arm-1", "go", state=[0.0])
        assert info["seq"] == 2


def test_ping_and_reset_return_their_headers(server):
    with ReflexClient(server.endpoint, timeout_ms=SAFETY_MS) as client:
        assert client.ping()["type"] == "pong"
        assert client.reset("arm-1") == {"v": 1, "type": "ok", "robot": "arm-1", "seq": 2}
    assert server.next_request()[1]["type"] == "ping"
    assert server.next_request()[1] == {"v": 1, "type": "reset", "robot": "arm-1", "seq": 2, "tensors": []}


def error_reply(header, frames):
    return [[{"v": 1, "type": "error", "robot": header["robot"], "seq": header["seq"],
              "code": "bad_tensor", "message": "image: expected shape [96, 96, 3]"}]]


@pytest.mark.parametrize("server", [error_reply], indirect=True)
def test_error_reply_raises_reflex_error(server):
    with ReflexClient(server.endpoint, timeout_ms=SAFETY_MS) as client:
        with pytest.raises(ReflexError) as caught:
            client.step("arm-1", "go", image=np.zeros((2, 2, 3), np.uint8))
    assert caught.value.code == "bad_tensor"
    assert caught.value.message == "image: expected shape [96, 96, 3]"
    assert caught.value.info["seq"] == 1


def unparsable_header_reply(header, frames):
    return [[{"v": 1, "type": "error", "robot": None, "seq": None, "code": "bad_header", "message": "not JSON"}]]


@pytest.mark.parametrize("server", [unparsable_header_reply], indirect=True)
def test_error_without_seq_answers_the_outstanding_request(server):
    with ReflexClient(server.endpoint, timeout_ms=SAFETY_MS) as client:
        with pytest.raises(ReflexError) as caught:
            client.ping()
    assert caught.value.code == "bad_header"


def make_late_replier():
    """Holds the reply to seq 1 back and sends it just before the reply to seq 2."""
    held = []

    def handler(header, frames):
        if header["seq"] == 1:
            held.append(header)
            return []
        return [action_reply(held[0], [111.0]), action_reply(header, [222.0])]

    return handler


@pytest.mark.parametrize("server", [make_late_replier()], indirect=True)
def test_a_late_reply_to_a_timed_out_request_is_discarded(server):
    with ReflexClient(server.endpoint, timeout_ms=SAFETY_MS) as client:
        client.timeout_ms = 500   # time for seq 1 to reach the server (a timeout discards what has not)
        with pytest.raises(TimeoutError):
            client.step("arm-1", "go", state=[0.0])
        server.next_request()  # the server has seq 1 and will answer it late
        client.timeout_ms = SAFETY_MS
        action, info = client.step("arm-1", "go", state=[0.0])
    assert info["seq"] == 2
    np.testing.assert_array_equal(action, [222.0])


def make_silent_first():
    def handler(header, frames):
        return [] if header["seq"] == 1 else echo_action(header, frames)

    return handler


@pytest.mark.parametrize("server", [make_silent_first()], indirect=True)
def test_timeout_raises_and_the_next_call_succeeds(server):
    with ReflexClient(server.endpoint, timeout_ms=50) as client:
        with pytest.raises(TimeoutError):
            client.ping()
        # The timed-out request may or may not have reached the server: the client discarded it.
        client.timeout_ms = SAFETY_MS
        assert client.ping()["seq"] == 2


def test_bad_reply_tensor_raises_bad_reply():
    def short_action(header, frames):
        reply, _ = action_reply(header, [1.0, 2.0])
        return [[reply, b"\x00" * 4]]

    fake = FakeServer(short_action)
    try:
        with ReflexClient(fake.endpoint, timeout_ms=SAFETY_MS) as client:
            with pytest.raises(ReflexError) as caught:
                client.step("arm-1", "go")
        assert caught.value.code == "bad_reply"
    finally:
        fake.close()


def write_key(directory, name, key):
    path = directory / name
    path.write_text(key.decode() + "\n")
    return path


def test_curve_keys_load_from_files_and_strings(tmp_path):
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    server_public_file = write_key(tmp_path, "server.public", server_public)
    client_public_file = write_key(tmp_path, "robot.public", client_public)
    client_secret_file = write_key(tmp_path, "robot.secret", client_secret)

    assert load_key(server_public_file) == server_public
    assert load_key(str(client_secret_file)) == client_secret
    assert load_key(server_public.decode()) == server_public
    with pytest.raises(ValueError):
        load_key("not-a-key")
    with pytest.raises(ValueError):
        load_key(write_key(tmp_path, "two.public", server_public + b"\n" + client_public))

    fake = FakeServer(echo_action, curve_secret=server_secret)
    try:
        with ReflexClient(fake.endpoint, timeout_ms=SAFETY_MS, server_public_key=server_public_file,
                          client_secret_key=client_secret_file, client_public_key=client_public_file) as client:
            action, _ = client.step("arm-1", "go")
            np.testing.assert_array_equal(action, [1.0, 1.5, -1.0, 2.0])
        # The public key is derived when only the secret one is given.
        with ReflexClient(fake.endpoint, timeout_ms=SAFETY_MS, server_public_key=server_public.decode(),
                          client_secret_key=client_secret.decode()) as client:
            assert client.ping()["type"] == "pong"
    finally:
        fake.close()
    assert fake.client_keys == [client_public, client_public]


def test_mismatched_curve_keys_are_refused(tmp_path):
    server_public, _ = zmq.curve_keypair()
    client_public, _ = zmq.curve_keypair()
    _, other_secret = zmq.curve_keypair()
    with pytest.raises(ValueError):
        ReflexClient("tcp://127.0.0.1:1", server_public_key=server_public, client_secret_key=other_secret,
                     client_public_key=client_public)
    with pytest.raises(ValueError):
        ReflexClient("tcp://127.0.0.1:1", client_secret_key=other_secret)


def test_action_subscriber_keeps_only_its_robot():
    context = zmq.Context()
    publisher = context.socket(zmq.PUB)
    publisher.linger = 0
    publisher.bind("tcp://127.0.0.1:*")
    endpoint = publisher.getsockopt_string(zmq.LAST_ENDPOINT)

    def publish(robot, value):
        header, payload = action_reply({"robot": robot, "seq": 1}, [value, value])
        publisher.send_multipart([robot.encode(), json.dumps(header).encode(), payload])

    try:
        with ActionSubscriber(endpoint, robot="arm-1", timeout_ms=SAFETY_MS) as subscriber:
            # A subscription reaches the publisher some time after connecting: publish until one arrives.
            for _ in range(500):
                publish("arm-10", 10.0)  # shares the prefix "arm-1" but is another robot
                publish("arm-2", 2.0)
                publish("arm-1", 1.0)
                if subscriber._socket.poll(20):
                    break
            robot, action, header = subscriber.receive()
            assert robot == "arm-1" and header["robot"] == "arm-1"
            np.testing.assert_array_equal(action, [1.0, 1.0])
            publish("arm-10", 10.0)
            publish("arm-1", 3.0)
            received = []
            while not received or received[-1][1][0] != 3.0:
                received.append(subscriber.receive())
            assert all(r[0] == "arm-1" for r in received)
            with pytest.raises(TimeoutError):
                subscriber.receive(timeout_ms=0)
    finally:
        publisher.close()
        context.term()


def make_control_handler():
    state = {"calls": 0}

    def handler(request):
        state["calls"] += 1
        if state["calls"] == 1 and request.get("cmd") == "drop-me":
            return None
        if request["cmd"] == "stats":
            return {"steps": 12, "paused": False}
        if request["cmd"] == "budget":
            return {"budget": {k: v for k, v in request.items() if k != "cmd"}}
        if request["cmd"] in ("pause", "resume", "reload"):
            return {"ok": True, "cmd": request["cmd"]}
        return {"error": f"unknown command {request['cmd']!r}"}

    return handler


def test_control_client_commands_errors_and_recovery_after_timeout():
    handler = make_control_handler()
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)  # a ROUTER can leave a request unanswered, as a stuck REP would
    router.linger = 0
    router.bind("tcp://127.0.0.1:*")
    endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)
    stopping = threading.Event()

    def serve():
        while not stopping.is_set():
            if router.poll(20):
                identity, empty, body = router.recv_multipart()
                reply = handler(json.loads(body))
                if reply is not None:
                    router.send_multipart([identity, empty, json.dumps(reply).encode()])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with ControlClient(endpoint, timeout_ms=50) as control:
            with pytest.raises(TimeoutError):
                control.command({"cmd": "drop-me"})
            control.timeout_ms = SAFETY_MS
            assert control.stats() == {"steps": 12, "paused": False}
            assert control.budget(average_fraction=0.3, deadline_ms=40) == {
                "budget": {"average_fraction": 0.3, "deadline_ms": 40}}
            assert control.pause()["cmd"] == "pause"
            assert control.resume()["cmd"] == "resume"
            assert control.reload()["cmd"] == "reload"
            with pytest.raises(ReflexError) as caught:
                control.command({"cmd": "dance"})
            assert "unknown command" in caught.value.message
            assert control.stats()["steps"] == 12
    finally:
        stopping.set()
        thread.join()
        router.close()
        context.term()
