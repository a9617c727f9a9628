#!/usr/bin/env bash
# Renders the DART demonstrations and trains the default model on a lent GPU machine (one H200,
# 16 cores, no network), in one device run of under 10 minutes. UNTESTED ON A GPU so far (written
# in a session without one); nothing depends on it.
#
# The device machine gets the repository tree, not ~/.cache (no venv, no data): it needs a Python
# that already has torch (CUDA), metaworld 3.1.1, mujoco 3.3.0, numpy and safetensors, named by $PY.
# The script checks that first and stops (exit 3) with what is missing.
#
#   run(command="bash tools/gpu/train_on_gpu.sh", timeout_s=590)
#   knobs (environment): PY, EPISODES (100 per task), NOISE (0.2), INIT (a bundle or checkpoint to
#   warm-start from; default: models/default), STEPS (20000), MINUTES (6: training budget incl. export),
#   BATCH (64 sequences x 8 frames), AUX (0.5)
#
# What comes back under $OUT (at most 8 files): bundle/{manifest.json,weights.safetensors,
# calibration.safetensors}, train.log, result.json, demos.log.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
PY=${PY:-python3}
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
# a lent device machine is bare (no tools/setup, no editable install): the packages come from the tree
export PYTHONPATH="$here/tools" MUJOCO_GL=${MUJOCO_GL:-egl} PYTHONUNBUFFERED=1
"$PY" - <<'PYEOF' || exit 3
import importlib, sys
missing = []
for m in ("torch", "metaworld", "mujoco", "numpy", "safetensors"):
    try:
        importlib.import_module(m)
    except Exception as e:
        missing.append(f"{m} ({e.__class__.__name__})")
if missing:
    print("missing Python packages:", ", ".join(missing)); sys.exit(3)
import torch
if not torch.cuda.is_available():
    print("torch sees no CUDA device"); sys.exit(3)
print("torch", torch.__version__, torch.cuda.get_device_name(0))
PYEOF
D=/tmp/demos-dart
T0=$(date +%s)
# one generator per task (12 of the 16 cores); each writes its own files, the manifest is merged
for t in $("$PY" -c "from reflex_metaworld import tasks as T; print(' '.join(T.TASK_NAMES))"); do
  "$PY" -m reflex_metaworld.demos --tasks "$t" --episodes "${EPISODES:-100}" --val-episodes 5 \
      --noise-std "${NOISE:-0.2}" --out "$D" >> "$OUT/demos.log" 2>&1 &
done
wait
echo "demos: $(( $(date +%s) - T0 )) s" | tee -a "$OUT/demos.log"
"$PY" -m reflex_metaworld.train --device cuda --threads 8 --demos "$D" --work /tmp/train-gpu \
    --out "$OUT/bundle" --init-from "${INIT:-models/default}" --aux-weight "${AUX:-0.5}" \
    --steps "${STEPS:-20000}" --minutes "${MINUTES:-6}" --reserve-minutes 2 --lr-by-time \
    --batch "${BATCH:-64}" --ckpt-minutes 100 --val-per-task 0 --quiet
rc=$?
cp /tmp/train-gpu/train.log /tmp/train-gpu/result.json "$OUT/" 2>/dev/null
echo "total: $(( $(date +%s) - T0 )) s, train rc $rc"
exit $rc
