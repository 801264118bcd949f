# warden — developer entry points.
#
#   make run      start Postgres/Redis if needed, then migrate, seed and serve (:8080)
#   make test     start Postgres/Redis if needed, then go test -race ./... and a short fuzz run
#                 (installs Debian's chromium, when missing and possible, for the playground's browser test)
#   make fuzz     every fuzz target for FUZZTIME (default 1m) each
#   make soak     64 clients on the bench org for 10 minutes (bench-results/soak.md)
#   make faults   the fault scenarios under load, long version
#   make ci       generate-check + lint-basic + lint (golangci-lint) + test (what .ci/run executes)
#
# Postgres/Redis are taken from the URLs below; scripts/services.sh starts a
# project-local server under .data/ when nothing answers on a local address.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Go is usually installed in /usr/local/go (not always on PATH).
export PATH := $(PATH):/usr/local/go/bin
GO ?= go

# Database/Redis used by `make run` / `make bench`.
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/warden?sslmode=disable
REDIS_URL ?= redis://127.0.0.1:6379/0

# Used by the tests (each test creates its own isolated database from this one).
WARDEN_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
WARDEN_TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
export WARDEN_TEST_DATABASE_URL WARDEN_TEST_REDIS_URL

# go test -race needs cgo + a C compiler. RACE=auto uses it when available,
# RACE=1 insists on it, RACE=0 turns it off.
RACE ?= auto
TESTFLAGS ?=
PKGS ?= ./...

SIZE ?= S

# Fuzzing: `make test` runs each target FUZZ_SHORT executions beyond its
# seed corpus; `make fuzz` runs each for FUZZTIME.
FUZZ_SHORT ?= 3000x
FUZZTIME ?= 1m

GENERATED_DIRS := graph/ resolvers/

.PHONY: help run build test fuzz bench soak faults lint lint-basic generate generate-check ci \
	services services-stop services-status clean

help:
	@echo "targets: run test fuzz build bench soak faults lint lint-basic generate generate-check ci"
	@echo "         services services-stop services-status clean"

services:
	@DATABASE_URL='$(DATABASE_URL)' REDIS_URL='$(REDIS_URL)' scripts/services.sh --ensure-db >/dev/null

services-stop:
	@DATABASE_URL='$(DATABASE_URL)' REDIS_URL='$(REDIS_URL)' scripts/services.sh stop

services-status:
	@DATABASE_URL='$(DATABASE_URL)' REDIS_URL='$(REDIS_URL)' scripts/services.sh status

run: services
	DATABASE_URL='$(DATABASE_URL)' REDIS_URL='$(REDIS_URL)' $(GO) run . serve --seed

build:
	$(GO) build -o bin/warden .

test:
	@DATABASE_URL='$(WARDEN_TEST_DATABASE_URL)' REDIS_URL='$(WARDEN_TEST_REDIS_URL)' scripts/services.sh >/dev/null
	@scripts/browser.sh
	@race=""; \
	case "$(RACE)" in \
	  0|no|false) ;; \
	  1|yes|true) race=-race ;; \
	  *) if [ "$$($(GO) env CGO_ENABLED)" = 1 ]; then race=-race; \
	     else echo "make test: WARNING: cgo/C compiler not available, running without -race" \
	          "(apt-get install gcc to enable it)" >&2; fi ;; \
	esac; \
	echo "$(GO) test $$race -count=1 $(TESTFLAGS) $(PKGS)"; \
	$(GO) test $$race -count=1 $(TESTFLAGS) $(PKGS)
	@echo "fuzz: a short run of every fuzz target ($(FUZZ_SHORT) each)"
	@GO='$(GO)' FUZZTIME='$(FUZZ_SHORT)' scripts/fuzz.sh

# Longer fuzzing: make fuzz FUZZTIME=10m (per target).
fuzz:
	@GO='$(GO)' FUZZTIME='$(FUZZTIME)' scripts/fuzz.sh

bench: services
	DATABASE_URL='$(DATABASE_URL)' REDIS_URL='$(REDIS_URL)' $(GO) run . bench --size $(SIZE)

# Soak: SOAK_CLIENTS clients mixing reads and writes on the bench org for
# SOAK_MINUTES; report in bench-results/soak.md and soak.json.
SOAK_MINUTES ?= 10
SOAK_CLIENTS ?= 64
soak: services
	DATABASE_URL='$(DATABASE_URL)' REDIS_URL='$(REDIS_URL)' $(GO) run . soak --size $(SIZE) --minutes $(SOAK_MINUTES) --clients $(SOAK_CLIENTS)

# Faults (Redis, Postgres, SIGTERM, interrupted mutations) under load, long
# version: 64 clients, FAULTS_SECONDS of load before, during and after each
# fault; figures in bench-results/faults.md. `make test` runs the short version.
FAULTS_SECONDS ?= 60
faults:
	@DATABASE_URL='$(WARDEN_TEST_DATABASE_URL)' REDIS_URL='$(WARDEN_TEST_REDIS_URL)' scripts/services.sh >/dev/null
	@printf '# Warden faults under load\n\nRun %s: make faults FAULTS_SECONDS=$(FAULTS_SECONDS) (go test ./faults/, long version).\n' \
	  "$$(date -u +%Y-%m-%dT%H:%M:%SZ)" > bench-results/faults.md
	WARDEN_FAULTS_LONG=1 WARDEN_FAULTS_SECONDS=$(FAULTS_SECONDS) WARDEN_FAULTS_REPORT='$(CURDIR)/bench-results/faults.md' \
	  $(GO) test -count=1 -v -timeout 60m ./faults/

generate:
	$(GO) generate ./...

# Regenerate the GraphQL code and fail if that changes anything under version control.
generate-check: generate
	@changes="$$(git status --porcelain -- $(GENERATED_DIRS))"; \
	if [ -n "$$changes" ]; then \
	  echo "generate-check: generated code is out of date; run 'make generate' and commit:" >&2; \
	  echo "$$changes" >&2; \
	  git --no-pager diff -- $(GENERATED_DIRS) >&2; \
	  exit 1; \
	fi; \
	echo "generate-check: generated code is up to date"

# gofmt on tracked Go files outside the generated graph/ package, then go vet.
lint-basic:
	@files="$$(git ls-files -- '*.go' | grep -v '^graph/' || true)"; \
	if [ -n "$$files" ]; then \
	  unformatted="$$(gofmt -l $$files)"; \
	  if [ -n "$$unformatted" ]; then \
	    echo "lint-basic: these files need gofmt -w:" >&2; echo "$$unformatted" >&2; exit 1; \
	  fi; \
	fi
	$(GO) vet ./...

# golangci-lint at a pinned version (.golangci.yml), built by the go command
# on first use (a few minutes once, then from the build cache): every
# machine, CI included, runs the same checks.
GOLANGCI_LINT_VERSION ?= v2.15.0
lint:
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) run ./...

ci: generate-check lint-basic lint test

clean:
	rm -rf bin/
