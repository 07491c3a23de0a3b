# make demo   - all five experiments on synthetic data, on the CPU (sets itself up on first use)
# make test   - the default test suite (CPU, no network)
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Versions this project is tested with; pip takes them from the local wheel cache where there is one.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow lint sweep ablation models bench-data bench-train clean

install: $(STAMP)

# Reinstalls whenever pyproject.toml changes (a "stale" environment).
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[test,timm,slurm,export,mutation]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m artworks.demo

test: $(STAMP)
	@if [ "$${CI:-}" = "true" ]; then bash .ci/system-deps.sh && bash .ci/slurm/start-cluster.sh; fi
	$(PY) -m pytest

test-slow: $(STAMP)
	$(PY) -m pytest -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check artworks tests
	$(VENV)/bin/ruff format --check artworks tests

# All five experiments as one Hydra multirun on the real data (pass more overrides with ARGS=...).
sweep: $(STAMP)
	$(PY) -m artworks.train -m model=scratch_resnet50,finetune_resnet50,freeze14_resnet50,freeze13_resnet50,cbam_resnet50 $(ARGS)

# The modified ResNet-50's 2x2x2 ablation (activation x depthwise x attention) as one multirun.
ablation: $(STAMP)
	$(PY) -m artworks.train -m experiment=ablation $(ARGS)

# The model table: parameters, GFLOPs and train img/s of the five experiments (ARGS: model=..., data.image_size=...).
models: $(STAMP)
	$(PY) -m artworks.bench models $(ARGS)

# Loader throughput on JPEGs of the real size mix: plain torchvision vs the project, uncached and cached.
bench-data: $(STAMP)
	$(PY) -m artworks.bench data $(ARGS)

# Training img/s: Trainer.fit vs a plain PyTorch loop (CPU); on a GPU also ResNet-50 224² precision/layout/compile.
bench-train: $(STAMP)
	$(PY) -m artworks.bench train $(ARGS)

clean:
	rm -rf outputs .pytest_cache .ruff_cache
