"""Puts tools/ on sys.path (so that plain `python -m pytest tools/reflex_model/tests` works) and
keeps torch to one thread: the machine is shared."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
torch.set_num_threads(1)

from reflex_model.make_fixtures import FIXTURES, build_net  # noqa: E402


def random_net(name: str = "tiny", seed: int = 1):
    torch.manual_seed(seed)
    return build_net(FIXTURES[name], np.random.default_rng(seed))


def random_obs(net, seed: int = 0, instruction: str = "open the drawer"):
    rng = np.random.default_rng(seed)
    dm = net.dims
    return {"image": rng.integers(0, 256, (dm.H, dm.W, dm.C), dtype=np.uint8),
            "state": rng.standard_normal(dm.D).astype(np.float32),
            "instruction": instruction}


@pytest.fixture(params=["tiny", "tiny-readout"])
def net(request):
    return random_net(request.param)
