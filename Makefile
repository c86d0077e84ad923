# Two commands do everything on a fresh Debian machine:
#   make demo   install what is needed, then check the embedded reference bank against the specs
#   make test   install what is needed, then run the linter and the whole test suite
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

demo: install
	$(BIN)/authspec validate specs
	$(BIN)/authspec trace specs --format markdown > /dev/null && echo "traceability: all rules covered, all questions answered"
	$(BIN)/authspec simulate examples/quota_boundary.yaml --specs specs
	$(BIN)/authspec demo --out $(OUT)

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 -p no:cacheprovider

lint: install
	$(BIN)/ruff check .

diagrams: install
	$(BIN)/authspec diagram specs -o diagrams/rendered --format all
	$(BIN)/authspec diagram specs -o diagrams/rendered --format svg,mermaid --lang zh

bench: install
	$(BIN)/python benchmarks/bench_check.py

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info .pytest_cache .hypothesis .ruff_cache
