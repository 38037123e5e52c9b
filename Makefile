# lambda-lens build, test and demo entry points. Every target installs what it needs.
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python

DEMO_OPT := $(CURDIR)/target/demo/opt

.PHONY: all build test doc clean demo venv

all: build

$(PYTHON): examples/python-function/requirements.txt tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check \
	  -r examples/python-function/requirements.txt -r tests/requirements.txt
	touch $(PYTHON)

venv: $(PYTHON)

build:
	cargo build --release --bin lambda-lens

test: venv
	cargo test --workspace --all-targets

doc:
	cargo doc --workspace --no-deps

# The example function in the local sandbox, lambda-lens installed as its layer: a success, a handler
# error, a timeout and a success after the reset, then SHUTDOWN; the spans lambda-lens exported are
# received in-process and shown as a waterfall.
demo: venv
	cargo build --release --bin lambda-lens
	cargo build -p lambda-sandbox --bin lambda-sandbox
	rm -rf target/demo && mkdir -p $(DEMO_OPT)/extensions
	cp target/release/lambda-lens $(DEMO_OPT)/extensions/lambda-lens
	cp layer/lambda-lens-wrapper $(DEMO_OPT)/lambda-lens-wrapper
	target/debug/lambda-sandbox run --opt $(DEMO_OPT) --task-root examples/python-function \
	  --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 --timeout-ms 2000 --freeze signals \
	  --env AWS_LAMBDA_EXEC_WRAPPER=$(DEMO_OPT)/lambda-lens-wrapper \
	  --env LAMBDA_LENS_PROXY_PORT=0 --env LAMBDA_LENS_HANDOFF_FILE=$(CURDIR)/target/demo/handoff \
	  --trace active \
	  --invoke examples/events/hello.json --invoke examples/events/fail.json \
	  --invoke examples/events/timeout.json --invoke examples/events/hello.json --exit-after --otlp-view \
	  -- $(CURDIR)/$(PYTHON) -m awslambdaric app.handler

clean:
	cargo clean
	rm -rf $(VENV)
