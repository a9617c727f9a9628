"""A format 2 bundle served by the real daemon (Tests/Fixtures/tiny-chunked: cameras `image` and
`wrist_image`, a 6-D state, chunks of H = 8 actions): replies [8, 4] with `period_s`, values equal
to the PyTorch reference step by step, the PUB copy, and `reflexctl step` with a file per camera."""
import json
import re

import numpy as np
import pytest
import torch
import zmq

from .harness import REPO, RawDealer, module_daemon, run_reflex

torch.set_num_threads(1)

from reflex_model.bundle import read_bundle  # noqa: E402
from reflex_model.cost import cost_model  # noqa: E402

CHUNKED = REPO / "Tests" / "Fixtures" / "tiny-chunked"
H, A, EXITS, PERIOD = 8, 4, 3, 0.05
ATOL = 1e-4
CAMERAS = {"image": (32, 32, 3), "wrist_image": (16, 24, 3)}


@pytest.fixture(scope="module")
def daemon():
    yield from module_daemon({"model": str(CHUNKED), "budget": {"average_fraction": 1.0},
                              "scheduler": {"mode": "fixed"}})


@pytest.fixture(scope="module")
def net():
    net, _ = read_bundle(CHUNKED)
    return net.eval()


def observation(seed):
    rng = np.random.default_rng(seed)
    images = {name: rng.integers(0, 256, shape, dtype=np.uint8) for name, shape in CAMERAS.items()}
    return images, rng.standard_normal(6).astype(np.float32)


def test_chunks_equal_the_reference_step_by_step(daemon, net):
    full_gflops = cost_model(json.loads((CHUNKED / "manifest.json").read_text()))["exits"][-1]["gflops"]
    rec = None
    with daemon.client() as client:
        client.reset("arm-c")
        for t in range(4):
            images, state = observation(t)
            ref = net.step({**images, "state": state, "instruction": "open the drawer"}, rec, None)
            rec = ref.state
            action, info = client.step("arm-c", "open the drawer", state=state, tensors=images)
            assert info["tensors"] == [{"name": "action", "dtype": "float32", "shape": [H, A]}]
            assert info["period_s"] == PERIOD
            assert info["exit"] == EXITS and info["reason"] == "last"
            assert info["gflops"] == pytest.approx(full_gflops, rel=1e-12, abs=0)
            assert action.shape == (H, A) and action.dtype == np.float32
            np.testing.assert_allclose(action, ref.action.numpy(), atol=ATOL, rtol=0)


def test_the_header_keeps_the_contracts_order_with_period_before_tensors(daemon):
    images, state = observation(9)
    header = {"v": 1, "type": "step", "robot": "raw-c", "seq": 3, "instruction": "open the drawer",
              "tensors": [{"name": "state", "dtype": "float32", "shape": [6]},
                          {"name": "wrist_image", "dtype": "uint8", "shape": [16, 24, 3]},
                          {"name": "image", "dtype": "uint8", "shape": [32, 32, 3]}]}
    with RawDealer(daemon.policy) as dealer:
        reply = dealer.request([json.dumps(header).encode(), state.tobytes(),
                                images["wrist_image"].tobytes(), images["image"].tobytes()])
    text = reply[0].decode()
    assert re.fullmatch(r'\{"v":1,"type":"action","robot":"raw-c","seq":3,"exit":3,"exits":3,"reason":"last",'
                        r'"gflops":[0-9.e-]+,"timing_us":\{"queue":\d+,"infer":\d+,"total":\d+\},"period_s":0\.05,'
                        r'"tensors":\[\{"name":"action","dtype":"float32","shape":\[8,4\]\}\]\}', text), text
    assert len(reply) == 2 and len(reply[1]) == H * A * 4


def test_a_missing_camera_is_bad_tensor_naming_it(daemon):
    images, state = observation(1)
    from reflex_client import ReflexError
    with daemon.client() as client, pytest.raises(ReflexError) as error:
        client.step("arm-c2", "open the drawer", image=images["image"], state=state)
    assert error.value.code == "bad_tensor" and "wrist_image" in error.value.message


def test_the_pub_copy_carries_the_chunk(daemon):
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"pub-c")
    sub.connect(daemon.actions)
    try:
        images, state = observation(5)
        with daemon.client() as client:
            for _ in range(200):       # subscriptions travel asynchronously
                client.step("pub-c", "open the drawer", state=state, tensors=images)
                if sub.poll(50, zmq.POLLIN):
                    break
            else:
                pytest.fail("no publication seen in 200 steps")
            while sub.poll(200, zmq.POLLIN):
                sub.recv_multipart()
            action, info = client.step("pub-c", "open the drawer", state=state, tensors=images)
        assert sub.poll(10_000, zmq.POLLIN)
        robot, header, data = sub.recv_multipart()
        assert robot == b"pub-c" and json.loads(header) == info
        assert info["period_s"] == PERIOD and info["tensors"][0]["shape"] == [H, A]
        assert np.array_equal(np.frombuffer(data, "<f4").reshape(H, A), action)
    finally:
        sub.close(linger=0)


def test_reflexctl_step_with_a_file_per_camera_prints_the_chunk_as_rows(daemon, net, tmp_path):
    images, state = observation(11)
    for name, image in images.items():
        np.save(tmp_path / f"{name}.npy", image)
    np.save(tmp_path / "state.npy", state)
    result = run_reflex("step", "--image", f"image={tmp_path / 'image.npy'}",
                        "--image", f"wrist_image={tmp_path / 'wrist_image.npy'}", "--state", tmp_path / "state.npy",
                        "--instruction", "open the drawer", "--robot", "cli-c", "--endpoint", daemon.policy)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert json.loads(lines[0])["tensors"][0]["shape"] == [H, A]
    assert lines[1] == f"action chunk [{H}, {A}]:"
    rows = [re.fullmatch(r"\s*(\d+): \[(.*)\]", line) for line in lines[2:]]
    assert [int(r[1]) for r in rows] == list(range(H))
    printed = np.array([[float(x) for x in r[2].split(",")] for r in rows], np.float32)
    expected = net.step({**images, "state": state, "instruction": "open the drawer"}).action.numpy()
    np.testing.assert_allclose(printed, expected, atol=ATOL, rtol=0)

    synthetic = run_reflex("step", "--synthetic", "--instruction", "open the drawer", "--robot", "cli-s",
                           "--endpoint", daemon.policy)
    assert synthetic.returncode == 0, synthetic.stderr
    assert synthetic.stdout.splitlines()[1] == f"action chunk [{H}, {A}]:" and len(synthetic.stdout.splitlines()) == 2 + H


def test_reflexctl_inspect_lists_the_inputs_in_order_and_the_chunk():
    result = run_reflex("inspect", CHUNKED, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [(i["name"], i["shape"]) for i in report["inputs"]] == [
        ("image", [32, 32, 3]), ("wrist_image", [16, 24, 3]), ("state", [6])]
    assert report["action"]["shape"] == [H, A]
    assert report["action"]["chunk"] == H and report["action"]["period_s"] == PERIOD
    reference = cost_model(json.loads((CHUNKED / "manifest.json").read_text()))["exits"]
    assert [e["gflops"] for e in report["exits"]] == [e["gflops"] for e in reference]
    assert [e["resident_bytes"] for e in report["exits"]] == [e["resident_bytes"] for e in reference]
    text = run_reflex("inspect", CHUNKED).stdout
    assert "inputs: image uint8[32, 32, 3], wrist_image uint8[16, 24, 3], state float32[6]" in text
    assert "action.chunk: 8  action.period_s: 0.05" in text
    v1 = json.loads(run_reflex("inspect", REPO / "Tests" / "Fixtures" / "tiny", "--json").stdout)
    assert "chunk" not in v1["action"] and "period_s" not in v1["action"] and v1["action"]["shape"] == [4]
