"""Puts tools/ on sys.path (so that plain `python -m pytest tools/reflex_model/tests` works) and
keeps torch to one thread: the machine is shared."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
torch.set_num_threads(1)

from reflex_model.testing import random_net  # noqa: E402


@pytest.fixture(params=["tiny", "tiny-readout", "tiny-chunked"])
def net(request):
    return random_net(request.param)
