"""A model that produces NaN never reaches a robot: the step is answered `internal`, counted,
nothing is published, and the daemon keeps serving (CONTRACT section 5)."""
import shutil

import numpy as np
import pytest
import zmq
from safetensors.numpy import load_file, save_file

from reflex_client import ReflexError

from .harness import FIXTURE, INSTRUCTION, observation


@pytest.fixture
def nan_bundle(tmp_path):
    """The tiny fixture with one NaN in the action head's last bias: every action is NaN."""
    bundle = tmp_path / "nan-model"
    shutil.copytree(FIXTURE, bundle)
    weights = load_file(str(bundle / "weights.safetensors"))
    bias = weights["head.mlp.fc2.bias"].copy()
    bias[0] = np.nan
    weights["head.mlp.fc2.bias"] = bias
    save_file(weights, str(bundle / "weights.safetensors"))
    return bundle


def test_a_nan_action_is_an_internal_error_never_sent_or_published(start_daemon, nan_bundle):
    daemon = start_daemon({"model": str(nan_bundle)})
    context = zmq.Context.instance()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(daemon.actions)
    with daemon.client() as client, daemon.control_client() as control:
        image, state = observation(0)
        for _ in range(3):
            with pytest.raises(ReflexError) as error:
                client.step("nan-1", INSTRUCTION, image=image, state=state)
            assert error.value.code == "internal"
            assert "non-finite" in error.value.message
        assert sub.poll(timeout=300) == 0          # nothing was published
        stats = control.stats()
        assert stats["errors"] == {"internal": 3}
        assert stats["steps"] == 0
        assert client.ping()["type"] == "pong"    # still serving
    sub.close(linger=0)
    assert "non-finite action" in daemon.log()
