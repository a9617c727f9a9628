"""The failure classes of failures.py, on hand-made observations, and the expert's run on a real
Meta-World layout."""
import numpy as np

from reflex_metaworld import failures as F
from reflex_metaworld.rollout import Scene


def obs(hand_x, object_x):
    """Hand at (hand_x, 0.6, 0.1), object at (object_x, 0.6, 0.02)."""
    o = np.zeros(39)
    o[0:3] = [hand_x, 0.6, 0.1]
    o[4:7] = [object_x, 0.6, 0.02]
    return o


def test_a_hand_that_never_comes_near_is_no_reach():
    tr = F.ObjectTrack(obs(-0.3, 0.0))
    tr.update(obs(-0.2, 0.0), {})
    assert tr.min_hand_m > F.NEAR_M and tr.outcome(False) == "no_reach"
    assert tr.outcome(True) == "success"


def test_reaching_without_moving_the_object_is_no_move():
    tr = F.ObjectTrack(obs(-0.3, 0.0))
    tr.update(obs(0.0, 0.0), {})        # 8 cm above: not near
    assert tr.outcome(False) == "no_reach"
    o = obs(0.0, 0.015)
    o[2] = 0.04                         # hand 2 cm above the object: near; object moved 1.5 cm
    tr.update(o, {"grasp_success": 1.0})
    assert tr.min_hand_m < F.NEAR_M and tr.max_moved_m < F.MOVED_M and tr.outcome(False) == "no_move"
    assert tr.grasped


def test_a_moved_object_that_misses_keeps_the_closest_and_final_distances_the_task_reports():
    tr = F.ObjectTrack(obs(-0.3, 0.0))
    carried = obs(0.25, 0.25)
    carried[2] = 0.04
    tr.update(carried, {"obj_to_target": 0.05, "grasp_success": 0.0})
    tr.update(obs(0.2, 0.2), {"obj_to_target": 0.10})
    assert tr.outcome(False) == "moved_not_placed" and not tr.grasped
    assert (tr.min_to_target, tr.final_to_target) == (0.05, 0.10)


def test_summary_counts_classes_and_the_failures_the_expert_solves():
    records = [{"task": "t", "outcome": "success", "expert_success": True, "grasped": True, "min_to_target": 0.0},
               {"task": "t", "outcome": "no_move", "expert_success": True, "grasped": False, "min_to_target": 0.2},
               {"task": "t", "outcome": "moved_not_placed", "expert_success": False, "grasped": True, "min_to_target": 0.04}]
    s = F.summary(records)["t"]
    assert (s["episodes"], s["success"], s["no_move"], s["moved_not_placed"], s["no_reach"]) == (3, 1, 1, 1, 0)
    assert s["grasped"] == 2 and s["expert_success"] == 2 and s["failures_where_expert_succeeds"] == 1
    assert abs(s["median_min_to_target_of_failures"] - 0.12) < 1e-9


def test_the_scripted_expert_solves_an_easy_evaluation_layout():
    scene = Scene("drawer-open-v3")
    try:
        assert F.expert_succeeds(scene, 0)
    finally:
        scene.close()
