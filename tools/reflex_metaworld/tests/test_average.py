"""Weight averaging (average.py): the interpolation itself, the manifest check, and a whole run
on tiny bundles written from the pipeline's fixtures."""
import json

import pytest
import torch
from test_model_pipeline import TASK, dart  # noqa: F401  (the fixture)
from test_train import TINY

from reflex_metaworld import average as AV
from reflex_metaworld import dataset as DS
from reflex_model.bundle import read_bundle, write_bundle
from reflex_model.network import ReflexNet


def tiny(seed):
    torch.manual_seed(seed)
    return ReflexNet(dict(TINY, patch_size=16), (96, 96, 3), 4, 4, DS.build_vocabulary(),
                     criterion_dims=(0, 1, 2)).eval()


def test_the_average_is_the_elementwise_interpolation():
    a, b = tiny(1), tiny(2)
    sa = {k: v.clone() for k, v in a.state_dict().items()}
    sb = b.state_dict()
    out = AV.average(a, b, 0.25).state_dict()
    for k in sa:
        assert torch.allclose(out[k], 0.75 * sa[k] + 0.25 * sb[k], atol=1e-7), k
    assert torch.equal(AV.average(tiny(1), b, 1.0).state_dict()[k], sb[k])
    with pytest.raises(ValueError):
        AV.average(tiny(1), b, 1.5)


def test_manifests_that_differ_in_meaning_are_refused():
    m = {"architecture": {"width": 8}, "criterion": {"dims": [0, 1, 2]}}
    assert AV.mismatch(m, json.loads(json.dumps(m))) is None
    assert AV.mismatch(m, {**m, "criterion": {"dims": [0, 1, 2, 3]}}) == "criterion"


def test_a_run_writes_a_calibrated_bundle_of_the_average(dart, tmp_path):  # noqa: F811
    d, _ = dart
    obs = {"tasks": [{"name": TASK, "instruction": "x"}], "camera": "corner", "image_size": 96}
    for name, seed in (("a", 1), ("b", 2)):
        write_bundle(tiny(seed), tmp_path / name, name="tiny", observation=obs)
    assert AV.main([str(tmp_path / "a"), str(tmp_path / "b"), "--alpha", "0.5", "--demos", str(d),
                    "--out", str(tmp_path / "avg"), "--threads", "1"]) == 0
    net, manifest = read_bundle(tmp_path / "avg")
    a, _ = read_bundle(tmp_path / "a")
    b, _ = read_bundle(tmp_path / "b")
    k = next(iter(a.state_dict()))
    assert torch.allclose(net.state_dict()[k], 0.5 * (a.state_dict()[k] + b.state_dict()[k]), atol=1e-6)
    assert manifest["calibration"] and manifest["training"]["average"]["alpha"] == 0.5
    assert len(manifest["training"]["val_huber_per_exit_forced"]) == net.num_exits
