"""Every malformed-input class of CONTRACT section 5 gets its error code, over raw DEALER frames,
and the service keeps serving afterwards."""
import json
import re

import numpy as np
import pytest

from reflex_client import ReflexError

from .harness import INSTRUCTION, RawDealer, module_daemon, observation, step_frames, step_header, tensor_list

MAX_MESSAGE_BYTES = 4096     # a good step of the tiny model is about 3.3 KB


@pytest.fixture(scope="module")
def daemon():
    yield from module_daemon({"limits": {"max_message_bytes": MAX_MESSAGE_BYTES}})


@pytest.fixture
def dealer(daemon):
    with RawDealer(daemon.policy) as d:
        yield d


def frames_with(header: dict, image=None, state=None) -> list[bytes]:
    img, st = observation(3)
    image = img.tobytes() if image is None else image
    state = st.tobytes() if state is None else state
    return [json.dumps(header).encode(), image, state]


def assert_error(reply, code, robot, seq):
    assert len(reply) == 1, f"an error is one frame, got {len(reply)}"
    info = json.loads(reply[0])
    assert list(info)[:4] == ["v", "type", "robot", "seq"]
    assert info["v"] == 1 and info["type"] == "error", info
    assert info["code"] == code, info
    assert info["robot"] == robot and info["seq"] == seq, info
    assert isinstance(info["message"], str) and info["message"], info
    assert type(info["seq"]) in (int, type(None))
    return info


NOT_PARSED = [
    pytest.param(b"this is not json", id="not-json"),
    pytest.param(b'{"v":1,"type":"step"', id="truncated-json"),
    pytest.param(b"[1, 2]", id="json-array"),
    pytest.param(b'"step"', id="json-string"),
    pytest.param(b"\xff\xfe{}", id="not-utf8"),
    pytest.param(b'{"v":1,"v":1,"type":"ping","seq":1}', id="duplicate-key"),
    pytest.param(b'{"v":1,"type":"ping","seq":1,"x":"\\ud800"}', id="lone-surrogate"),
    pytest.param(b"{" * 40 + b"}" * 40, id="nested-too-deep"),
]


@pytest.mark.parametrize("header", NOT_PARSED)
def test_unparsable_header_is_bad_header_with_null_robot_and_seq(dealer, header):
    img, st = observation(0)
    assert_error(dealer.request([header, img.tobytes(), st.tobytes()]), "bad_header", None, None)


def test_empty_request_is_bad_header(dealer):
    # A lone empty frame is the delimiter of an empty request: the envelope comes back with it.
    reply = dealer.request([b""])
    assert reply[0] == b""
    assert_error(reply[1:], "bad_header", None, None)


def step(**changes):
    header = step_header("err-1", 7)
    for key, value in changes.items():
        if value is KeyError:
            header.pop(key)
        else:
            header[key] = value
    return header


BAD_HEADER = [
    # (header changes, robot echoed, seq echoed)
    pytest.param(dict(v=2), "err-1", 7, id="v-2"),
    pytest.param(dict(v="1"), "err-1", 7, id="v-string"),
    pytest.param(dict(v=1.0), "err-1", 7, id="v-float"),
    pytest.param(dict(v=True), "err-1", 7, id="v-bool"),
    pytest.param(dict(v=KeyError), "err-1", 7, id="v-missing"),
    pytest.param(dict(robot=""), None, 7, id="robot-empty"),
    pytest.param(dict(robot="arm 1"), None, 7, id="robot-space"),
    pytest.param(dict(robot="a" * 65), None, 7, id="robot-65-chars"),
    pytest.param(dict(robot="arm/1"), None, 7, id="robot-slash"),
    pytest.param(dict(robot="bras-é"), None, 7, id="robot-non-ascii"),
    pytest.param(dict(robot=12), None, 7, id="robot-number"),
    pytest.param(dict(robot=KeyError), None, 7, id="robot-missing"),
    pytest.param(dict(seq=-1), "err-1", None, id="seq-negative"),
    pytest.param(dict(seq=1.5), "err-1", None, id="seq-float"),
    pytest.param(dict(seq=1.0), "err-1", None, id="seq-float-integral"),
    pytest.param(dict(seq=True), "err-1", None, id="seq-bool"),
    pytest.param(dict(seq="7"), "err-1", None, id="seq-string"),
    pytest.param(dict(seq=2**64), "err-1", None, id="seq-2^64"),
    pytest.param(dict(seq=KeyError), "err-1", None, id="seq-missing"),
    pytest.param(dict(instruction=KeyError), "err-1", 7, id="instruction-missing"),
    pytest.param(dict(instruction=None), "err-1", 7, id="instruction-null"),
    pytest.param(dict(instruction=["open"]), "err-1", 7, id="instruction-list"),
    pytest.param(dict(type=3), "err-1", 7, id="type-number"),
    pytest.param(dict(type=KeyError), "err-1", 7, id="type-missing"),
    pytest.param(dict(deadline_ms=0), "err-1", 7, id="deadline-zero"),
    pytest.param(dict(deadline_ms=-5), "err-1", 7, id="deadline-negative"),
    pytest.param(dict(deadline_ms="5"), "err-1", 7, id="deadline-string"),
    pytest.param(dict(tensors={"image": 1}), "err-1", 7, id="tensors-object"),
]


@pytest.mark.parametrize("changes,robot,seq", BAD_HEADER)
def test_bad_header_fields(dealer, changes, robot, seq):
    assert_error(dealer.request(frames_with(step(**changes))), "bad_header", robot, seq)


def test_unknown_type(dealer):
    for kind in ("act", "STEP", ""):
        assert_error(dealer.request(frames_with(step(type=kind))), "unknown_type", "err-1", 7)


IMAGE_BYTES = 32 * 32 * 3
BAD_TENSOR = [
    # (header changes, frames after the header)
    pytest.param({}, "image-only", id="count-fewer-frames"),
    pytest.param({}, "extra-frame", id="count-more-frames"),
    pytest.param(dict(tensors=tensor_list()[:1]), "image-only", id="state-missing"),
    pytest.param(dict(tensors=[tensor_list()[0], dict(tensor_list()[1], name="joint")]), "both", id="wrong-name"),
    pytest.param(dict(tensors=[tensor_list()[1], tensor_list()[1]]), "state-twice", id="state-twice"),
    pytest.param(dict(tensors=tensor_list(image_dtype="float32", image_shape=(8, 32, 3))), "both", id="image-float32"),
    pytest.param(dict(tensors=tensor_list(state_dtype="float64")), "state-as-double", id="state-float64"),
    pytest.param(dict(tensors=tensor_list(state_dtype="uint8", state_shape=(16,))), "both", id="state-uint8"),
    pytest.param(dict(tensors=tensor_list(image_shape=(3, 32, 32))), "both", id="image-shape-chw"),
    pytest.param(dict(tensors=tensor_list(image_shape=(32, 96))), "both", id="image-shape-2d"),
    pytest.param(dict(tensors=tensor_list(state_shape=(2, 2))), "both", id="state-shape-2x2"),
    pytest.param({}, "short-image", id="image-bytes-short"),
    pytest.param({}, "long-state", id="state-bytes-long"),
    pytest.param({}, "nan-state", id="nan-in-state"),
    pytest.param({}, "inf-state", id="inf-in-state"),
    pytest.param({}, "neg-inf-state", id="neg-inf-in-state"),
]


def tensor_frames(kind):
    img, st = observation(3)
    image, state = img.tobytes(), st.astype("<f4").tobytes()
    bad = st.copy()
    if kind == "both":
        return [image, state]
    if kind == "image-only":
        return [image]
    if kind == "extra-frame":
        return [image, state, state]
    if kind == "state-twice":
        return [state, state]
    if kind == "state-as-double":
        return [image, st.astype("<f8").tobytes()]
    if kind == "short-image":
        return [image[:-1], state]
    if kind == "long-state":
        return [image, state + b"\0\0\0\0"]
    bad[2] = {"nan-state": np.nan, "inf-state": np.inf, "neg-inf-state": -np.inf}[kind]
    return [image, bad.astype("<f4").tobytes()]


@pytest.mark.parametrize("changes,frames", BAD_TENSOR)
def test_bad_tensor(dealer, changes, frames):
    header = json.dumps(step(**changes)).encode()
    assert_error(dealer.request([header] + tensor_frames(frames)), "bad_tensor", "err-1", 7)


def test_tensor_frames_on_ping_and_reset_are_bad_tensor(dealer):
    ping = {"v": 1, "type": "ping", "robot": "err-1", "seq": 8}
    assert_error(dealer.request([json.dumps(ping).encode(), b"x"]), "bad_tensor", "err-1", 8)
    reset = {"v": 1, "type": "reset", "robot": "err-1", "seq": 9}
    assert_error(dealer.request([json.dumps(reset).encode(), b"x"]), "bad_tensor", "err-1", 9)


def test_reset_without_robot_is_bad_header(dealer):
    reset = {"v": 1, "type": "reset", "seq": 9}
    assert_error(dealer.request([json.dumps(reset).encode()]), "bad_header", None, 9)


def test_too_large(dealer):
    # Each is a well-formed step but for its size; the size check comes before the tensor checks.
    padded = step(comment="x" * MAX_MESSAGE_BYTES)
    assert_error(dealer.request(frames_with(padded)), "too_large", "err-1", 7)
    img, st = observation(3)
    big_image = img.tobytes() + b"\0" * MAX_MESSAGE_BYTES
    assert_error(dealer.request(frames_with(step(), image=big_image)), "too_large", "err-1", 7)
    # A header over 64 KiB is refused before it is parsed: robot and seq are unknown.
    huge = {"v": 1, "type": "ping", "robot": "err-1", "seq": 1, "pad": "y" * (64 * 1024)}
    assert_error(dealer.request([json.dumps(huge).encode()]), "too_large", None, None)


def test_good_step_of_exactly_the_limit_is_served(dealer):
    header = step()
    header["pad"] = ""
    header["pad"] = "p" * (MAX_MESSAGE_BYTES - len(json.dumps(header).encode()) - IMAGE_BYTES - 16)
    frames = frames_with(header)
    assert sum(map(len, frames)) == MAX_MESSAGE_BYTES
    reply = dealer.request(frames)
    assert json.loads(reply[0])["type"] == "action", reply[0]
    header["pad"] += "p"
    assert_error(dealer.request(frames_with(header)), "too_large", "err-1", 7)


def test_unknown_keys_are_ignored_and_tensors_may_come_in_any_order(dealer):
    img, st = observation(4)
    header = step(extra={"future": [1, 2, 3]}, tensors=list(reversed(tensor_list())))
    reply = dealer.request([json.dumps(header).encode(), st.tobytes(), img.tobytes()])
    in_order = dealer.request(step_frames("err-order", 1, seed=4))
    assert json.loads(reply[0])["type"] == "action" and json.loads(in_order[0])["type"] == "action"


def test_service_keeps_serving_after_every_malformed_request(daemon, dealer):
    """Runs last: errors are counted by code, and a good step is still served (so is a ping)."""
    from reflex_client import ReflexError

    before = daemon.stats()
    dealer.request([b"not json"])
    dealer.request(frames_with(step(v=2)))
    dealer.request(frames_with(step(type="act")))
    dealer.request([json.dumps(step()).encode()] + tensor_frames("nan-state"))
    dealer.request(frames_with(step(pad="z" * MAX_MESSAGE_BYTES)))
    after = daemon.stats()
    delta = {code: after["errors"].get(code, 0) - before["errors"].get(code, 0)
             for code in set(after["errors"]) | set(before["errors"])}
    assert {k: v for k, v in delta.items() if v} == {"bad_header": 2, "unknown_type": 1, "bad_tensor": 1, "too_large": 1}
    assert after["steps"] == before["steps"]

    with daemon.client() as client:
        image, state = observation(1)
        action, info = client.step("err-after", INSTRUCTION, image=image, state=state)
        assert info["type"] == "action" and action.shape == (4,) and np.isfinite(action).all()
        bad = state.copy()
        bad[0] = np.nan
        with pytest.raises(ReflexError) as error:
            client.step("err-after", INSTRUCTION, image=image, state=bad)
        assert error.value.code == "bad_tensor" and error.value.info["seq"] == client._seq
        assert client.ping()["type"] == "pong"
    assert daemon.stats()["steps"] == before["steps"] + 1
    assert daemon.proc.poll() is None


def test_a_finite_but_absurd_state_is_bad_tensor_naming_the_range(daemon):
    """A state element near 3e38 drove the network to NaN and the robot got `internal`: inputs
    outside the training mean ± 1000 std are the client's error, named with the range."""
    before = daemon.stats()
    with daemon.client() as client:
        image, state = observation(2)
        huge = state.copy()
        huge[2] = 3e38
        with pytest.raises(ReflexError) as error:
            client.step("err-range", INSTRUCTION, image=image, state=huge)
        assert error.value.code == "bad_tensor"
        assert re.search(r'"state" element 2 is 3e\+38, outside the model\'s input range \[-?[0-9.e+-]+, [0-9.e+-]+\] '
                         r'\(the training mean ± 1000 standard deviations\)', error.value.message), error.value.message
        _, info = client.step("err-range", INSTRUCTION, image=image, state=state)   # the normal one is served
        assert info["type"] == "action"
    after = daemon.stats()
    assert after["errors"].get("internal", 0) == before["errors"].get("internal", 0)
