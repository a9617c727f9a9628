"""A format 1 bundle's replies are what they were before format 2 (CONTRACT 5): the same header
bytes (timings aside) at full depth and under a budget, and action frames of the same layout
(float32 little-endian, [D]) whose values agree with the recorded ones to 1e-5. The values are not
compared bit for bit: a change of GEMM kernel (issue 15's packed kernel) reorders float sums, which
moves the last bit of some actions; the wire format is what must not change."""
import json

import numpy as np

from .v1_replies import GOLDEN, record


def test_v1_replies_are_unchanged():
    golden = json.loads(GOLDEN.read_text())
    now = record()
    assert set(now) == set(golden)
    for setting in golden:
        exits = {json.loads(header)["exit"] for header, _ in golden[setting]}
        if setting == "half":
            assert len(exits) > 1, exits          # the budget makes the daemon take several exits
        for step, ((header, action), (want_header, want_action)) in enumerate(zip(now[setting], golden[setting])):
            assert header == want_header, f"{setting} reply {step}"
            got = np.frombuffer(bytes.fromhex(action), "<f4")
            want = np.frombuffer(bytes.fromhex(want_action), "<f4")
            assert got.shape == want.shape, f"{setting} reply {step}"
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-5, err_msg=f"{setting} reply {step}")
        assert len(now[setting]) == len(golden[setting]) == 13
