"""Format 2: several cameras, a chunk of H actions, the criterion over the first K of them;
format 1 is its special case and is written as before."""
import json

import pytest
import torch

from reflex_model.bundle import read_bundle, write_bundle
from reflex_model.cost import cost_model
from reflex_model.network import ReflexNet, manifest_chunk, tensor_shapes
from reflex_model.testing import random_net, random_obs


@pytest.fixture(scope="module")
def chunked():
    return random_net("tiny-chunked")


def test_a_step_returns_h_by_a_actions_and_the_criterion_reads_the_first_k(chunked):
    dm = chunked.dims
    assert (dm.chunk, dm.K, dm.A) == (8, 3, 4)
    result = chunked.step(random_obs(chunked), None, None)
    assert result.action.shape == (8, 4) and result.actions.shape == (dm.E + 1, 8, 4)
    a, b = result.actions[2], result.actions[1]
    diff = (a - b)[:3][:, [0, 1, 2]]
    assert torch.allclose(result.distances[1], diff.square().mean().sqrt())
    # Actions past the first K never move the distance.
    moved = b.clone()
    moved[3:] += 5
    assert torch.equal(chunked.distance(a[None], moved[None]), chunked.distance(a[None], b[None]))


def test_each_camera_has_its_own_projection_and_patches(chunked):
    shapes = tensor_shapes(chunked.dims)
    assert shapes["patch_proj.0.weight"] == (8 * 8 * 3, 32) and shapes["patch_proj.1.weight"] == (8 * 8 * 3, 32)
    assert "patch_proj.weight" not in shapes
    assert shapes["pos_embedding"] == (1 + 4 + 16 + 6, 32)
    assert shapes["head.mlp.fc2.weight"] == (32, 8 * 4)
    obs = random_obs(chunked)
    other = dict(obs, wrist_image=255 - obs["wrist_image"])
    assert not torch.equal(chunked.step(obs).action, chunked.step(other).action)


def test_format_2_round_trip_and_manifest(chunked, tmp_path):
    manifest = write_bundle(chunked, tmp_path, name="c")
    assert manifest["format_version"] == 2
    assert [i["name"] for i in manifest["inputs"]] == ["image", "wrist_image", "state"]
    assert manifest["action"]["chunk"] == 8 and manifest["action"]["period_s"] == 0.05
    assert manifest["criterion"]["first_actions"] == 3
    loaded, _ = read_bundle(tmp_path)
    obs = random_obs(chunked, 3)
    assert torch.equal(loaded.step(obs).action, chunked.step(obs).action)


def test_format_1_is_written_for_one_image_camera_and_no_chunk(tmp_path):
    manifest = write_bundle(random_net("tiny"), tmp_path, name="t")
    assert manifest["format_version"] == 1
    assert "chunk" not in manifest["action"] and "first_actions" not in manifest["criterion"]


def test_cost_counts_every_camera_and_the_chunk_head(chunked, tmp_path):
    manifest = write_bundle(chunked, tmp_path, name="c")
    cost = cost_model(manifest)
    assert cost["embed_flops"] == 2 * (16 + 6) * 192 * 32 + 2 * 6 * 32
    lstm = 2 * (32 + 24) * 4 * 24
    assert cost["head_flops"] == lstm + 2 * 24 * 32 + 2 * 32 * 8 * 4


@pytest.mark.parametrize("change,message", [
    (lambda m: m["action"].pop("period_s"), "period_s"),
    (lambda m: m.update(format_version=1), "format_version 2"),
])
def test_bad_chunk_manifests_are_refused(chunked, tmp_path, change, message):
    manifest = json.loads(json.dumps(write_bundle(chunked, tmp_path, name="c")))
    change(manifest)
    with pytest.raises(ValueError, match=message):
        manifest_chunk(manifest)


def test_format_1_cannot_describe_two_cameras():
    net = random_net("tiny")
    with pytest.raises(ValueError, match="format_version 1"):
        ReflexNet(net.architecture, None, 4, 4, net.vocabulary, format_version=1,
                  cameras=[("image", (32, 32, 3)), ("wrist_image", (16, 16, 3))])
