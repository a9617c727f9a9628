"""The phase labels of the exit-per-phase plot (phase_exits.py), on hand-made observations."""
import numpy as np

from reflex_metaworld import phase_exits as P


class Gripper:
    """An 'expert' whose gripper command is set by the test (action[3] > 0 closes)."""

    def __init__(self):
        self.grip = -1.0

    def get_action(self, obs):
        return np.array([0, 0, 0, self.grip], np.float32)


def obs_with_object_at(x):
    obs = np.zeros(39)
    obs[4:7] = [x, 0.6, 0.02]
    return obs


def test_phases_follow_the_object_and_the_experts_gripper():
    expert = Gripper()
    tracker = P.PhaseTracker(expert, obs_with_object_at(0.0))
    assert tracker.phase(obs_with_object_at(0.005)) == "approach"     # moved < 1 cm, gripper open
    expert.grip = 1.0
    assert tracker.phase(obs_with_object_at(0.005)) == "grasp"
    assert tracker.phase(obs_with_object_at(0.05)) == "transport"     # carried 5 cm, gripper closed
    expert.grip = -1.0
    assert tracker.phase(obs_with_object_at(0.10)) == "release"       # opened after having closed


def test_an_object_pushed_with_an_open_gripper_is_transport_not_release():
    tracker = P.PhaseTracker(Gripper(), obs_with_object_at(0.0))
    assert tracker.phase(obs_with_object_at(0.03)) == "transport"


def test_summary_is_the_mean_exit_per_phase_in_phase_order():
    records = [{"phase": "transport", "exit": 6}, {"phase": "approach", "exit": 1},
               {"phase": "transport", "exit": 4}, {"phase": "approach", "exit": 2}]
    assert P.summary(records) == {"approach": {"steps": 2, "mean_exit": 1.5},
                                  "transport": {"steps": 2, "mean_exit": 5.0}}
