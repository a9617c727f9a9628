"""Keeps torch to one thread (the machine is shared) and gives the tests the tiny networks."""
import pytest
import torch

from reflex_model.testing import random_net

torch.set_num_threads(1)


@pytest.fixture(params=["tiny", "tiny-readout", "tiny-chunked"])
def net(request):
    return random_net(request.param)
