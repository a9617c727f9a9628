"""Per-exit step latency of a bundle in PyTorch (eager) and ONNX Runtime (CPU), for
`reflexctl bench engine`, which starts this as a subprocess and reads ONE JSON line from stdout:

    python -m reflex_model.bench_runner --bundle DIR --threads N --iterations K --warmup W [--onnx-dir DIR]

A step that stops at exit i does what the spec's step does when its rule stops there: embed,
blocks up to i·k, the reference head run and one tentative head run per exit reached (all from
the same committed state), the distances, and returns the chosen exit's action and state.
ONNX Runtime runs one exported graph per exit.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from .bundle import read_bundle
from .cost import cost_model
from .network import ReflexNet

OUTPUT_NAMES = ["action", "h_out", "c_out", "distances"]


def input_names(net: ReflexNet) -> list[str]:
    """The graph's inputs: every camera (format 1: `image`), then state, word ids, h, c."""
    return net.camera_names + ["state", "word_ids", "h", "c"]


class ExitStep(nn.Module):
    """A step of one robot forced to stop at exit `exit`: (action [1, A] or [1, H, A], h, c,
    distances [1, exit]). Inputs as input_names(net)."""

    def __init__(self, net: ReflexNet, exit: int):
        super().__init__()
        self.net, self.exit = net, exit

    def forward(self, *inputs):
        net, dm = self.net, self.net.dims
        *images, state, word_ids, h, c = inputs
        x = net.run_blocks(net.embed(images, state, word_ids), 0, dm.read_depth(0))
        previous = net.head_step(net.exit_feature(0, x), (h, c))[0]
        distances = []
        for i in range(1, self.exit + 1):
            x = net.run_blocks(x, dm.read_depth(i - 1), dm.read_depth(i))
            action, _, (h_i, c_i) = net.head_step(net.exit_feature(i, x), (h, c))
            distances.append(net.distance(action, previous))
            previous = action
        return action, h_i, c_i, torch.stack(distances, 1)


def example_inputs(net: ReflexNet, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    dm = net.dims
    ids, _ = net.tokenize("open the drawer")
    images = {name: rng.integers(0, 256, (1, H, W, C), dtype=np.uint8) for name, H, W, C in dm.cameras}
    return {**images,
            "state": rng.standard_normal((1, dm.D)).astype(np.float32),
            "word_ids": np.array([ids], dtype=np.int64),
            "h": np.tanh(rng.standard_normal((1, dm.layers, dm.h))).astype(np.float32),
            "c": rng.standard_normal((1, dm.layers, dm.h)).astype(np.float32)}


def timed(run, iterations: int, warmup: int) -> dict:
    for _ in range(warmup):
        run()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter_ns()
        run()
        samples.append((time.perf_counter_ns() - start) / 1e3)
    return {"median_us": float(np.median(samples)), "p99_us": float(np.percentile(samples, 99))}


def bench_pytorch(net: ReflexNet, inputs: dict, iterations: int, warmup: int) -> tuple[dict, list]:
    feeds = [torch.from_numpy(inputs[name]) for name in input_names(net)]
    exits, outputs = [], []
    with torch.inference_mode():
        for i in range(1, net.num_exits + 1):
            module = ExitStep(net, i).eval()
            outputs.append(module(*feeds)[0].numpy())
            exits.append({"exit": i, **timed(lambda m=module: m(*feeds), iterations, warmup)})
    return {"exits": exits}, outputs


def export_onnx(net: ReflexNet, inputs: dict, directory: Path) -> list[Path]:
    feeds = tuple(torch.from_numpy(inputs[name]) for name in input_names(net))
    paths = []
    for i in range(1, net.num_exits + 1):
        path = directory / f"exit{i}.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            # The TorchScript exporter: needs no onnxscript, and a fixed-shape graph is all
            # the benchmark wants.
            torch.onnx.export(ExitStep(net, i).eval(), feeds, str(path), input_names=input_names(net),
                              output_names=OUTPUT_NAMES, opset_version=17, dynamo=False,
                              do_constant_folding=True)
        paths.append(path)
    return paths


def bench_onnxruntime(paths: list[Path], inputs: dict, threads: int, iterations: int,
                      warmup: int, reference: list) -> dict:
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    exits = []
    for i, path in enumerate(paths, start=1):
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        action = session.run(["action"], inputs)[0]
        exits.append({"exit": i, **timed(lambda s=session: s.run(None, inputs), iterations, warmup),
                      "max_abs_diff": float(np.abs(action - reference[i - 1]).max())})
    return {"exits": exits}


def run(bundle: Path, threads: int, iterations: int, warmup: int, onnx_dir: Path | None) -> dict:
    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):      # only settable before any parallel work
        torch.set_num_interop_threads(1)
    net, manifest = read_bundle(bundle)
    net.eval()
    inputs = example_inputs(net)
    result = {"bundle": str(bundle), "threads": threads, "iterations": iterations, "warmup": warmup}
    result["pytorch"], reference = bench_pytorch(net, inputs, iterations, warmup)
    with contextlib.ExitStack() as stack:
        if onnx_dir is None:
            onnx_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="reflex-onnx-")))
        onnx_dir.mkdir(parents=True, exist_ok=True)
        paths = export_onnx(net, inputs, onnx_dir)
        result["onnxruntime"] = bench_onnxruntime(paths, inputs, threads, iterations, warmup, reference)
    for framework in ("pytorch", "onnxruntime"):
        for entry, cost in zip(result[framework]["exits"], cost_model(manifest)["exits"]):
            entry["gflops"] = cost["gflops"]
    import onnxruntime
    result["torch_version"] = torch.__version__
    result["onnxruntime_version"] = onnxruntime.__version__
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Per-exit step latency in PyTorch and ONNX Runtime.")
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--onnx-dir", type=Path, default=None,
                        help="where the per-exit graphs are written (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.iterations < 1 or args.warmup < 0:
        parser.error("threads and iterations must be positive, warmup not negative")
    # Stdout carries exactly one JSON line: anything else the libraries print goes to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        result = run(args.bundle, args.threads, args.iterations, args.warmup, args.onnx_dir)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
