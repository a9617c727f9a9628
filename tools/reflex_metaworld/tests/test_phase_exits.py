"""The phase labels of the exit-per-phase plot (phase_exits.py), on hand-made observations."""
import numpy as np

from reflex_metaworld import phase_exits as P


class Gripper:
    """An 'expert' whose gripper command is set by the test (action[3] > 0 closes)."""

    def __init__(self):
        self.grip = -1.0

    def get_action(self, obs):
        return np.array([0, 0, 0, self.grip], np.float32)


def obs(object_x, hand_x):
    """Object at (object_x, 0.6, 0.02), the hand at (hand_x, 0.6, 0.02)."""
    o = np.zeros(39)
    o[4:7] = [object_x, 0.6, 0.02]
    o[0:3] = [hand_x, 0.6, 0.02]
    return o


def test_phases_follow_the_hand_the_object_and_the_experts_gripper():
    expert = Gripper()
    tracker = P.PhaseTracker(expert, obs(0.0, 0.3))
    assert tracker.phase(obs(0.0, 0.3)) == "approach"                 # far, gripper open
    expert.grip = 1.0
    assert tracker.phase(obs(0.0, 0.2)) == "approach"                 # closing while still far
    assert tracker.phase(obs(0.01, 0.02)) == "grasp"                  # near, closing, moved < 2 cm
    assert tracker.phase(obs(0.10, 0.10)) == "transport"              # carried 10 cm
    expert.grip = -1.0
    assert tracker.phase(obs(0.15, 0.15)) == "release"                # opened after the grasp
    assert tracker.phase(obs(0.15, 0.40)) == "release"                # the hand leaves


def test_an_object_pushed_with_an_open_gripper_is_transport_not_release():
    tracker = P.PhaseTracker(Gripper(), obs(0.0, 0.2))
    assert tracker.phase(obs(0.05, 0.06)) == "transport"
    assert tracker.phase(obs(0.05, 0.40)) == "approach"               # pushed away, hand gone: not a release


def test_summary_is_the_mean_exit_per_phase_in_phase_order():
    records = [{"phase": "transport", "exit": 6}, {"phase": "approach", "exit": 1},
               {"phase": "transport", "exit": 4}, {"phase": "approach", "exit": 2}]
    assert P.summary(records) == {"approach": {"steps": 2, "mean_exit": 1.5},
                                  "transport": {"steps": 2, "mean_exit": 5.0}}
