# TimeCoin node. `make run` starts a local devnet, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck layers unit bench sim clean test-net image fuzz soak chaos

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/timecoin testnet --nodes 4 --datadir ./devnet --block-interval-ms 1000

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

layers: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests

test: lint typecheck layers unit

# Partitions in Linux network namespaces (root only; not part of `make test`).
# iproute2 is installed with apt-get only when `ip` is absent and we are root.
test-net: $(STAMP)
	@command -v ip >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 \
		|| { apt-get update -qq && apt-get install -y -qq iproute2; }
	TIMECOIN_NETNS=1 $(BIN)/python -m pytest -s -p no:xdist tests/netns

# The container image (contrib/docker); needs a running container engine.
image:
	docker build -f contrib/docker/Dockerfile -t timecoin .

bench: $(STAMP)
	$(BIN)/python bench/ledger.py
	$(BIN)/python bench/consensus.py
	$(BIN)/python bench/p2p.py
	$(BIN)/python bench/network.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/finality.py
	$(BIN)/python bench/startup.py

sim: $(STAMP)
	$(BIN)/timecoin sim --nodes 4-7 --byzantine max --seeds 5000 --heights 20 --jobs 2
	$(BIN)/timecoin sim --nodes 100 --seeds 4 --heights 20

# Coverage-guided fuzzing of every decoder a peer or client reaches (atheris,
# the `fuzz` extra), FUZZ_SECONDS per harness; figures in bench/results/fuzz.json.
# `make test` runs the same harnesses for seconds (tests/fuzz/test_fuzz_smoke.py).
FUZZ_SECONDS ?= 60
FUZZ_STAMP := $(VENV)/.fuzz-installed

$(FUZZ_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,fuzz]'
	touch $(FUZZ_STAMP)

fuzz: $(FUZZ_STAMP)
	$(BIN)/python tests/fuzz/run_fuzz.py --seconds $(FUZZ_SECONDS)

# A 4-node testnet at 100 TPS for SOAK_MINUTES, sampling RSS, CPU and heights;
# fails on RSS growth over 5 % after the reference minute or a stall; writes
# bench/results/soak.json. Not part of `make test`.
SOAK_MINUTES ?= 60

soak: $(STAMP)
	$(BIN)/python bench/soak.py --minutes $(SOAK_MINUTES)

# CHAOS_KILLS SIGKILLs of random nodes of a loaded 4-node testnet (some during
# start-up), then block hashes and UTXO sets compared across the nodes; writes
# bench/results/chaos.json. Not part of `make test` (tests/functional has the
# single-kill restart test).
CHAOS_KILLS ?= 10

chaos: $(STAMP)
	$(BIN)/python bench/chaos.py --kills $(CHAOS_KILLS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
