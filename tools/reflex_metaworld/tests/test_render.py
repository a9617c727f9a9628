import numpy as np
import pytest

pytest.importorskip("metaworld")
pytest.importorskip("mujoco")

from reflex_metaworld import render as R  # noqa: E402
from reflex_metaworld import tasks as T  # noqa: E402


@pytest.fixture(scope="module")
def scene():
    env = T.make_env("assembly-v3")
    T.set_layout(env, T.layouts("assembly-v3", T.TRAIN_SEED)[0])
    obs, _ = env.reset()
    cam = R.Camera(env)
    yield env, cam, obs
    cam.close()
    env.close()


def test_frame_shape_dtype_not_constant(scene):
    env, cam, _ = scene
    img = cam.render()
    assert img.shape == (96, 96, 3)
    assert img.dtype == np.uint8
    assert img.flags["C_CONTIGUOUS"]
    assert img.std() > 10, "a constant frame: nothing rendered"
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 50


def test_frame_is_flipped_upright(scene):
    env, cam, _ = scene
    r = cam._renderer
    img = cam.render()
    raw = r.render()  # the scene as last updated, unflipped
    np.testing.assert_array_equal(img, np.flipud(raw))
    # Upright: the top rows are the plain backdrop (one colour covers most of them, ~90%), which
    # does not appear in the bottom rows (table, floor). Unflipped, the top rows are the floor.
    def frac(rows, col):
        return (np.abs(rows.astype(int) - col).max(-1) <= 6).mean()

    vals, counts = np.unique(img[:12].reshape(-1, 3), axis=0, return_counts=True)
    backdrop = vals[counts.argmax()].astype(int)
    assert frac(img[:12], backdrop) > 0.6
    assert frac(img[-12:], backdrop) < 0.05


def test_frame_follows_the_robot(scene):
    env, cam, obs = scene
    a = cam.render()
    for _ in range(15):
        obs, *_ = env.step(np.array([1.0, 0.0, 0.0, 0.0], np.float32))
    b = cam.render()
    assert np.abs(a.astype(int) - b.astype(int)).sum() > 0


def test_other_size_and_settings():
    env = T.make_env("drawer-open-v3")
    T.set_layout(env, T.layouts("drawer-open-v3", T.TRAIN_SEED)[0])
    env.reset()
    with R.Camera(env, image_size=64) as cam:
        assert cam.render().shape == (64, 64, 3)
        s = cam.settings()
    env.close()
    assert s["camera"] == "corner" and s["image_size"] == 64 and s["flip"] == "vertical"
    assert s["offsamples"] == 0 and s["shadow"] is False and s["reflection"] is False


def test_observation_spec_describes_contract_section_10():
    o = R.observation_spec()
    assert o["simulator"] == "metaworld" and o["simulator_version"]
    assert o["tasks"] == T.task_list()
    assert o["camera"] == "corner" and o["image_size"] == 96 and o["flip"] == "vertical"
    assert o["state_slice"] == [0, 4]


def test_a_narrower_field_of_view_zooms_and_leaves_the_camera_as_it_was():
    assert R.parse_view("corner") == ("corner", None) and R.parse_view("corner@30") == ("corner", 30.0)
    assert R.view_name("corner", 30.0) == "corner@30" and R.view_name("corner", None) == "corner"
    for bad in ("corner@", "corner@wide", "corner@0"):
        with pytest.raises(ValueError, match="field of view"):
            R.parse_view(bad)
    env = T.make_env("hammer-v3")
    T.set_layout(env, T.layouts("hammer-v3", T.TRAIN_SEED)[0])
    env.reset()
    with R.Camera(env) as wide, R.Camera(env, camera="corner", fovy=30) as zoom:
        before = wide.render()
        zoomed = zoom.render()
        assert np.array_equal(wide.render(), before)     # the shared model's fovy is restored
        assert zoom.settings()["fovy"] == 30.0 and "fovy" not in wide.settings()
        assert R.Camera.from_settings(env, zoom.settings()).render().tobytes() == zoomed.tobytes()
    # 1.55x zoom about the centre: the top rows (backdrop above the table) shrink, so the
    # zoomed frame's top 12 rows hold less of the backdrop's colour than the wide frame's
    vals, counts = np.unique(before[:12].reshape(-1, 3), axis=0, return_counts=True)
    backdrop = vals[counts.argmax()].astype(int)

    def frac(img):
        return (np.abs(img[:12].astype(int) - backdrop).max(-1) <= 6).mean()
    assert frac(zoomed) < frac(before)
    o = R.observation_spec(fovy=30)
    assert o["fovy"] == 30.0 and o["render"]["fovy"] == 30.0 and R.image_render(o) == o["render"]
    assert R.image_render({"image_size": 64}) == R.render_settings(64)
    env.close()


def test_the_evaluation_renders_the_view_the_bundle_names():
    from reflex_metaworld import episodes as EP
    from reflex_metaworld import eval_settings as S

    def model(observation):
        return S.ModelInfo("m", "0" * 64, "m", (0.1, 0.2), (1, 2), observation,
                           (("image", "uint8", (96, 96, 3)), ("state", "float32", (4,))))
    zoomed, plain = model(R.observation_spec(fovy=30)), model(R.observation_spec())
    assert EP.image_view(zoomed) == ("corner", 30.0) and EP.image_view(plain) == ("corner", None)
    assert EP.check_observation(zoomed, 96) == [] and EP.check_observation(plain, 96) == []
    lying = R.observation_spec(fovy=30)
    lying["render"]["fovy"] = 45.0            # the two descriptions disagree: reported
    assert any("observation.fovy is 30.0" in p for p in EP.check_observation(model(lying), 96))


def test_the_training_frames_that_match_a_bundle():
    from reflex_metaworld import dataset as DS
    assert DS.image_camera_for(R.observation_spec()) is None             # the recording's own frames
    assert DS.image_camera_for(R.observation_spec(fovy=30)) == "corner@30"
    assert DS.image_camera_for({"cameras": {"image": R.render_settings(96, "corner", 26.5)}}) == "corner@26.5"
