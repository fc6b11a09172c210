# provex: `make demo` runs the main job, `make test` passes the tests.
# Both set up everything themselves: a virtualenv with provex, the Neo4j jars
# (fetched once with Maven), a running Neo4j.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
WORK   := .work
export PROVEX_HOME ?= $(HOME)/.local/share/provex

.PHONY: demo test test-long lint setup neo4j ingest-sample app sample bench bench-full system-deps clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

# Debian's Chromium for the real-browser test (the test skips without it).
system-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "note: could not install chromium; the browser test will be skipped"; \
	  else echo "note: /usr/bin/chromium missing (apt-get install chromium); the browser test will be skipped"; fi; \
	fi

neo4j: setup
	$(BIN)/provex neo4j start

# The sample story: the DVC repository comes out of its git bundle into .work/
ingest-sample: neo4j
	$(BIN)/python sample_data/restore.py $(WORK)/sample
	$(BIN)/provex ingest --config $(WORK)/sample/provex.toml
	$(BIN)/provex neo4j warm

demo: ingest-sample
	@echo
	@echo "Sample story ingested. Try:  $(BIN)/provex ask  |  $(BIN)/provex search cl-"
	@echo "Serving the app (Ctrl-C to stop; Neo4j keeps running: $(BIN)/provex neo4j stop)"
	$(BIN)/provex app

lint: setup
	$(BIN)/ruff check .

# The fast tiers: lint, then every test not marked slow (real Neo4j included).
test: setup system-deps lint
	$(BIN)/python -m pytest -q -m "not slow" --durations=15

# Long soak, kill and scale runs (pytest -m slow); the property tests explore
# with random seeds there (hypothesis profile "explore", its database kept in .hypothesis/).
test-long: setup system-deps
	PROVEX_HYPOTHESIS=explore $(BIN)/python -m pytest -q -m slow

sample: setup
	$(BIN)/python sample_data/generate.py

# Benchmarks against their baselines, written to docs/benchmarks.md (which says
# what each measures). They use the bench's own Neo4j under .work/bench-home,
# never the user's graph; generated inputs are cached in .work/bench-cache.
# `make bench`: the quick scale, every module against one Neo4j started once
# (bench/suite.py); about 6 minutes here (351 s) once the inputs exist. The app's pages are
# timed on the 1M graph, by bench-full.
bench: setup system-deps
	$(BIN)/python -m bench.suite \
	  "bench.ingest_predictions --count 50000 --repeat 3 --naive-records 1500" \
	  "bench.mlflow_ingest --runs 1000 --repeat 2" \
	  "bench.dvc_history --commits 20 --repeat 2" \
	  "bench.questions --scales 10000,50000 --repeat 10 --budget 3" \
	  "bench.cli_start --repeat 7"
	$(BIN)/python -m bench.report

# `make bench-full`: the 1M and 10M scales and 10,000 MLflow runs (generating the
# MLflow store alone takes about 15 minutes the first time, the 10M log about 9).
bench-full: setup system-deps
	$(BIN)/python -m bench.ingest_predictions --count 1000000 --repeat 3
	$(BIN)/python -m bench.ingest_predictions --count 10000000 --repeat 1 --forced 0 --no-baselines
	$(BIN)/python -m bench.mlflow_ingest --runs 10000 --repeat 3
	$(BIN)/python -m bench.dvc_history --commits 200 --repeat 3
	$(BIN)/python -m bench.questions --scales 10000,100000,1000000,10000000 --budget 10 --app
	$(BIN)/python -m bench.cli_start --repeat 7
	$(BIN)/python -m bench.report

clean:
	rm -rf $(WORK) .pytest_cache
