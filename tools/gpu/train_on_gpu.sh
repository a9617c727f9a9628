#!/usr/bin/env bash
# Makes a training set and trains the default model on a lent GPU machine (one H200, 16 cores, no
# network) in one device run of under 10 minutes; nothing depends on it (every step also runs on
# the CPU, docs/TRAINING.md). Stages, each bounded in time:
#   0. packages: the device image has torch (CUDA) but not the simulator: wheels carried in .whl/
#      (mujoco, metaworld, gymnasium, …) and the EGL libraries carried as .deb in .gl/ are unpacked;
#   1. smoke: the whole pipeline at the smallest size (one task, one demonstration, one DAgger
#      episode, 3 training steps on the device, export) — a broken run stops here, in under a minute;
#   2. data, one process per task in parallel: DART demonstrations of `corner` with `corner@30`
#      rendered at the same frames (--extra-views), then a DAgger round of the warm start's own
#      policy (a zoomed learner: both views are written);
#   3. training on the GPU from the warm start, on all of it, in the time that is left; export.
#
#   run(command="bash tools/gpu/train_on_gpu.sh", carry=[".whl", ".gl"], timeout_s=590)
#   knobs (environment): PY (python3), BUDGET_S (550: the whole script), DEVICE (cuda),
#   TASKS (all 12, space-separated), EPISODES (200 per task), EPISODES_FOR ("task=N,…"),
#   NOISE_SEED (0), DEMO_MIN (2.5), ROUND (5), DAGGER_EP (20 per task), DAGGER_SEED (3),
#   DAGGER_TASKS ("a,b": only these), INIT (models/default), BATCH (128), LR (3e-4),
#   WARMUP (200), TW (task weights), AUX (0.5), SMOKE (1)
#
# What comes back under $OUT (at most 8 files): bundle/{manifest.json,weights.safetensors,
# calibration.safetensors}, train.log, result.json, data.log (every generator's log), smoke.log,
# smoke-val.corner30.npz (one validation episode as this machine renders it).
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
T0=$(date +%s)
PY=${PY:-python3}
OUT=${OUT:-/tmp/gpu-out}
BUDGET_S=${BUDGET_S:-550}
DEVICE=${DEVICE:-cuda}
INIT=${INIT:-models/default}
WORK=${WORK:-/tmp/reflex-gpu}
mkdir -p "$OUT" "$WORK"
since() { echo $(( $(date +%s) - T0 )); }

# -- 0. packages (what is carried, where the simulator is missing)
if compgen -G ".gl/*.deb" > /dev/null; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
if compgen -G ".whl/*.whl" > /dev/null && ! "$PY" -c "import metaworld" 2>/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target "$WORK/site" .whl/*.whl || exit 3
  export PYTHONPATH="$WORK/site"
fi
export PYTHONPATH="$here/tools:$here/tools/python${PYTHONPATH:+:$PYTHONPATH}" MUJOCO_GL=${MUJOCO_GL:-egl} PYTHONUNBUFFERED=1
nv=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json   # the driver's EGL (device README)
[ -f $nv ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$nv
"$PY" - "$DEVICE" <<'PYEOF' || exit 3
import importlib, sys
missing = []
for m in ("torch", "metaworld", "mujoco", "numpy", "safetensors", "zmq"):
    try:
        importlib.import_module(m)
    except Exception as e:
        missing.append(f"{m} ({e.__class__.__name__}: {e})")
if missing:
    print("missing Python packages:", ", ".join(missing)); sys.exit(3)
import torch
if sys.argv[1] == "cuda" and not torch.cuda.is_available():
    print("torch sees no CUDA device"); sys.exit(3)
print("torch", torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "(cpu)")
PYEOF
echo "packages ready at $(since) s"

ALL=$("$PY" -c "from reflex_metaworld import tasks as T; print(' '.join(T.TASK_NAMES))") || exit 3
TASKS=${TASKS:-$ALL}
TW=${TW:-hammer-v3=3,assembly-v3=3,bin-picking-v3=3,peg-insert-side-v3=3,drawer-open-v3=2,window-open-v3=2}
# per-task episode counts (EPISODES_FOR="peg-insert-side-v3=120,…"), else EPISODES
episodes_for() { local kv; for kv in ${EPISODES_FOR//,/ }; do [ "${kv%%=*}" = "$1" ] && { echo "${kv#*=}"; return; }; done; echo "${EPISODES:-200}"; }
# DAgger only for these tasks (DAGGER_TASKS="a,b"), else every task
dagger_for() { [ -z "${DAGGER_TASKS:-}" ] || [[ ",$DAGGER_TASKS," == *",$1,"* ]]; }

# -- 1. smoke
if [ "${SMOKE:-1}" = 1 ]; then
  S=$WORK/smoke; rm -rf "$S"
  st=button-press-topdown-v3
  { "$PY" -m reflex_metaworld.demos --tasks $st --episodes 1 --val-episodes 1 --noise-std 0.2 \
        --extra-views corner@30 --out "$S/demos" &&
    OMP_NUM_THREADS=2 "$PY" -m reflex_metaworld.dagger --model "$INIT" --demos "$S/demos" --round 9 \
        --seed "${DAGGER_SEED:-3}" --episodes 1 --max-steps 12 --tasks $st &&
    "$PY" -m reflex_metaworld.train --device "$DEVICE" --threads 4 --tasks $st --demos "$S/demos" \
        --aggregate dagger9 --image-camera corner@30 --init-from "$INIT" --aux-weight 0.5 \
        --batch 2 --steps 3 --minutes 3 --reserve-minutes 0 --val-per-task 0 --train-eval-per-task 1 \
        --work "$S/train" --out "$S/bundle" --quiet; } > "$OUT/smoke.log" 2>&1
  rc=$?
  cat "$S/train/train.log" >> "$OUT/smoke.log" 2>/dev/null
  if [ $rc != 0 ]; then tail -30 "$OUT/smoke.log"; echo "smoke FAILED (rc $rc) at $(since) s"; exit 4; fi
  grep -h "render ms/frame\|exported\|steps/s" "$OUT/smoke.log" | tail -4
  # one validation episode as rendered here: compared with the CPU's rendering of the same frames
  cp "$S/demos/$st-val.corner@30.npz" "$OUT/smoke-val.corner30.npz"
  echo "smoke ok at $(since) s"
fi

# -- 2. data: per task, demonstrations then a DAgger round, all tasks in parallel
D=$WORK/demos
ROUND=${ROUND:-5}
for t in $TASKS; do
  ( "$PY" -m reflex_metaworld.demos --tasks "$t" --episodes "$(episodes_for "$t")" --val-episodes 5 \
        --noise-std 0.2 --noise-seed "${NOISE_SEED:-0}" --extra-views corner@30 --minutes "${DEMO_MIN:-2.5}" \
        --out "$D" &&
    if dagger_for "$t"; then
      OMP_NUM_THREADS=1 "$PY" -m reflex_metaworld.dagger --model "$INIT" --demos "$D" --round "$ROUND" \
          --seed "${DAGGER_SEED:-3}" --episodes "${DAGGER_EP:-20}" --tasks "$t"
    fi ) > "$WORK/data-$t.log" 2>&1 &
done
wait
for t in $TASKS; do echo "== $t"; grep -v "episodes kept, .* tried" "$WORK/data-$t.log"; done > "$OUT/data.log"
grep -h "episodes kept of\|time budget\|learner succeeded\|WARNING\|Error\|error" "$OUT/data.log" | tail -40
echo "data ready at $(since) s"
ls "$D"/*-dagger$ROUND.npz > /dev/null 2>&1 && AGG=dagger$ROUND || AGG=""

# -- 3. training on the device for what is left (data loading counts), then export
left=$(( BUDGET_S - $(since) - 15 ))
if [ $left -lt 90 ]; then echo "only $left s left for training: stopping"; exit 5; fi
MIN=$("$PY" -c "print(round($left / 60, 2))")
"$PY" -m reflex_metaworld.train --device "$DEVICE" --threads 8 --demos "$D" ${AGG:+--aggregate $AGG} \
    --tasks "${TASKS// /,}" --image-camera corner@30 --init-from "$INIT" --aux-weight "${AUX:-0.5}" --task-weight $TW \
    --batch "${BATCH:-128}" --lr "${LR:-3e-4}" --warmup "${WARMUP:-200}" --steps 1000000 --minutes "$MIN" \
    --reserve-minutes 0.6 --lr-by-time --ckpt-minutes 1000 --val-per-task 0 --log-every 200 \
    --seed 11 --work "$WORK/train" --out "$OUT/bundle" --quiet
rc=$?
cp "$WORK/train/train.log" "$WORK/train/result.json" "$OUT/" 2>/dev/null
tail -12 "$WORK/train/train.log"
echo "total: $(since) s, train rc $rc"
exit $rc
