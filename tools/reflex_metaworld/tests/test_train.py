"""The training pipeline on a synthetic mini dataset (seconds, no simulator): the loss falls, the
export writes a bundle that read_bundle reads, with calibration from the validation episodes;
--resume continues exactly; the batched calibration equals the reference's step function."""
import json

import numpy as np
import pytest
import torch

from reflex_metaworld import calibrate as C
from reflex_metaworld import dataset as DS
from reflex_metaworld import tasks as T
from reflex_metaworld import train as TR
from reflex_model.bundle import read_bundle, read_calibration
from reflex_model.network import ReflexNet

TINY = {"width": 32, "heads": 2, "mlp_hidden": 64, "blocks": 3, "exit_every": 1,
        "patch_size": 8, "instruction_tokens": 4, "pool": "max", "norm_eps": 1e-5,
        "head": {"lstm_hidden": 32, "lstm_layers": 1, "mlp_hidden": 32}}
TASKS = list(T.TASK_NAMES[:2])
SIZE = 16


def write_demos(directory, task: str, split: str, episodes: int, seed: int) -> None:
    """A demonstrations file as demos.py writes it; the action is a linear function of the image's
    brightness and of the state, so that a few steps learn it."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(10, 16, episodes).astype(np.int32)
    n = int(lengths.sum())
    states = rng.uniform(-1, 1, (n, 4)).astype(np.float32)
    brightness = rng.uniform(0, 1, n)
    images = (brightness[:, None, None, None] * 255 * np.ones((n, SIZE, SIZE, 3))).astype(np.uint8)
    actions = np.clip(np.stack([1.6 * brightness - 0.8, 0.8 - 1.6 * brightness,
                                0.5 * states[:, 0], np.ones(n)], 1), -1, 1).astype(np.float32)
    np.savez(directory / DS.demo_path(directory, task, split).name,
             images=images, states=states,
             actions=actions, episode_start=np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64),
             episode_length=lengths, instruction=np.array(T.INSTRUCTIONS[task]),
             task=np.array(task), meta_json=np.array("{}"))


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    d = tmp_path_factory.mktemp("demos")
    for k, task in enumerate(TASKS):
        write_demos(d, task, "train", 4, k)
        write_demos(d, task, "val", 2, 100 + k)
    return d


def args(demos, tmp, *extra):
    return ["--demos", str(demos), "--out", str(tmp / "bundle"), "--work", str(tmp / "work"),
            "--tasks", ",".join(TASKS), "--architecture", json.dumps(TINY), "--steps", "40",
            "--batch", "8", "--window", "4", "--lr", "2e-3", "--warmup", "2", "--minutes", "10",
            "--reserve-minutes", "0", "--threads", "1", "--val-per-task", "0", "--quiet", *extra]


def losses(work):
    rows = (work / "train.csv").read_text().splitlines()[1:]
    return np.array([float(r.split(",")[3]) for r in rows])


def test_training_lowers_the_loss_and_exports_a_bundle(demos, tmp_path):
    assert TR.main(args(demos, tmp_path)) == 0
    loss = losses(tmp_path / "work")
    assert len(loss) == 40
    assert loss[-8:].mean() < 0.8 * loss[:8].mean(), loss
    net, manifest = read_bundle(tmp_path / "bundle")
    assert net.num_exits == 3 and manifest["architecture"] == TINY
    assert manifest["vocabulary"]["words"][:2] == ["<pad>", "<unk>"]
    assert set(manifest["vocabulary"]["words"]) >= {w for t in T.TASKS for w in t.instruction.split()}
    assert manifest["action"]["low"] == [-1.0] * 4 and manifest["action"]["high"] == [1.0] * 4
    obs = manifest["observation"]
    assert obs["simulator"] == "metaworld" and obs["state_slice"] == [0, 4]
    assert [t["name"] for t in obs["tasks"]] == TASKS
    val_frames = sum(len(np.load(demos / f"{t}-val.npz")["states"]) for t in TASKS)
    calibration = read_calibration(tmp_path / "bundle", manifest)
    assert calibration.shape == (val_frames, 3) and bool((calibration >= 0).all())
    result = json.loads((tmp_path / "work" / "result.json").read_text())
    assert result["round_trip_max_abs_diff"] == 0.0
    assert len(result["val"]["forced"]["huber"]) == 3
    assert manifest["training"]["steps"] == 40
    # --keep-better: a worse run (3 steps) does not replace the bundle
    assert TR.main(args(demos, tmp_path, "--steps", "3", "--keep-better",
                        "--work", str(tmp_path / "work2"))) == 0
    assert json.loads((tmp_path / "bundle" / "manifest.json").read_text())["training"]["steps"] == 40
    assert read_bundle(tmp_path / "work2" / "bundle-final")[1]["training"]["steps"] == 3


def test_resume_continues_exactly(demos, tmp_path):
    full, split = tmp_path / "full", tmp_path / "split"
    assert TR.main(args(demos, full, "--steps", "12")) == 0
    assert TR.main(args(demos, split, "--steps", "12", "--stop-after", "5")) == 0
    assert not (split / "bundle").exists()
    assert TR.main(args(demos, split, "--steps", "12", "--resume")) == 0
    a, _ = read_bundle(full / "bundle")
    b, _ = read_bundle(split / "bundle")
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name
    assert np.array_equal(losses(full / "work"), losses(split / "work"))


def test_batched_calibration_equals_the_step_function(demos):
    torch.manual_seed(3)
    vocabulary = DS.build_vocabulary()
    val = DS.load_split(demos, "val", TASKS, vocabulary, TINY["instruction_tokens"])
    net = ReflexNet(TINY, val.image_shape, 4, 4, vocabulary,
                    action={"low": [-1.0] * 4, "high": [1.0] * 4, "mean": [0.1] * 4, "std": [0.5] * 4},
                    criterion_dims=(0, 1, 2)).eval()
    features = C.episode_features(net, val, 0)
    commit = np.random.default_rng(0).integers(1, net.num_exits + 1, len(features))
    y, dist = C.run_episode(net, features, commit)
    rec = None
    sl = val.episode_slice(0)
    for t, i in enumerate(range(sl.start, sl.stop)):
        r = net.step({"image": val.images[i], "state": val.states[i], "word_ids": val.word_ids[i]}, rec)
        torch.testing.assert_close(r.distances, dist[t], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(r.outputs, y[t], rtol=1e-5, atol=1e-6)
        rec = r.states[int(commit[t])]
