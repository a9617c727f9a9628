"""A format 1 bundle's replies are byte for byte what they were before format 2 (CONTRACT 5):
the same header bytes (timings aside) and the same action bytes, at full depth and under a budget."""
import json

from .v1_replies import GOLDEN, record


def test_v1_replies_are_byte_for_byte_unchanged():
    golden = json.loads(GOLDEN.read_text())
    now = record()
    assert set(now) == set(golden)
    for setting in golden:
        exits = {json.loads(header)["exit"] for header, _ in golden[setting]}
        if setting == "half":
            assert len(exits) > 1, exits          # the budget makes the daemon take several exits
        for step, (got, want) in enumerate(zip(now[setting], golden[setting])):
            assert got == want, f"{setting} reply {step}"
        assert len(now[setting]) == len(golden[setting]) == 13
