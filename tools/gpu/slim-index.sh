#!/usr/bin/env bash
# The device tool sends the working tree (tracked and untracked-not-ignored files) and at most
# 64 MiB with what is carried; this repository is over that with its records and old bundles
# (docs/results, models/wip, models/chunked, models/default-int8: ~58 MB), and the wheels
# train_on_gpu.sh carries are ~48 MB. `slim-index.sh on` takes those folders out of the index
# and ignores them for the call (the files stay on disk); `slim-index.sh off` puts the index and
# the ignore list back. Nothing is committed either way.
#   tools/gpu/slim-index.sh on; <run(...)>; tools/gpu/slim-index.sh off
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
EX=.git/info/exclude
DIRS=(docs/results models/wip models/chunked models/default-int8)
MARK="# slim-index.sh"
case "${1:-}" in
  on)
    grep -q "$MARK" "$EX" 2>/dev/null && { echo "already on"; exit 0; }
    { echo "$MARK"; for d in "${DIRS[@]}"; do echo "/$d/"; done; } >> "$EX"
    git rm -r -q --cached "${DIRS[@]}"
    echo "the tree that travels: $(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb | tail -1 | cut -f1) bytes"
    ;;
  off)
    git reset -q
    python3 - "$EX" "$MARK" "${DIRS[@]}" <<'PY'
import sys
path, mark, dirs = sys.argv[1], sys.argv[2], {f"/{d}/" for d in sys.argv[3:]}
lines = open(path).read().splitlines()
if mark in lines:
    i = lines.index(mark)
    lines = lines[:i] + [l for l in lines[i + 1:] if l not in dirs]
open(path, "w").write("\n".join(lines) + "\n")
PY
    git status --short | head -5
    ;;
  *) echo "usage: $0 on|off" >&2; exit 2 ;;
esac
