"""The model pipeline's new pieces at reduced size, on the real simulator and real PyTorch:
DART demonstrations (noisy execution, clean labels, full observation kept), the training-only
auxiliary heads (the exported bundle is unchanged), and a DAgger round (learner rollouts labelled
by the expert, aggregated into the training data)."""

import numpy as np
import pytest
import torch
from test_train import TASKS, TINY, write_demos
from test_train import args as train_args

from reflex_metaworld import add_camera as AC
from reflex_metaworld import dagger as DG
from reflex_metaworld import dataset as DS
from reflex_metaworld import demos as D
from reflex_metaworld import exit_errors as EE
from reflex_metaworld import proxy as PX
from reflex_metaworld import render as R
from reflex_metaworld import tasks as T
from reflex_metaworld import train as TR
from reflex_model.bundle import read_bundle, write_bundle
from reflex_model.network import ReflexNet

TASK = "drawer-open-v3"


@pytest.fixture(scope="module")
def dart(tmp_path_factory):
    """One noisy training episode and one clean validation episode of drawer-open, 96 px."""
    d = tmp_path_factory.mktemp("dart")
    meta = D.generate_split(TASK, "train", 1, 96, "corner", d, noise_std=0.3, noise_seed=5)
    D.generate_split(TASK, "val", 1, 96, "corner", d)
    return d, meta


def test_dart_executes_noise_but_records_the_clean_expert_label(dart):
    d, meta = dart
    z = D.load(d / f"{TASK}.npz")
    n = len(z["actions"])
    assert meta["noise"]["std"] == 0.3 and z["obs"].shape == (n, 39) and z["executed"].shape == (n, 4)
    assert np.array_equal(z["obs"][:, :4], z["states"])
    policy = T.expert(TASK)
    labels = np.stack([T.expert_action(policy, o.astype(np.float64)) for o in z["obs"]])
    np.testing.assert_allclose(z["actions"], labels, atol=1e-5)   # label = clean expert on the visited state
    noise = z["executed"] - z["actions"]
    assert np.abs(noise[:, :3]).mean() > 0.1                      # the motion executed was noisy
    assert np.array_equal(noise[:, 3], np.zeros(n, np.float32))   # the gripper was not
    # the simulator ran exactly `executed`: replaying it from the reset reproduces the observations
    env = T.make_env(TASK)
    T.set_layout(env, T.layouts(TASK, int(z["episode_seed"][0]))[int(z["episode_layout_index"][0])])
    obs, _ = env.reset()
    for t in range(n):
        np.testing.assert_allclose(obs, z["obs"][t], atol=1e-5)
        obs, *_ = env.step(z["executed"][t])
    env.close()
    v = D.load(d / f"{TASK}-val.npz")
    assert np.array_equal(v["executed"], v["actions"])            # validation: no noise


def test_aux_forward_equals_the_reference_window():
    torch.manual_seed(0)
    net = ReflexNet(TINY, (16, 16, 3), 4, 4, DS.build_vocabulary())
    g = torch.Generator().manual_seed(1)
    img = torch.randint(0, 256, (2, 3, 16, 16, 3), generator=g, dtype=torch.uint8)
    st, words = torch.randn(2, 3, 4, generator=g), torch.randint(0, 5, (2, TINY["instruction_tokens"]))
    exits = torch.randint(1, net.num_exits + 1, (2, 3), generator=g)
    y0, (h0, c0) = net.forward_window(img, st, words, exits)
    y1, (h1, c1), feats = TR.forward_window(net, img, st, words, exits, None)
    assert torch.equal(y0, y1) and torch.equal(h0, h1) and torch.equal(c0, c1)
    assert feats.shape == (2, 3, net.num_exits + 1, TINY["width"])


def write_demos_with_obs(directory, task, split, episodes, seed):
    """test_train's synthetic demos plus a full observation whose object position follows the
    image's brightness (so the auxiliary heads can learn it)."""
    write_demos(directory, task, split, episodes, seed)
    path = DS.demo_path(directory, task, split)
    z = dict(np.load(path))
    n = len(z["states"])
    obs = np.zeros((n, 39), np.float32)
    obs[:, :4] = z["states"]
    obs[:, 4:7] = z["images"][:, 0, 0, :1] / 255.0 * 0.2
    obs[:, 36:39] = 0.1 * seed
    np.savez(path, **z, obs=obs)


def test_aux_heads_train_and_are_dropped_at_export(tmp_path):
    demos = tmp_path / "demos"
    demos.mkdir()
    for k, task in enumerate(TASKS):
        write_demos_with_obs(demos, task, "train", 4, k)
        write_demos_with_obs(demos, task, "val", 2, 100 + k)

    assert TR.main(train_args(demos, tmp_path / "plain", "--steps", "30")) == 0
    assert TR.main(train_args(demos, tmp_path / "aux", "--steps", "30", "--aux-weight", "1.0")) == 0
    plain, mp = read_bundle(tmp_path / "plain" / "bundle")
    aux, ma = read_bundle(tmp_path / "aux" / "bundle")
    # the same tensors, names and shapes, and the same inputs: the heads are training-only
    assert {k: tuple(v.shape) for k, v in plain.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in aux.state_dict().items()}
    assert not any("aux" in k for k in aux.state_dict())
    assert ma["inputs"] == mp["inputs"] and ma["architecture"] == mp["architecture"]
    from safetensors import safe_open
    with safe_open(str(tmp_path / "aux" / "bundle" / "weights.safetensors"), "pt") as f:
        names_aux = set(f.keys())
    with safe_open(str(tmp_path / "plain" / "bundle" / "weights.safetensors"), "pt") as f:
        assert names_aux == set(f.keys())
    assert "auxiliary" in ma["training"]["loss"]
    # the auxiliary loss is logged per exit and falls
    rows = (tmp_path / "aux" / "work" / "train.csv").read_text().splitlines()
    header = rows[0].split(",")
    cols = [header.index(f"aux_e{i}") for i in range(1, 4)]
    a = np.array([[float(r.split(",")[c]) for c in cols] for r in rows[1:]])
    assert a.shape == (30, 3) and a[-5:].mean() < a[:5].mean()
    ck = torch.load(tmp_path / "aux" / "work" / "ckpt.pt", weights_only=False)
    assert ck["aux"] is not None and np.array(ck["aux_norm"]["std"]).shape == (2, 9)
    # resume with the auxiliary heads continues exactly
    split = tmp_path / "split"
    assert TR.main(train_args(demos, split, "--steps", "30", "--aux-weight", "1.0", "--stop-after", "10")) == 0
    assert TR.main(train_args(demos, split, "--steps", "30", "--aux-weight", "1.0", "--resume")) == 0
    b, _ = read_bundle(split / "bundle")
    for (name, x), (_, y) in zip(aux.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name


def test_dagger_round_labels_the_learners_states_and_aggregates(dart, tmp_path):
    d, _ = dart
    torch.manual_seed(0)
    arch = dict(TINY, patch_size=16)
    net = ReflexNet(arch, (96, 96, 3), 4, 4, DS.build_vocabulary(), criterion_dims=(0, 1, 2))
    write_bundle(net, tmp_path / "tiny", name="tiny")
    assert DG.main(["--model", str(tmp_path / "tiny"), "--demos", str(d), "--round", "1",
                    "--tasks", TASK, "--episodes", "2", "--max-steps", "12"]) == 0
    z = D.load(d / f"{TASK}-dagger1.npz")
    n = len(z["actions"])
    assert n == 24 and list(z["episode_length"]) == [12, 12]
    assert z["meta"]["layouts"] == [[T.TRAIN_SEEDS[1], 0], [T.TRAIN_SEEDS[1], 1]]
    policy = T.expert(TASK)
    labels = np.stack([T.expert_action(policy, o.astype(np.float64)) for o in z["obs"]])
    np.testing.assert_allclose(z["actions"], labels, atol=1e-5)     # expert labels
    assert np.abs(z["executed"] - z["actions"]).max() > 0.01        # the learner acted
    # the first executed action is the learner's own (its first step from a reset; exit drawn
    # per step, so compare with the read it could have used: one of its E exits)
    r = net.eval().step({"image": torch.from_numpy(z["images"][0]), "state": torch.from_numpy(z["states"][0]),
                         "instruction": T.INSTRUCTIONS[TASK]}, None, stop_rule=lambda i, dd: False)
    assert any(np.allclose(z["executed"][0], a, atol=1e-6) for a in r.actions[1:].numpy())
    # aggregation: the demonstrations and the round, one training set
    vocabulary = DS.build_vocabulary()
    one = DS.load_split(d, "train", [TASK], vocabulary, TINY["instruction_tokens"])
    both = DS.load_split(d, ["train", "dagger1"], [TASK], vocabulary, TINY["instruction_tokens"])
    assert both.frames == one.frames + n and both.episodes == one.episodes + 2
    assert torch.equal(both.actions[one.frames:], torch.from_numpy(z["actions"]))
    assert bool(both.aux_valid.all()) and list(both.ep_task) == [0, 0, 0]
    # a round may cover some tasks only; a round no task has is an error
    other = "button-press-topdown-v3"
    D.generate_split(other, "train", 1, 96, "corner", d)
    mixed = DS.load_split(d, ["train", "dagger1"], [TASK, other], vocabulary, TINY["instruction_tokens"])
    other_frames = len(D.load(d / f"{other}.npz")["actions"])
    assert mixed.frames == both.frames + other_frames and list(mixed.ep_task) == [0, 0, 0, 1]
    with pytest.raises(FileNotFoundError, match="dagger9"):
        DS.load_split(d, ["train", "dagger9"], [TASK], vocabulary, TINY["instruction_tokens"])
    with pytest.raises(ValueError):
        DG.collect(net, TASK, 1, T.EVAL_SEED, 0, "random", 0.0, np.random.default_rng(0))


def test_dagger_round_of_a_zoomed_learner_keeps_both_views(dart, tmp_path):
    """A learner that sees `corner@30` acts on that view; the round stores the recording's own
    view as `images` and the learner's frames beside it, each equal to a replay of the round."""
    d, _ = dart
    torch.manual_seed(1)
    net = ReflexNet(dict(TINY, patch_size=16), (96, 96, 3), 4, 4, DS.build_vocabulary(), criterion_dims=(0, 1, 2))
    write_bundle(net, tmp_path / "zoom", name="zoom", observation=R.observation_spec(fovy=30))
    assert DG.main(["--model", str(tmp_path / "zoom"), "--demos", str(d), "--round", "4",
                    "--tasks", TASK, "--episodes", "2", "--max-steps", "10"]) == 0
    path = d / f"{TASK}-dagger4.npz"
    z = D.load(path)
    assert z["meta"]["learner_view"] == "corner@30" and len(z["images"]) == 20
    zoomed = DS.camera_frames(path, "corner@30", 20)
    assert not np.array_equal(zoomed, z["images"])
    # both are the frames of the states the round visited: a replay renders them exactly
    np.testing.assert_array_equal(AC.replay_file(path, TASK, "corner", 96, 1e-4)["images"], z["images"])
    np.testing.assert_array_equal(AC.replay_file(path, TASK, "corner", 96, 1e-4, fovy=30)["images"], zoomed)
    # the learner acted on its own view: its first action is a read of the zoomed frame
    r = net.eval().step({"image": torch.from_numpy(zoomed[0]), "state": torch.from_numpy(z["states"][0]),
                         "instruction": T.INSTRUCTIONS[TASK]}, None, stop_rule=lambda i, dd: False)
    assert any(np.allclose(z["executed"][0], a, atol=1e-6) for a in r.actions[1:].numpy())
    # training with --image-camera corner@30 aggregates the round without add_camera
    one = DS.load_split(d, ["dagger4"], [TASK], DS.build_vocabulary(), TINY["instruction_tokens"],
                        image_camera="corner@30")
    assert one.frames == 20 and torch.equal(one.images, torch.from_numpy(zoomed))


def test_proxy_runs_the_settings_on_held_out_layouts_and_resumes(tmp_path):
    torch.manual_seed(0)
    net = ReflexNet(dict(TINY, patch_size=16), (96, 96, 3), 4, 4, DS.build_vocabulary(), criterion_dims=(0, 1, 2))
    write_bundle(net, tmp_path / "tiny", name="tiny")
    out = tmp_path / "p.jsonl"
    argv = ["--model", str(tmp_path / "tiny"), "--tasks", TASK, "--episodes", "2", "--max-steps", "4",
            "--settings", "full,exit-1,frozen-image", "--out", str(out)]
    assert PX.main(argv) == 0
    recs = PX.read(out)
    assert len(recs) == 6 and {r["layout_seed"] for r in recs} == {T.EVAL_SEED}
    assert {r["layout_index"] for r in recs} == {0, 1} and all(r["steps"] == 4 for r in recs)
    by = {r["setting"]: r for r in recs if r["layout_index"] == 0}
    assert by["full"]["exits"] == [0, 0, 4] and by["exit-1"]["exits"] == [4, 0, 0]
    assert PX.main(argv) == 0 and len(PX.read(out)) == 6      # done episodes are skipped


def test_task_weights_draw_a_task_in_proportion_and_resume_exactly():
    """--task-weight: episodes of a task with weight w are drawn w times as often per task, however
    many episodes each task has; a stream restored from its state_dict continues identically."""
    assert TR.parse_task_weight("hammer-v3=3, assembly-v3=2.5") == {"hammer-v3": 3.0, "assembly-v3": 2.5}
    assert TR.parse_task_weight("") == {}
    with pytest.raises(ValueError):
        TR.parse_task_weight("hammer-v3")
    # the streams read only the episode table: 6 episodes of task a, 2 of task b
    table = type("EpisodeTable", (), {"episodes": 8, "task_names": ["a", "b"],
                                      "ep_task": np.array([0] * 6 + [1] * 2),
                                      "ep_start": np.arange(8) * 4, "ep_length": np.full(8, 4)})()
    streams = DS.EpisodeStreams(table, 2, 4, np.random.default_rng(0), {"b": 3.0})
    draws = np.array([streams._draw() for _ in range(20000)])
    share_b = np.isin(draws, [6, 7]).mean()
    assert abs(share_b - 0.75) < 0.02       # 3 : 1 by task, not 2 : 6 by episode
    with pytest.raises(ValueError):
        DS.EpisodeStreams(table, 2, 4, np.random.default_rng(0), {"c": 2.0})
    saved = streams.state_dict()
    rng_state = streams.rng.bit_generator.state
    first = [streams.next()[0].tolist() for _ in range(5)]
    again = DS.EpisodeStreams(table, 2, 4, np.random.default_rng(1), {"b": 3.0})
    again.load_state_dict(saved)
    again.rng.bit_generator.state = rng_state
    assert [again.next()[0].tolist() for _ in range(5)] == first


def test_exit_errors_reads_every_exit_and_bounds_the_criterion(dart):
    """exit_errors: one row per validation frame, every exit's error against the expert label
    and DeeR's distance; the report's oracle is never worse than the criterion or a random pick."""
    d, _ = dart
    torch.manual_seed(2)
    net = ReflexNet(dict(TINY, patch_size=16), (96, 96, 3), 4, 4, DS.build_vocabulary(),
                    criterion_dims=(0, 1, 2)).eval()
    val = DS.load_split(d, "val", [TASK], net.vocabulary, TINY["instruction_tokens"])
    err, dist = EE.exit_errors(net, val)
    E = net.num_exits
    assert err.shape == (val.frames, E) and dist.shape == (val.frames, E)
    # frame 0 from a reset, by hand: exit 2's error and distance
    r = net.step({"image": val.images[0], "state": val.states[0], "word_ids": val.word_ids[0]}, None)
    a2, label = r.actions[2, :3].numpy(), val.actions[0, :3].numpy()
    assert np.isclose(err[0, 1], np.sqrt(((a2 - label) ** 2).mean()), atol=1e-6)
    assert np.isclose(dist[0, 1], float(r.distances[1]), atol=1e-6)
    a0, a1 = r.actions[0, :3].numpy(), r.actions[1, :3].numpy()      # the reference read and exit 1
    assert np.isclose(dist[0, 0], np.sqrt(((a1 - a0) ** 2).mean()), atol=1e-6)
    costs = [(i + 1) / E for i in range(E)]
    out = EE.report(err, dist, costs, budget=0.6, shares=(0.2,))
    row = out["shares"]["0.2"]
    assert row["oracle_err"] <= min(row["criterion_err"], row["dist1_err"], row["random_err"]) + 1e-9
    assert out["spearman_dist1_vs_exit1_excess_err"] == round(EE.spearman(dist[:, 0], err[:, 0] - err[:, -1]), 3)
    assert E == 3      # costs 1/3, 2/3, 1: a budget of 0.6 is exits 1 and 2 mixed 0.2 : 0.8
    assert np.isclose(out["fixed_depth_err"], 0.2 * err[:, 0].mean() + 0.8 * err[:, 1].mean(), atol=1e-4)
    assert np.isclose(EE.spearman(np.arange(5.0), np.arange(5.0) ** 3), 1.0)    # monotone: ranks agree
    assert np.isclose(EE.spearman(np.arange(5.0), -np.arange(5.0)), -1.0)


def test_closed_loop_exit_errors_follow_the_committed_exit_and_read_every_exit():
    """--closed-loop: the learner acts with the committed exit's action, and every exit's error is
    against the expert's label for the state the learner visited."""
    torch.manual_seed(3)
    net = ReflexNet(dict(TINY, patch_size=16), (96, 96, 3), 4, 4, DS.build_vocabulary(),
                    criterion_dims=(0, 1, 2)).eval()
    layouts = T.layouts(TASK, T.TRAIN_SEEDS[-1])[:2]
    runs = {c: EE.closed_loop_exit_errors(net, TASK, layouts, c, max_steps=5) for c in (1, net.num_exits)}
    for err, dist, ok in runs.values():
        assert err.shape == (10, net.num_exits) and dist.shape == (10, net.num_exits)
        assert ok == [False, False]            # an untrained net does not open the drawer in 5 steps
    # the first step of both runs is the same state (the layout's reset): the same reads
    np.testing.assert_allclose(runs[1][0][0], runs[net.num_exits][0][0], atol=1e-9)
    # by hand: commit exit 1 on the second layout, its first two steps
    scene = EE.RO.Scene(TASK)
    try:
        T.set_layout(scene.env, layouts[1])
        obs, _ = scene.env.reset()
        r = net.step({"image": torch.from_numpy(scene.camera.render()), "state": torch.from_numpy(T.state_of(obs)),
                      "instruction": T.INSTRUCTIONS[TASK]}, None)
        obs, *_ = scene.env.step(r.actions[1].numpy().astype(np.float32))
        r2 = net.step({"image": torch.from_numpy(scene.camera.render()), "state": torch.from_numpy(T.state_of(obs)),
                       "instruction": T.INSTRUCTIONS[TASK]}, r.states[1])
        label = T.expert_action(scene.policy, obs)[:3]
        expected = np.sqrt(((r2.actions[1:, :3].numpy() - label) ** 2).mean(-1))
        np.testing.assert_allclose(runs[1][0][6], expected, atol=1e-6)
        np.testing.assert_allclose(runs[1][1][6], r2.distances.numpy(), atol=1e-6)
    finally:
        scene.close()
    # the two commits drive the robot apart: the states (and so the reads) differ after step 1
    assert not np.allclose(runs[1][0][1:5], runs[net.num_exits][0][1:5])
    with pytest.raises(ValueError, match="commit exit"):
        EE.closed_loop_exit_errors(net, TASK, layouts, 0, max_steps=1)


def test_make_trace_takes_the_bundles_view_and_refuses_a_wrong_frame_size(dart, tmp_path):
    """make_trace --model: the frames the bundle sees, shape-checked; missing demonstrations and
    a bundle of another image size get an error that says what to run."""
    from reflex_metaworld import make_trace as MT
    d, _ = dart
    torch.manual_seed(4)
    arch = dict(TINY, patch_size=16)
    write_bundle(ReflexNet(arch, (96, 96, 3), 4, 4, DS.build_vocabulary(), criterion_dims=(0, 1, 2)), tmp_path / "b96", name="b96")
    write_bundle(ReflexNet(arch, (64, 64, 3), 4, 4, DS.build_vocabulary(), criterion_dims=(0, 1, 2)), tmp_path / "b64", name="b64")
    out = tmp_path / "trace"
    MT.main(["--demos", str(d), "--tasks", TASK, "--episodes", "1", "--model", str(tmp_path / "b96"), "--out", str(out)])
    val = D.load(d / f"{TASK}-val.npz")
    images = np.load(out / "images.npy")
    assert images.shape == val["images"].shape and np.array_equal(images, val["images"])
    assert set(np.load(out / "tasks.npy").tolist()) == {float(T.task_index(TASK))}
    with pytest.raises(SystemExit, match=r"takes \[64, 64, 3\].*--image-size 64"):
        MT.main(["--demos", str(d), "--tasks", TASK, "--model", str(tmp_path / "b64"), "--out", str(out)])
    with pytest.raises(SystemExit, match="no validation demonstrations of hammer-v3"):
        MT.main(["--demos", str(d), "--tasks", "hammer-v3", "--out", str(out)])
