# make demo   - all five experiments on synthetic data, on the CPU (sets itself up on first use)
# make test   - the default test suite (CPU, no network)
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Versions this project is tested with; pip takes them from the local wheel cache where there is one.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow test-fast test-mutation lint sweep study-modern ablation models bench-data bench-train clean

install: $(STAMP)

# Reinstalls whenever pyproject.toml changes (a "stale" environment).
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[test,timm,slurm,export,mutation,explain,download]"  # every extra: their tests run
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m artworks.demo

test: $(STAMP)
	@if [ "$${CI:-}" = "true" ]; then bash .ci/system-deps.sh && bash .ci/slurm/start-cluster.sh; fi
	$(PY) -m pytest

test-slow: $(STAMP)
	$(PY) -m pytest -m slow

# The inner loop: everything but whole runs (e2e: subprocess or in-process), the browser and SLURM (<= 90 s),
# on TEST_WORKERS pytest-xdist processes of one torch thread each.
TEST_WORKERS ?= 2
test-fast: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) -m "not slow and not e2e and not browser and not cluster"

# Mutation testing of the scientific core ([tool.mutmut] in pyproject.toml; long, not part of `make test`).
# MUTANTS narrows it, e.g. MUTANTS="artworks.data.split*"; scores per file at the end, docs/mutation.md.
test-mutation: $(STAMP)
	rm -rf mutants
	$(VENV)/bin/mutmut run $(MUTANTS) && $(VENV)/bin/mutmut results --all true \
	  | $(PY) -m tests.helpers.mutation_scores; status=$$?; rm -rf mutants; exit $$status

lint: $(STAMP)
	$(VENV)/bin/ruff check artworks tests
	$(VENV)/bin/ruff format --check artworks tests

# All five experiments as one Hydra multirun on the real data (pass more overrides with ARGS=...).
sweep: $(STAMP)
	$(PY) -m artworks.train -m experiment=study $(ARGS)

# The five experiments with the modern recipe (conf/recipe/modern.yaml), 30 epochs, on the real data.
study-modern: $(STAMP)
	$(PY) -m artworks.train -m experiment=study recipe=modern trainer.max_epochs=30 $(ARGS)

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

.PHONY: gpu-check gpu-wheels bench-predict
# One short run on a GPU machine (<= 8 min): training speed, data to the GPU, the five experiments for one
# epoch, DDP vs one device; report in outputs/gpu-check/gpu-check.md. DRY_RUN=1: the same code, toy size, CPU.
# On a bare GPU machine run `bash scripts/gpu_check.sh` itself (README: "Running on a GPU box").
gpu-check: $(STAMP)
	PYTHON=$(abspath $(PY)) DRY_RUN=$(DRY_RUN) bash scripts/gpu_check.sh

# The wheels gpu-check installs offline on a GPU machine without network (into gpu-wheels/, ~25 MB).
gpu-wheels: $(STAMP)
	PYTHON=$(abspath $(PY)) bash scripts/gpu_wheels.sh

# Inference img/s on the CPU: predict_files vs a naive one-image-at-a-time script; ONNX Runtime vs eager.
bench-predict: $(STAMP)
	$(PY) -m artworks.bench predict $(ARGS)
