# Two commands do everything on a fresh Debian machine:
#   make demo   install what is needed, then check the embedded reference bank against the specs
#   make test   install what is needed, then run the linter, the type checker and the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
OUT ?= out

.PHONY: install system demo test lint diagrams bench clean

install: $(STAMP)

system:
	./tools/setup-system.sh

$(STAMP): pyproject.toml tools/setup-system.sh
	./tools/setup-system.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

MUTANT ?= quota_limit_30001

demo: install
	@mkdir -p $(OUT)
	$(BIN)/authspec validate specs
	$(BIN)/authspec trace specs --format markdown -o $(OUT)/traceability.md
	$(BIN)/authspec simulate examples/quota_boundary.yaml --specs specs
	$(BIN)/authspec check --backend bank --seed 1 --database none --out $(OUT)/bank
	@echo "== a mutant of the bank ($(MUTANT)): the check must find it and print the minimal trace"
	$(BIN)/authspec check --backend mutant:$(MUTANT) --seed 1 --database none --out $(OUT)/mutant --no-coverage-table; \
	  status=$$?; test $$status -eq 1 || { echo "expected the check to fail (exit 1), got $$status"; exit 1; }
	$(BIN)/authspec diagram specs -o $(OUT)/diagrams --format svg --coverage $(OUT)/bank/coverage.json
	$(BIN)/authspec diagram specs -o $(OUT)/mutant/diagrams --format svg --trace $(OUT)/mutant/failure.json
	$(BIN)/authspec report specs --run $(OUT)/bank --run $(OUT)/mutant -o $(OUT)/report.html
	@echo "== written: $(OUT)/report.html (open it in a browser), $(OUT)/diagrams/, $(OUT)/traceability.md, $(OUT)/bank/coverage.json, $(OUT)/mutant/ (failure.json, replay_*.py, the trace drawn in diagrams/)"

test: install
	$(BIN)/ruff check .
	$(BIN)/mypy model harness diagrams bank authspec
	$(BIN)/python -m pytest -n 2 -p no:cacheprovider -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy model harness diagrams bank authspec

diagrams: install
	$(BIN)/authspec diagram specs -o diagrams/rendered --format all
	$(BIN)/authspec diagram specs -o diagrams/rendered --format svg,mermaid --lang zh

bench: install
	$(BIN)/python benchmarks/bench_check.py

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info .pytest_cache .hypothesis .ruff_cache
