# lambda-lens build, test and demo entry points. Every target installs what it needs.
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python

DEMO_OPT := $(CURDIR)/target/demo/opt

# Layer packaging: static musl binaries for both Lambda architectures, built with
# cargo-lambda, which cross-links with zig; both come from PyPI into target/tools (pinned: the flags
# below are this version's). Zips: target/layers/lambda-lens-{x86_64,arm64,multiarch}.zip.
TOOLS := target/tools/venv
CARGO_LAMBDA := $(TOOLS)/bin/cargo-lambda
MUSL_TARGETS := x86_64-unknown-linux-musl aarch64-unknown-linux-musl
LENS_X86_64 := target/lambda/x86_64/extensions/lambda-lens
LENS_ARM64 := target/lambda/arm64/extensions/lambda-lens
LAYERS := target/layers
LAYER_ZIP := python3 scripts/layer_zip.py
# `cargo lambda` is found on PATH; zig is pinned to the pip one so a system zig cannot stand in.
# --disable-optimizations: build with the [profile.release] of Cargo.toml alone. cargo-lambda would
# add panic=abort (one panicking connection task would kill the extension and cut the function off
# its Runtime API) and -C target-cpu=haswell/neoverse-n1.
LAMBDA_BUILD := PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" CARGO_ZIGBUILD_ZIG_PATH="$(CURDIR)/$(TOOLS)/bin/python-zig" \
  cargo lambda build --release --extension --bin lambda-lens --disable-optimizations

# `make deploy` publishes the three layers with the AWS CLI (its usual credentials and region);
# DRY_RUN=1 prints the commands instead, without building or needing the CLI.
COMPATIBLE_RUNTIMES ?= python3.13 python3.12 nodejs22.x nodejs20.x java21 java17 dotnet8 ruby3.3 provided.al2023 provided.al2
PUBLISH := $(if $(DRY_RUN),echo) aws lambda publish-layer-version --compatible-runtimes $(COMPATIBLE_RUNTIMES)
# Root installs Debian packages directly (CI); anyone else through sudo.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: all build test lint doc clean demo venv node musl zip deploy qemu fuzz

all: zip

$(PYTHON): examples/python-function/requirements.txt tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check \
	  -r examples/python-function/requirements.txt -r tests/requirements.txt
	touch $(PYTHON)

venv: $(PYTHON)

# The example Node.js function's runtime client, aws-lambda-ric from npm. Its install builds curl and
# aws-lambda-cpp from source and then a native addon, so the Debian tools for that are installed
# first where a command is missing (command:package). The build runs once per package-lock.json;
# rapid-client.node is the last thing it makes.
NODE_FUNCTION := examples/node-function
NODE_RIC := $(NODE_FUNCTION)/node_modules/aws-lambda-ric/rapid-client.node
NODE_BUILD_TOOLS := cmake:cmake autoreconf:autoconf automake:automake libtoolize:libtool \
  g++:g++ make:make python3:python3

$(NODE_RIC): $(NODE_FUNCTION)/package.json $(NODE_FUNCTION)/package-lock.json
	missing="$$(for tool in $(NODE_BUILD_TOOLS); do \
	  command -v $${tool%%:*} >/dev/null || echo $${tool#*:}; done)"; \
	[ -z "$$missing" ] || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; }
	cd $(NODE_FUNCTION) && npm ci --no-audit --no-fund
	touch $@

node: $(NODE_RIC)

build:
	cargo build --release --bin lambda-lens

# Style first (it fails fastest), then the whole suite.
test: lint venv node zip qemu
	cargo test --workspace

lint:
	cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

$(CARGO_LAMBDA):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check cargo-lambda==1.9.2
	touch $@

# Always handed to cargo, which knows whether anything changed.
musl: $(CARGO_LAMBDA)
	rustup target add $(MUSL_TARGETS)
	$(LAMBDA_BUILD) --target x86_64-unknown-linux-musl --lambda-dir target/lambda/x86_64
	$(LAMBDA_BUILD) --target aarch64-unknown-linux-musl --lambda-dir target/lambda/arm64

# Per architecture: extensions/lambda-lens and lambda-lens-wrapper. Multi-architecture: the launcher
# as extensions/lambda-lens, picking lambda-lens/$$(uname -m)/lambda-lens.
zip: musl
	mkdir -p $(LAYERS)
	$(LAYER_ZIP) $(LAYERS)/lambda-lens-x86_64.zip extensions/lambda-lens=$(LENS_X86_64) \
	  lambda-lens-wrapper=layer/lambda-lens-wrapper
	$(LAYER_ZIP) $(LAYERS)/lambda-lens-arm64.zip extensions/lambda-lens=$(LENS_ARM64) \
	  lambda-lens-wrapper=layer/lambda-lens-wrapper
	$(LAYER_ZIP) $(LAYERS)/lambda-lens-multiarch.zip extensions/lambda-lens=layer/lambda-lens-launcher \
	  lambda-lens/x86_64/lambda-lens=$(LENS_X86_64) lambda-lens/aarch64/lambda-lens=$(LENS_ARM64) \
	  lambda-lens-wrapper=layer/lambda-lens-wrapper
	ls -l $(LENS_X86_64) $(LENS_ARM64) $(LAYERS)/*.zip

deploy: $(if $(DRY_RUN),,zip)
	$(PUBLISH) --layer-name lambda-lens-x86_64 --compatible-architectures x86_64 \
	  --zip-file fileb://$(CURDIR)/$(LAYERS)/lambda-lens-x86_64.zip
	$(PUBLISH) --layer-name lambda-lens-arm64 --compatible-architectures arm64 \
	  --zip-file fileb://$(CURDIR)/$(LAYERS)/lambda-lens-arm64.zip
	$(PUBLISH) --layer-name lambda-lens --compatible-architectures x86_64 arm64 \
	  --zip-file fileb://$(CURDIR)/$(LAYERS)/lambda-lens-multiarch.zip

# The layer tests run the arm64 binary under Debian's user-mode qemu.
qemu:
	command -v qemu-aarch64-static >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends qemu-user-static; }

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
	  --invoke examples/events/sqs-batch.json --invoke examples/events/timeout.json \
	  --invoke examples/events/hello.json --exit-after --otlp-view \
	  -- $(CURDIR)/$(PYTHON) -m awslambdaric app.handler

# Fuzzing (fuzz/, its own workspace): each target runs FUZZ_SECONDS under libFuzzer, one after the
# other, starting from its committed seeds (fuzz/corpus/<target>); inputs it finds go to
# fuzz/generated/<target>, crashes to fuzz/artifacts/<target>. cargo-fuzz needs nightly flags:
# RUSTC_BOOTSTRAP lets the stable toolchain take them. `make test` replays the seeds (tests/fuzz_corpus.rs).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := http_head body_framing telemetry_batch xray_header runtime_api_endpoint redaction \
  transforms record_scanner

fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
	cd fuzz && for target in $(FUZZ_TARGETS); do \
	  mkdir -p generated/$$target && \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run -O $$target generated/$$target corpus/$$target -- \
	    -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 || exit 1; \
	done

clean:
	cargo clean
	rm -rf $(VENV) $(NODE_FUNCTION)/node_modules
