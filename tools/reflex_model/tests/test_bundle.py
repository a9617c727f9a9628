import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from reflex_model.bundle import calibration_distances, read_bundle, read_calibration, write_bundle
from reflex_model.network import tensor_shapes
from reflex_model.testing import random_net, random_obs


def same_steps(a, b, rec=None):
    for seed, thresholds in ((0, [-1.0] * 4), (1, [1e9] * 4)):
        obs = random_obs(a, seed)
        ra, rb = a.step(obs, rec, thresholds[: a.num_exits]), b.step(obs, rec, thresholds[: b.num_exits])
        assert ra.exit == rb.exit
        for x, y in ((ra.features, rb.features), (ra.actions, rb.actions), (ra.state[0], rb.state[0]),
                     (ra.state[1], rb.state[1]), (ra.distances, rb.distances)):
            assert torch.equal(x, y)


def test_float32_round_trip(net, tmp_path):
    manifest = write_bundle(net, tmp_path, name="t", observation={"camera": "corner"})
    loaded, read_manifest = read_bundle(tmp_path)
    assert read_manifest == json.loads(json.dumps(manifest)) and manifest["observation"] == {"camera": "corner"}
    for (n1, p1), (n2, p2) in zip(net.state_dict().items(), loaded.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2), n1
    for name in ("state_mean", "state_std", "action_mean", "action_std", "action_low", "action_high"):
        assert torch.equal(getattr(net, name), getattr(loaded, name)), name
    assert loaded.criterion_dims == net.criterion_dims and loaded.vocabulary == net.vocabulary
    same_steps(net, loaded)


def test_stored_names_shapes_and_transposition(net, tmp_path):
    write_bundle(net, tmp_path, name="t")
    stored = load_file(str(tmp_path / "weights.safetensors"))
    assert {k: tuple(v.shape) for k, v in stored.items()} == tensor_shapes(net.dims)
    assert torch.equal(stored["blocks.0.attn.qkv.weight"], net.blocks[0].attn.qkv.weight.t())
    assert torch.equal(stored["head.lstm.0.weight_ih"], net.head.lstm[0].weight_ih.t())
    assert torch.equal(stored["word_embedding"], net.word_embedding)
    assert torch.equal(stored["pos_embedding"], net.pos_embedding)


@pytest.mark.parametrize("storage,dtype,stored", [("bfloat16", torch.bfloat16, "BF16"),
                                                  ("float16", torch.float16, "F16")])
def test_reduced_storage_rounds(storage, dtype, stored, tmp_path):
    net = random_net("tiny")
    write_bundle(net, tmp_path, name="t", storage_dtype=storage)
    with safe_open(str(tmp_path / "weights.safetensors"), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {stored}
    loaded, _ = read_bundle(tmp_path)
    changed = 0
    for name, p in net.state_dict().items():
        rounded = p.to(dtype).to(torch.float32)
        assert torch.equal(loaded.state_dict()[name], rounded), name
        changed += int(not torch.equal(rounded, p))
    assert changed > 0                     # random float32 weights do not survive unrounded
    # Rounding once more changes nothing: the loaded net is what a runtime computes with.
    write_bundle(loaded, tmp_path / "again", name="t", storage_dtype=storage)
    same_steps(loaded, read_bundle(tmp_path / "again")[0])


def test_calibration_round_trip(tmp_path):
    net = random_net("tiny")
    obs = [random_obs(net, s) for s in range(3)]
    image = torch.stack([torch.from_numpy(o["image"]) for o in obs])
    state = torch.stack([torch.from_numpy(o["state"]) for o in obs])
    words = torch.tensor([net.tokenize(o["instruction"])[0] for o in obs])
    distances = calibration_distances(net, image, state, words)
    assert distances.shape == (3, net.num_exits)
    # The same numbers as full-depth steps.
    for n, o in enumerate(obs):
        assert torch.allclose(net.step(o, None, None).distances, distances[n], atol=1e-6)
    manifest = write_bundle(net, tmp_path, name="t", calibration=distances)
    assert manifest["calibration"] == "calibration.safetensors"
    assert torch.equal(read_calibration(tmp_path, manifest), distances)
    manifest = write_bundle(net, tmp_path / "none", name="t")
    assert "calibration" not in manifest and read_calibration(tmp_path / "none", manifest) is None


def rewrite_weights(path, change):
    tensors = load_file(str(path))
    change(tensors)
    save_file(tensors, str(path))


def test_reading_checks_the_tensor_set(tmp_path):
    net = random_net("tiny")
    write_bundle(net, tmp_path, name="t")
    weights = tmp_path / "weights.safetensors"
    original = weights.read_bytes()
    cases = [(lambda t: t.pop("blocks.5.mlp.fc2.bias"), "missing tensor 'blocks.5.mlp.fc2.bias'"),
             (lambda t: t.update(extra=torch.zeros(2)), "unexpected tensor 'extra'"),
             (lambda t: t.update({"exit_norms.3.bias": torch.zeros(31)}), "'exit_norms.3.bias' has shape"),
             (lambda t: t.update(word_embedding=torch.zeros(13, 32, dtype=torch.float64)),
              "'word_embedding' has unsupported dtype")]
    for change, message in cases:
        weights.write_bytes(original)
        rewrite_weights(weights, change)
        with pytest.raises(ValueError, match=message):
            read_bundle(tmp_path)
    weights.write_bytes(original[:-10])
    with pytest.raises(ValueError, match="weights.safetensors"):
        read_bundle(tmp_path)


def test_missing_manifest_keys_are_named(tmp_path):
    net = random_net("tiny")
    manifest = write_bundle(net, tmp_path, name="t")
    for path in (("architecture", "heads"), ("architecture", "head", "lstm_layers"), ("action", "std"),
                 ("criterion", "dims"), ("vocabulary",)):
        broken = json.loads(json.dumps(manifest))
        node = broken
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        (tmp_path / "manifest.json").write_text(json.dumps(broken))
        with pytest.raises(KeyError, match=".".join(path)):
            read_bundle(tmp_path)


def test_unknown_manifest_keys_are_ignored(tmp_path):
    net = random_net("tiny")
    manifest = write_bundle(net, tmp_path, name="t")
    manifest["future"] = {"x": 1}
    manifest["architecture"]["future"] = 2
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    same_steps(net, read_bundle(tmp_path)[0])
