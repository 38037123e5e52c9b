# lambda-lens build, test and demo entry points. Every target installs what it needs.
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python

.PHONY: all build test doc clean demo venv

all: build

$(PYTHON): examples/python-function/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r examples/python-function/requirements.txt
	touch $(PYTHON)

venv: $(PYTHON)

build:
	cargo build --release --bin lambda-lens

test: venv
	cargo test --workspace --all-targets

doc:
	cargo doc --workspace --no-deps

clean:
	cargo clean
	rm -rf $(VENV)
