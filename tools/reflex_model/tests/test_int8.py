import copy
import json

import torch
from safetensors.torch import load_file

from reflex_model.bundle import read_bundle, round_to_storage, write_bundle
from reflex_model.quantization import dequantize_matrix, matrix_names, quantize_matrix
from reflex_model.testing import random_net


def test_quantize_matrix_is_symmetric_per_output_column_and_within_half_a_step():
    torch.manual_seed(0)
    w = torch.randn(40, 7) * torch.tensor([1e-3, 0.1, 1, 10, 0, 3, 0.5])
    q, scale = quantize_matrix(w)
    assert q.dtype == torch.int8 and scale.shape == (7,)
    assert int(q.abs().max()) == 127 and int(q.min()) >= -127
    assert float(scale[4]) == 0 and int(q[:, 4].abs().max()) == 0       # an all-zero column
    err = (dequantize_matrix(q, scale) - w).abs()
    assert bool((err <= scale / 2 * (1 + 1e-5) + 1e-12).all())


def test_int8_bundle_holds_int8_matrices_and_reads_back_as_the_fake_quantised_net(tmp_path):
    net = random_net("tiny")
    manifest = write_bundle(net, tmp_path, name="q", storage_dtype="int8")
    names = matrix_names(net.dims)
    assert manifest["quantization"] == {"dtype": "int8", "tensors": names}
    assert "word_embedding" not in names and "head.lstm.0.weight_ih" in names
    stored = load_file(str(tmp_path / "weights.safetensors"))
    for name in names:
        assert stored[name].dtype == torch.int8
        assert stored[name + ".scale"].dtype == torch.float32
        assert stored[name + ".scale"].shape == (stored[name].shape[1],)
    assert stored["word_embedding"].dtype == torch.float32
    loaded, read_manifest = read_bundle(tmp_path)
    assert read_manifest == json.loads(json.dumps(manifest))
    reference = round_to_storage(copy.deepcopy(net), "int8")
    for (n1, p1), (n2, p2) in zip(reference.state_dict().items(), loaded.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2), n1
    # Writing the fake-quantised net again stores the same values and scales.
    write_bundle(loaded, tmp_path / "again", name="q", storage_dtype="int8")
    again = load_file(str(tmp_path / "again" / "weights.safetensors"))
    assert all(torch.equal(stored[k], again[k]) for k in stored)


def test_int8_bundle_with_a_float_tensor_listed_as_int8_is_rejected(tmp_path):
    net = random_net("tiny")
    write_bundle(net, tmp_path, name="q")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["quantization"] = {"dtype": "int8", "tensors": ["state_proj.weight"]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    try:
        read_bundle(tmp_path)
    except ValueError as error:
        assert "state_proj.weight" in str(error)
    else:
        raise AssertionError("a float tensor listed as int8 was accepted")


def test_cost_model_counts_int8_matrices_at_one_byte_per_weight_plus_scales(tmp_path):
    from reflex_model.cost import cost_model
    net = random_net("tiny")
    floats = write_bundle(net, tmp_path / "f", name="f")
    int8 = write_bundle(net, tmp_path / "q", name="q", storage_dtype="int8")
    names = set(matrix_names(net.dims))
    params = {n: p for n, p in net.state_dict().items()}
    saved = sum(3 * p.numel() - 4 * p.shape[0] for n, p in params.items() if n in names)   # [out, in] in PyTorch
    full_f, full_q = cost_model(floats)["exits"][-1], cost_model(int8)["exits"][-1]
    assert full_f["resident_bytes"] - full_q["resident_bytes"] == saved
    assert full_f["flops"] == full_q["flops"]


def test_quantize_command_writes_a_readable_int8_bundle_with_the_calibration_copied(tmp_path):
    from reflex_model.bundle import read_calibration
    from reflex_model.quantize import main
    net = random_net("tiny")
    write_bundle(net, tmp_path / "f", name="f", calibration=torch.rand(5, net.num_exits))
    main([str(tmp_path / "f"), "--out", str(tmp_path / "q"), "--report", str(tmp_path / "r.json"), "--threads", "1"])
    loaded, manifest = read_bundle(tmp_path / "q")
    assert manifest["quantization"]["tensors"] == matrix_names(net.dims)
    assert "copied" in manifest["quantized_from"]["calibration"]
    assert torch.equal(read_calibration(tmp_path / "q", manifest), read_calibration(tmp_path / "f", manifest))
    reference = round_to_storage(copy.deepcopy(net), "int8")
    assert all(torch.equal(a, b) for a, b in zip(reference.state_dict().values(), loaded.state_dict().values()))
    report = json.loads((tmp_path / "r.json").read_text())
    assert all(f > q for f, q in zip(report["resident_bytes"]["float32"], report["resident_bytes"]["int8"]))
