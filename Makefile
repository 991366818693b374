# Burst — the two commands a newcomer needs are `make dev` and `make test`.
SHELL := bash
export SAM_CLI_TELEMETRY := 0
.DEFAULT_GOAL := help
USER ?= alice

.PHONY: help tools dev test token lint lint-template bench bench-million dev-herd build deploy deploy-ui

help:
	@echo "make dev     run Burst locally: DynamoDB Local, all functions on :9000, UI on :8080, demo drop"
	@echo "make test    every test against DynamoDB Local, then the sample events via cargo lambda invoke"
	@echo "make token USER=alice [ADMIN=1] [GROUP=vip]   a local dev JWT (GROUP: a Cognito group, e.g. early access)"
	@echo "make lint    cargo fmt --check, clippy -D warnings, sam validate --lint"
	@echo "make bench   the benchmarks (release build): meter self-check, claims, waiting room, fan-out, a million at the open; appends to bench/RESULTS.md"
	@echo "make bench-million [MEMBERS=1000000 ARRIVALS=100000]   only the million-shopper scale model"
	@echo "make dev-herd  (with make dev running) claims through the local stack vs DynamoDB Local's limit"
	@echo "make lint-template   only the template: sam validate --lint and cfn-lint (offline)"
	@echo "make build   the storefront (npm ci + vite build into web/dist), then sam build (arm64 release binaries)"
	@echo "make deploy  make build, sam deploy (--guided until samconfig.toml exists), then make deploy-ui's upload"
	@echo "make deploy-ui   rebuild web/dist and upload it with config.js to the stack's bucket, invalidate index.html (needs the AWS CLI)"

tools:
	@scripts/tools.sh

dev: tools
	@scripts/dev.sh

test: tools
	@scripts/test.sh

token:
	@cargo run --quiet -p burst-dev -- token $(USER) $(if $(ADMIN),--admin) $(if $(GROUP),--group $(GROUP))

lint:
	@scripts/tools.sh --lint
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	PATH="$(CURDIR)/.tools/venv/bin:$$PATH" sam validate --lint --region us-east-1

lint-template:
	@scripts/tools.sh --lint
	PATH="$(CURDIR)/.tools/venv/bin:$$PATH" sam validate --lint --region us-east-1
	PATH="$(CURDIR)/.tools/venv/bin:$$PATH" cfn-lint template.yaml

bench: tools
	@scripts/bench.sh

bench-million: tools
	@scripts/bench.sh million $(if $(MEMBERS),--members $(MEMBERS)) $(if $(ARRIVALS),--arrivals $(ARRIVALS))

# While `make dev` runs: a herd of claims through the local stack, against DynamoDB Local's limit.
dev-herd:
	cargo run --quiet --release -p burst-bench -- dev-herd

build:
	@scripts/tools.sh --lint
	scripts/web.sh build
	PATH="$(CURDIR)/.tools/venv/bin:$$PATH" sam build --beta-features

# The stack first (guided the first time: it asks for the parameters and saves them, with the
# stack name and region, in samconfig.toml), then the storefront into the stack's bucket.
# STACK_NAME=… picks another stack for both steps.
deploy: build
	PATH="$(CURDIR)/.tools/venv/bin:$$PATH" sam deploy --no-fail-on-empty-changeset \
	  $(if $(wildcard samconfig.toml),,--guided) $(if $(STACK_NAME),--stack-name $(STACK_NAME))
	@scripts/deploy-ui.sh

deploy-ui:
	scripts/web.sh build
	@scripts/deploy-ui.sh
