"""Architectures in one place: the default model (trained on Meta-World, shipped in
models/default) and the benchmark configurations. The training pipeline imports these."""

# The default model's architecture (manifest `architecture`).
DEFAULT_ARCHITECTURE = {
    "width": 128, "heads": 4, "mlp_hidden": 512,
    "blocks": 6, "exit_every": 1,
    "patch_size": 16, "instruction_tokens": 8,
    "pool": "max", "norm_eps": 1e-5,
    "head": {"lstm_hidden": 128, "lstm_layers": 1, "mlp_hidden": 128},
}
DEFAULT_IMAGE_SHAPE = (96, 96, 3)    # 6 × 6 = 36 patches
DEFAULT_STATE_DIM = 4
DEFAULT_ACTION_DIM = 4               # Meta-World: xyz + gripper
DEFAULT_CRITERION_DIMS = (0, 1, 2)   # xyz, not the gripper

# A deep, wide model for benchmarks: 64 patches + 8 words + state + readout = 74 tokens.
LARGE_ARCHITECTURE = {
    "width": 512, "heads": 8, "mlp_hidden": 2048,
    "blocks": 24, "exit_every": 4,
    "patch_size": 16, "instruction_tokens": 8,
    "pool": "readout", "norm_eps": 1e-5,
    "head": {"lstm_hidden": 512, "lstm_layers": 1, "mlp_hidden": 256},
}
LARGE_IMAGE_SHAPE = (128, 128, 3)

# name -> (architecture, image shape, state dim, action dim)
BENCH_CONFIGS = {
    "default": (DEFAULT_ARCHITECTURE, DEFAULT_IMAGE_SHAPE, DEFAULT_STATE_DIM, DEFAULT_ACTION_DIM),
    "large": (LARGE_ARCHITECTURE, LARGE_IMAGE_SHAPE, DEFAULT_STATE_DIM, DEFAULT_ACTION_DIM),
}

# A small model that takes a 128×128×3 camera image, so that `reflexctl bench transport` measures
# the daemon's overhead on a realistic payload without a long engine step in the way.
TRANSPORT_ARCHITECTURE = {
    "width": 32, "heads": 2, "mlp_hidden": 64,
    "blocks": 2, "exit_every": 1,
    "patch_size": 16, "instruction_tokens": 8,
    "pool": "max", "norm_eps": 1e-5,
    "head": {"lstm_hidden": 32, "lstm_layers": 1, "mlp_hidden": 32},
}
BENCH_CONFIGS["transport"] = (TRANSPORT_ARCHITECTURE, LARGE_IMAGE_SHAPE, DEFAULT_STATE_DIM, DEFAULT_ACTION_DIM)

# The default model as a format 2 bundle: a scene camera and a wrist camera (36 + 16 patches),
# chunks of 8 actions; `reflexctl bench engine` measures it beside `default` (one camera, H = 1).
BENCH_CONFIGS["default-chunked"] = (DEFAULT_ARCHITECTURE, None, DEFAULT_STATE_DIM, DEFAULT_ACTION_DIM)
# name -> the format 2 keywords of ReflexNet, for the configurations that have them
BENCH_FORMAT2 = {
    "default-chunked": {"cameras": [("image", (96, 96, 3)), ("wrist_image", (64, 64, 3))],
                        "chunk": 8, "period_s": 0.05, "criterion_actions": 4},
}
