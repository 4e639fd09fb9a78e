# TimeCoin node. `make run` starts a local devnet, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck layers unit bench sim clean

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

bench: $(STAMP)
	$(BIN)/python bench/ledger.py
	$(BIN)/python bench/consensus.py

sim: $(STAMP)
	$(BIN)/timecoin sim --nodes 4-7 --byzantine max --seeds 5000 --heights 20 --jobs 2
	$(BIN)/timecoin sim --nodes 100 --seeds 4 --heights 20

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
