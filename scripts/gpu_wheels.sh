#!/usr/bin/env bash
# make gpu-wheels: download what scripts/gpu_check.sh installs on a GPU machine without network into gpu-wheels/
# (Python 3.12, manylinux x86_64, exactly the pinned list in scripts/gpu-requirements.txt, no other dependency).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
rm -rf gpu-wheels && mkdir -p gpu-wheels
requirements=$(grep -v '^#' scripts/gpu-requirements.txt | cut -d' ' -f1)
binary=$(grep -v '^antlr4' <<< "$requirements")
"$python" -m pip download --quiet --no-deps --only-binary=:all: --dest gpu-wheels \
  --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform any $binary
# antlr4-python3-runtime 4.9.3 (the version omegaconf pins) is published as source only: build its wheel (pure Python)
"$python" -m pip wheel --quiet --no-deps --wheel-dir gpu-wheels "$(grep '^antlr4' <<< "$requirements")"
ls gpu-wheels && du -sh gpu-wheels
