# The two commands of the README quick start:
#   make demo   sets up, then runs the whole loop live on the two sandboxes (itsm-align demo)
#   make test   sets up and passes the tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test venv system-deps bench clean

$(BIN)/itsm-align: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=23.2"
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(BIN)/itsm-align

demo: venv
	$(BIN)/itsm-align demo

system-deps:
	bash scripts/system-deps.sh

test: system-deps venv
	$(BIN)/python -m pytest

bench: venv
	$(BIN)/python benchmarks/rules.py

clean:
	rm -rf $(VENV) var .pytest_cache
