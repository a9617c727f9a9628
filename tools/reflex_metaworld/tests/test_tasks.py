import numpy as np
import pytest

pytest.importorskip("metaworld")

from reflex_metaworld import tasks as T  # noqa: E402


def test_twelve_tasks_with_instructions():
    assert len(T.TASKS) == 12
    assert len(set(T.TASK_NAMES)) == 12
    instructions = [t.instruction for t in T.TASKS]
    assert all(isinstance(s, str) and s.strip() == s and len(s) > 3 for s in instructions)
    assert len(set(instructions)) == 12, "instructions must tell tasks apart"
    expected = {
        "drawer-open-v3": "open the drawer",
        "drawer-close-v3": "close the drawer",
        "faucet-open-v3": "turn on the faucet",
        "faucet-close-v3": "turn off the faucet",
        "button-press-topdown-v3": "press the button",
        "door-open-v3": "open the door",
    }
    for name, words in expected.items():
        assert T.INSTRUCTIONS[name] == words
    for base in ("window-open", "window-close", "assembly", "hammer", "bin-picking", "peg-insert-side"):
        assert base + "-v3" in T.INSTRUCTIONS
    assert [d["name"] for d in T.task_list()] == list(T.TASK_NAMES)
    assert [d["instruction"] for d in T.task_list()] == instructions


def test_tasks_exist_in_metaworld_with_experts():
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS
    from metaworld.policies import ENV_POLICY_MAP
    for t in T.TASKS + T.SPARE_TASKS:
        assert t.name in ALL_V3_ENVIRONMENTS
        assert t.name in ENV_POLICY_MAP
        assert 0 < t.max_steps <= 500  # Meta-World truncates at 500


def test_seeds_disjoint():
    assert T.TRAIN_SEED == T.TRAIN_SEEDS[0]
    assert T.VAL_SEED not in T.TRAIN_SEEDS
    assert T.EVAL_SEED not in T.TRAIN_SEEDS
    assert T.EVAL_SEED != T.VAL_SEED


def test_state_slice_is_hand_and_gripper():
    assert T.STATE_SLICE == (0, 4) and T.STATE_DIM == 4
    env = T.make_env("drawer-open-v3")
    T.set_layout(env, T.layouts("drawer-open-v3", T.TRAIN_SEED)[0])
    obs, _ = env.reset()
    s = T.state_of(obs)
    assert s.dtype == np.float32 and s.shape == (4,)
    np.testing.assert_allclose(s, obs[0:4].astype(np.float32))
    np.testing.assert_allclose(s[:3], env.tcp_center, atol=0.05)  # the hand, not an object
    assert 0.0 <= s[3] <= 1.0  # gripper opening, normalised
    env.close()


@pytest.mark.parametrize("name", ["drawer-open-v3", "peg-insert-side-v3"])
def test_train_and_eval_layouts_differ(name):
    def vecs(seed):
        env = T.make_env(name)
        rows = []
        for lay in T.layouts(name, seed)[:20]:
            T.set_layout(env, lay)
            obs, _ = env.reset()
            rows.append(T.layout_of(obs))
        env.close()
        return np.stack(rows)

    train = vecs(T.TRAIN_SEED)
    ev = vecs(T.EVAL_SEED)
    assert train.shape == ev.shape == (20, 9)
    d, idx = T.nearest_layout_distances(ev, train)
    assert d.shape == (20,) and idx.shape == (20,)
    assert (d > 0).all(), "an evaluation layout equals a training layout"
    # the layout vector really varies within a seed
    assert np.ptp(train, axis=0).max() > 0.01


def test_nearest_layout_distances_helper():
    train = np.array([[0.0, 0.0], [1.0, 0.0]])
    ev = np.array([[0.9, 0.0], [0.0, 0.3], [0.5, 0.0]])
    d, idx = T.nearest_layout_distances(ev, train)
    np.testing.assert_allclose(d, [0.1, 0.3, 0.5])
    assert list(idx[:2]) == [1, 0]
    with pytest.raises(ValueError):
        T.nearest_layout_distances(np.zeros((2, 3)), np.zeros((2, 2)))
