import io
import json
from contextlib import redirect_stdout

import torch

from reflex_model import bench_runner
from reflex_model.bench_runner import ExitStep, example_inputs
from reflex_model.bundle import write_bundle
from reflex_model.testing import random_net


def test_exit_step_is_a_forced_step(net):
    inputs = example_inputs(net)
    feeds = [torch.from_numpy(inputs[n]) for n in bench_runner.input_names(net)]
    obs = {name: inputs[name][0] for name in net.camera_names + ["state", "word_ids"]}
    rec = (torch.from_numpy(inputs["h"][0]), torch.from_numpy(inputs["c"][0]))
    for i in range(1, net.num_exits + 1):
        with torch.no_grad():
            action, h, c, distances = ExitStep(net, i)(*feeds)
        step = net.step(obs, rec, [-1.0] * (i - 1) + [1e9] * (net.num_exits - i + 1))
        assert torch.allclose(action[0], step.action, atol=1e-6)
        assert torch.allclose(h[0], step.state[0], atol=1e-6) and torch.allclose(c[0], step.state[1], atol=1e-6)
        assert torch.allclose(distances[0], step.distances, atol=1e-6)


def test_runner_prints_one_json_line(tmp_path):
    write_bundle(random_net("tiny-readout"), tmp_path / "b", name="b")
    out = io.StringIO()
    with redirect_stdout(out):
        bench_runner.main(["--bundle", str(tmp_path / "b"), "--threads", "1", "--iterations", "2",
                           "--warmup", "1", "--onnx-dir", str(tmp_path / "onnx")])
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    for framework in ("pytorch", "onnxruntime"):
        exits = result[framework]["exits"]
        assert [e["exit"] for e in exits] == [1, 2, 3, 4]
        assert all(e["median_us"] > 0 and e["p99_us"] >= e["median_us"] for e in exits)
    assert all(e["max_abs_diff"] < 1e-4 for e in result["onnxruntime"]["exits"])
    assert result["torch_version"] == torch.__version__ and "onnxruntime_version" in result
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == [f"exit{i}.onnx" for i in range(1, 5)]


def test_runner_measures_a_two_camera_chunk_bundle(tmp_path):
    write_bundle(random_net("tiny-chunked"), tmp_path / "c", name="c")
    out = io.StringIO()
    with redirect_stdout(out):
        bench_runner.main(["--bundle", str(tmp_path / "c"), "--threads", "1", "--iterations", "2",
                           "--warmup", "1", "--onnx-dir", str(tmp_path / "onnx")])
    result = json.loads(out.getvalue())
    assert [e["exit"] for e in result["pytorch"]["exits"]] == [1, 2, 3]
    assert all(e["max_abs_diff"] < 1e-4 for e in result["onnxruntime"]["exits"])
