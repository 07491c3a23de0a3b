#!/usr/bin/env bash
# make gpu-check: one command of at most 8 minutes on a GPU machine (issue 13). From the repository root:
#
#   bash scripts/gpu_check.sh              # GPU machine: install what it lacks from gpu-wheels/, run the check
#   DRY_RUN=1 bash scripts/gpu_check.sh    # any machine: the same code at toy size on the CPU
#
# The machine needs torch, torchvision, lightning, torchmetrics, timm, onnx and scikit-learn; the rest
# (scripts/gpu-requirements.txt) is installed offline from gpu-wheels/ (made here by `make gpu-wheels`).
# The report goes to outputs/gpu-check/gpu-check.md (+ .json, + gpu-check.log), and also to $OUT when set.
# PYTHON: the interpreter (default: the python3 or python that imports torch); GPU_CHECK_LIMIT_S: the limit
# in seconds (default 480).
set -uo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
limit=${GPU_CHECK_LIMIT_S:-480}
python=${PYTHON:-}
for candidate in python3 python; do  # the interpreter that has the machine's PyTorch
  if [ -z "$python" ] && command -v "$candidate" >/dev/null && "$candidate" -c "import torch" 2>/dev/null; then
    python=$candidate
  fi
done
python=${python:-python3}
out=outputs/gpu-check
mkdir -p "$out"
log="$out/gpu-check.log"
: > "$log"

# The requirements the machine lacks (by import), installed offline with --no-deps into gpu-wheels/site/:
# nothing of the machine's own environment is touched (no PEP 668 trouble), nothing it has is shadowed.
missing=()
while read -r requirement _ module; do
  "$python" -c "import $module" 2>/dev/null || missing+=("$requirement")
done < <(grep -v '^#' scripts/gpu-requirements.txt)
if [ ${#missing[@]} -gt 0 ]; then
  if [ ! -d gpu-wheels ]; then
    echo "gpu_check: missing ${missing[*]} and there is no gpu-wheels/ folder. Run 'make gpu-wheels' on a" \
         "machine with network and bring the folder along (device tool: carry=[\"gpu-wheels\"])." | tee -a "$log"
    exit 2
  fi
  echo "gpu_check: installing ${missing[*]} from gpu-wheels/" | tee -a "$log"
  "$python" -m pip install --quiet --no-index --no-deps --find-links gpu-wheels --target gpu-wheels/site \
    "${missing[@]}" 2>&1 | tee -a "$log" || exit 2
fi
export PYTHONPATH="$PWD/gpu-wheels/site${PYTHONPATH:+:$PYTHONPATH}"

left=$(( limit - ($(date +%s) - started) ))
args=(--until "$(( started + limit - 30 ))")  # the check stops itself 30 s early; `timeout` is the backstop
if [ -n "${DRY_RUN:-}" ] && [ "${DRY_RUN}" != 0 ]; then args+=(--dry-run); fi
timeout --signal=TERM --kill-after=15 "$(( left - 5 ))" \
  "$python" -m artworks.bench gpu_check "${args[@]}" "$@" 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}
if [ -n "${OUT:-}" ]; then cp "$log" "$OUT/"; fi
echo "gpu_check: exit $status after $(( $(date +%s) - started )) s; report in $out/gpu-check.md" | tee -a "$log"
exit "$status"
