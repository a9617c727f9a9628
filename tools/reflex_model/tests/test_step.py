import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from reflex_model.bundle import read_bundle
from reflex_model.make_fixtures import FIXTURES
from reflex_model.testing import random_net, random_obs

FIXTURE_DIR = Path(__file__).resolve().parents[3] / "Tests" / "Fixtures"


def test_thresholds_force_exits(net):
    E = net.num_exits
    obs = random_obs(net)
    assert net.step(obs, None, [-1.0] * E).exit == E          # the last exit always stops
    assert net.step(obs, None, None).exit == E
    assert net.step(obs, None, [1e9] * E).exit == 1
    for i in range(1, E + 1):
        thresholds = [-1.0] * (i - 1) + [1e9] * (E - i + 1)
        result = net.step(obs, None, thresholds)
        assert result.exit == i and result.features.shape[0] == i + 1 and result.distances.shape == (i,)


def test_threshold_comparison_is_dist_at_most_eta(net):
    obs = random_obs(net)
    full = net.step(obs, None, None)
    d1 = float(full.distances[0])
    assert net.step(obs, None, [d1] + [-1.0] * (net.num_exits - 1)).exit == 1
    assert net.step(obs, None, [d1 * 0.999] + [-1.0] * (net.num_exits - 1)).exit > 1


def test_rule_is_asked_before_the_last_exit_only(net):
    asked = []
    net.step(random_obs(net), None, lambda i, dist: asked.append((i, dist)) or False)
    assert [i for i, _ in asked] == list(range(1, net.num_exits))


def test_tentative_runs_start_from_the_committed_state_and_the_chosen_one_is_committed(net):
    rec = None
    for t, i in enumerate([2, 1, net.num_exits]):
        i = min(i, net.num_exits)
        thresholds = [-1.0] * (i - 1) + [1e9] * (net.num_exits - i + 1)
        result = net.step(random_obs(net, t), rec, thresholds)
        committed = net.initial_state(1) if rec is None else (rec[0][None], rec[1][None])
        for r in range(result.exit + 1):
            action, y, (h, c) = net.head_step(result.features[r][None], committed)
            assert torch.equal(action[0], result.actions[r]) and torch.equal(y[0], result.outputs[r])
            assert torch.equal(h[0], result.states[r][0]) and torch.equal(c[0], result.states[r][1])
        assert torch.equal(result.state[0], result.states[i][0])
        assert torch.equal(result.state[1], result.states[i][1])
        assert torch.equal(result.action, result.actions[i])
        rec = result.state


def test_actions_are_clipped_denormalised_outputs(net):
    result = net.step(random_obs(net), None, None)
    raw = result.outputs * net.action_std + net.action_mean
    assert torch.equal(result.actions, raw.clamp(net.action_low, net.action_high))


def test_distances_use_only_criterion_dims():
    net = random_net("tiny")                       # criterion dims [0, 1, 2] of 4
    obs = random_obs(net)
    result = net.step(obs, None, None)
    a = result.actions
    for i in range(1, net.num_exits + 1):
        diff = a[i, [0, 1, 2]] - a[i - 1, [0, 1, 2]]
        assert torch.allclose(result.distances[i - 1], diff.square().mean().sqrt())
    # Moving dim 3 (the gripper) does not move the distances.
    net.action_std[3] *= 50
    net.action_low[3], net.action_high[3] = -1e6, 1e6
    moved = net.step(obs, None, None)
    assert not torch.equal(moved.actions[:, 3], a[:, 3])
    assert torch.equal(moved.distances, result.distances)


def test_reference_read_position(net):
    obs = random_obs(net)
    result = net.step(obs, None, [1e9] * net.num_exits)
    ids = torch.tensor([result.word_ids])
    with torch.no_grad():
        images = [torch.from_numpy(obs[name])[None] for name in net.camera_names]
        x = net.embed(images, torch.from_numpy(obs["state"])[None], ids)
        if net.dims.k > 1:                         # after block 1; else the token embeddings
            x = net.blocks[0](x)
        assert torch.allclose(net.exit_feature(0, x)[0], result.features[0], atol=1e-6)


def test_patches_are_row_major_with_channel_fastest():
    net = random_net("tiny-readout")              # 24 × 40 image, patch 8 → 3 × 5 grid
    dm = net.dims
    image = torch.zeros(1, dm.H, dm.W, dm.C, dtype=torch.uint8)
    image[0, 1 * 8 + 2, 3 * 8 + 5, 1] = 255       # patch (1, 3), i 2, j 5, channel 1
    with torch.no_grad():
        net.patch_proj.weight.zero_()
        net.patch_proj.weight[7, (2 * 8 + 5) * 3 + 1] = 1.0   # element i·p·C + j·C + ch → channel 7
        net.patch_proj.bias.zero_()
        net.pos_embedding.zero_()
        x = net.embed(image, torch.zeros(1, dm.D), torch.zeros(1, dm.L))
    patches = x[0, 1 + dm.L: 1 + dm.L + dm.P]
    expected = torch.zeros(dm.P, dm.d)
    expected[:, 7] = -1.0                         # pixel 0 → −1
    expected[1 * 5 + 3, 7] = 1.0                  # row-major patch index 8; pixel 255 → 1
    assert torch.equal(patches, expected)


def test_forward_window_matches_steps(net):
    exits = [1, net.num_exits, 2 % (net.num_exits + 1), 1]
    obs = [random_obs(net, t, "push the red block") for t in range(len(exits))]
    rec, results = None, []
    for o, i in zip(obs, exits):
        thresholds = [-1.0] * (i - 1) + [1e9] * (net.num_exits - i + 1)
        results.append(net.step(o, rec, thresholds))
        rec = results[-1].state
    images = [torch.stack([torch.from_numpy(o[name]) for o in obs])[None] for name in net.camera_names]
    state = torch.stack([torch.from_numpy(o["state"]) for o in obs])[None]
    words = torch.tensor([results[0].word_ids])
    y, (h, c) = net.forward_window(images, state, words, torch.tensor(exits))
    assert y.shape == (1, len(exits), net.num_exits + 1, *net.action_shape)
    for t, r in enumerate(results):
        assert torch.allclose(y[0, t, : r.exit + 1], r.outputs, atol=1e-5)
    assert torch.allclose(h[0], rec[0], atol=1e-5) and torch.allclose(c[0], rec[1], atol=1e-5)
    y.square().sum().backward()                   # differentiable end to end
    assert net.blocks[0].attn.qkv.weight.grad is not None


@pytest.mark.parametrize("name", list(FIXTURES))
def test_committed_fixtures_replay(name):
    directory = FIXTURE_DIR / name
    net, _ = read_bundle(directory)
    tensors = load_file(str(directory / "episode.safetensors"))
    rec = None
    for step in json.loads((directory / "episode.json").read_text()):
        t = step["step"]
        obs = {name: tensors[f"step{t}.{name}"] for name in net.camera_names}
        obs.update(state=tensors[f"step{t}.state"], instruction=step["instruction"])
        result = net.step(obs, rec, step["thresholds"])
        assert result.exit == step["exit"] == int(tensors[f"step{t}.reached"]) - 1
        assert result.unknown_words == step["unknown_words"]
        assert result.word_ids == step["word_ids"] == tensors[f"step{t}.word_ids"].int().tolist()
        n = result.exit + 1
        for key, value in (("features", result.features), ("actions", result.actions),
                           ("outputs", result.outputs)):
            assert torch.allclose(tensors[f"step{t}.{key}"][:n], value, atol=1e-5)
            assert not tensors[f"step{t}.{key}"][n:].any()
        assert torch.allclose(tensors[f"step{t}.distances"][: n - 1], result.distances, atol=1e-5)
        assert torch.allclose(tensors[f"step{t}.action"], result.action, atol=1e-5)
        assert torch.allclose(tensors[f"step{t}.h"], result.state[0], atol=1e-5)
        assert torch.allclose(tensors[f"step{t}.c"], result.state[1], atol=1e-5)
        rec = (tensors[f"step{t}.h"], tensors[f"step{t}.c"])
