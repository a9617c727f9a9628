"""Small random networks and observations for tests (of this package and of the tools that use it)."""
import numpy as np
import torch

from .make_fixtures import FIXTURES, build_net


def random_net(name: str = "tiny", seed: int = 1):
    torch.manual_seed(seed)
    return build_net(FIXTURES[name], np.random.default_rng(seed))


def random_obs(net, seed: int = 0, instruction: str = "open the drawer"):
    rng = np.random.default_rng(seed)
    dm = net.dims
    obs = {name: rng.integers(0, 256, (H, W, C), dtype=np.uint8) for name, H, W, C in dm.cameras}
    obs.update(state=rng.standard_normal(dm.D).astype(np.float32), instruction=instruction)
    return obs
