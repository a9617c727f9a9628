import math

from reflex_model.bundle import build_manifest
from reflex_model.cost import cost_model
from reflex_model.testing import random_net


def test_tiny_by_hand():
    # tiny: d 32, m 64, 6 blocks, k 2, p 8, 32×32×3 → P 16, patch_dim 192, L 4, max pool → T 21,
    # D 4, LSTM 2 layers × 24, head MLP 32, A 4, V 13.
    cost = cost_model(build_manifest(random_net("tiny"), "tiny"))
    assert cost["embed_flops"] == 2 * 16 * 192 * 32 + 2 * 4 * 32 == 196864
    assert cost["block_flops"] == 129024 + 56448 + 43008 + 172032 == 400512
    assert cost["head_flops"] == 10752 + 9216 + 1536 + 256 == 21760
    assert [e["flops"] for e in cost["exits"]] == [1041408, 1864192, 2686976]
    assert math.isclose(cost["exits"][0]["gflops"], 0.001041408)
    # Elements: embeddings 6176 + 160 + 416 + 672 = 7424; head 5472 + 4704 + 932 = 11108;
    # an exit norm 64; a block 8544.
    assert [e["resident_bytes"] for e in cost["exits"]] == [
        4 * (7424 + 11108 + 2 * 64 + 2 * 8544),
        4 * (7424 + 11108 + 3 * 64 + 4 * 8544),
        4 * (7424 + 11108 + 4 * 64 + 6 * 8544)] == [142992, 211600, 280208]


def test_full_depth_resident_bytes_are_every_parameter():
    for name in ("tiny", "tiny-readout"):
        net = random_net(name)
        cost = cost_model(build_manifest(net, name))
        assert cost["exits"][-1]["resident_bytes"] == 4 * sum(p.numel() for p in net.parameters())


def test_readout_counts_its_token():
    # tiny-readout: 24×40 image → 3×5 = 15 patches; T = 1 + 4 + 15 + 1 = 21; k 1.
    cost = cost_model(build_manifest(random_net("tiny-readout"), "tiny-readout"))
    T, d, m = 21, 32, 64
    assert cost["block_flops"] == 2 * T * d * 3 * d + 4 * T * T * d + 2 * T * d * d + 4 * T * d * m
    head = 2 * (32 + 24) * 4 * 24 + 2 * 24 * 32 + 2 * 32 * 4
    assert cost["exits"][0]["flops"] == cost["embed_flops"] + cost["block_flops"] + 2 * head
