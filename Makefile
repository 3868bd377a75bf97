# dualrun developer entry points. Run `make` (or `make help`) for the list.
#
# Several Go modules live here: the library (repo root) and, each with its
# own go.mod and a `replace github.com/dualrun/dualrun => ../`, the packages
# that pull heavy dependencies (MODULES below).
# Tools (golangci-lint, benchstat) are pinned and run with `go run pkg@version`,
# so nothing needs installing besides Go and make.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# Prerequisites of `test` are steps run in order; never run them in parallel.
.NOTPARALLEL:
.DELETE_ON_ERROR:
MAKEFLAGS += --no-print-directory

GO ?= go
EXAMPLES := examples
# Every Go module of the repository, the root first. A package that pulls a
# heavy dependency (OpenFeature, gRPC, Prometheus, database drivers) lives
# in a module of its own; add it here and `make test` runs it. The generated
# OpenTelemetry Collector in dashboards/otelcol is a module too, on purpose
# not listed: the dashboards end-to-end test builds it (cached by a hash of
# its manifest), and generated code is neither vetted nor linted (only gofmt'd).
MODULES := . examples rollout/openfeature integration browsertest dashboards dualrungrpc dualwrite internal/e2e fleetramp

# Overridable knobs, e.g. `make bench BENCH=Route BENCHTIME=2s`.
TEST_TIMEOUT ?= 20m## go test -timeout of the race tests
BENCH ?= .## -bench regexp for `make bench`
BENCHTIME ?=## -benchtime for `make bench`, e.g. 3s or 1000x (empty: go default of 1s)
BENCHCOUNT ?= 10## -count for `make bench`
BENCHCPU ?= 1,2## -cpu list for `make bench`
FUZZTIME ?= 30s## time per Fuzz* target for `make fuzz`

GOLANGCI_LINT_VERSION := v2.15.0
BENCHSTAT_VERSION := v0.0.0-20260908200009-22c9c6c9d4da
GOLANGCI_LINT := $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
BENCHSTAT := $(GO) run golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)

# $(call step,Title) prints a section header.
step = @printf '\n==> %s\n' '$(1)'

.PHONY: help
help: ## Show this help
	@echo 'Usage: make [target] [VAR=value ...]'
	@echo
	@echo 'Targets:'
	@awk 'BEGIN { FS = ":[^#]*## " } /^[a-zA-Z0-9_.-]+:[^=]*## / { printf "  %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo
	@echo 'Variables:'
	@awk 'BEGIN { FS = " *\\?= *|## " } /^[A-Z_]+ \?=.*## / { printf "  %-12s %s (default: %s)\n", $$1, $$3, ($$2 == "" ? "empty" : $$2) }' $(MAKEFILE_LIST)

# ---------------------------------------------------------------------------
# The one command: everything CI checks except lint.

.PHONY: test
test: deps download vet race bench-smoke tidy-check quickstart ## Run all checks a newcomer needs (system packages, download, vet, race tests, bench smoke, tidy-check, quickstart)
	@printf '\n==> make test: all checks passed\n'

.PHONY: deps
deps: ## Install the system packages the tests need when missing (apt-get: chromium, prometheus, postgresql)
	$(call step,system packages)
	bash scripts/install-test-deps.sh

.PHONY: download
download: ## go mod download in both modules
	$(call step,go mod download)
	for m in $(MODULES); do (cd $$m && $(GO) mod download); done

.PHONY: vet
vet: ## go vet in both modules
	$(call step,go vet)
	for m in $(MODULES); do echo "go vet ($$m)"; (cd $$m && $(GO) vet ./...); done

.PHONY: race
race: ## go test -race in both modules
	for m in $(MODULES); do printf '\n==> go test -race (%s)\n' "$$m"; (cd $$m && $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...); done

.PHONY: bench-smoke
bench-smoke: ## Run every benchmark 100 times so benchmarks cannot rot
	$(call step,benchmark smoke run)
	for m in $(MODULES); do (cd $$m && $(GO) test -short -run '^$$' -bench . -benchtime 100x ./...); done

.PHONY: tidy-check
tidy-check: ## Fail if go mod tidy would change go.mod/go.sum (both modules)
	$(call step,tidy-check)
	GO='$(GO)' bash scripts/tidy-check.sh $(MODULES)

.PHONY: quickstart
quickstart: ## Run the quickstart example
	$(call step,quickstart)
	cd $(EXAMPLES) && $(GO) run ./quickstart

# ---------------------------------------------------------------------------
# Other tasks.

.PHONY: e2e
e2e: ## End-to-end tests alone: dashboards/ (Prometheus, the OTel Collector, the service example) and fleetramp/ (Prometheus, two service replicas, dualrun-ramp), for real (installs Debian's prometheus if missing)
	$(call step,end-to-end tests (dashboards, fleetramp))
	bash scripts/install-e2e-deps.sh
	cd dashboards && DUALRUN_E2E=1 $(GO) test -count=1 -timeout 30m -v ./...
	cd fleetramp && DUALRUN_E2E=1 $(GO) test -count=1 -timeout 10m -run TestFleetRampEndToEnd -v .

.PHONY: soak
soak: ## Run the soak example (it bounds itself)
	$(call step,soak)
	cd $(EXAMPLES) && $(GO) run ./soak

.PHONY: bench
bench: ## Benchmark the root module into bench/new.txt and summarise with benchstat (vs bench/old.txt if present)
	$(call step,benchmarks -> bench/new.txt)
	@mkdir -p bench
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(BENCHCOUNT) -cpu $(BENCHCPU) $(if $(strip $(BENCHTIME)),-benchtime $(BENCHTIME)) ./... | tee bench/new.txt
	$(call step,benchstat)
	@if [ -f bench/old.txt ]; then \
		echo '$(BENCHSTAT) bench/old.txt bench/new.txt'; \
		$(BENCHSTAT) bench/old.txt bench/new.txt; \
	else \
		echo '$(BENCHSTAT) bench/new.txt'; \
		$(BENCHSTAT) bench/new.txt; \
		echo; echo '(copy bench/new.txt to bench/old.txt to compare the next run against it)'; \
	fi

.PHONY: bench-report
bench-report: ## The BENCHMARKS.md run: 10 interleaved rounds of the core benchmarks, then benchstat
	$(call step,interleaved benchmarks -> bench/report.txt)
	bash scripts/bench-interleaved.sh bench/report.txt 10
	$(BENCHSTAT) bench/report.txt

.PHONY: lint
lint: ## Run golangci-lint (pinned) in both modules
	for m in $(MODULES); do printf '\n==> golangci-lint $(GOLANGCI_LINT_VERSION) (%s)\n' "$$m"; (cd $$m && $(GOLANGCI_LINT) run ./...); done

.PHONY: fmt
fmt: ## Rewrite files with the lint formatters (gofumpt, goimports) in both modules
	for m in $(MODULES); do (cd $$m && $(GOLANGCI_LINT) fmt ./...); done

.PHONY: cover
cover: ## Coverage of the root module into cover.out, print the total
	$(call step,coverage -> cover.out)
	$(GO) test -count=1 -coverprofile=cover.out ./...
	@$(GO) tool cover -func=cover.out | tail -1
	@echo '(details: go tool cover -func=cover.out; HTML: go tool cover -html=cover.out)'

.PHONY: fuzz
fuzz: ## Run each Fuzz* target in the root module for FUZZTIME
	$(call step,fuzz (FUZZTIME=$(FUZZTIME)))
	GO='$(GO)' FUZZTIME='$(FUZZTIME)' bash scripts/fuzz.sh

.PHONY: clean
clean: ## Remove generated files (bench/new.txt, cover.out)
	rm -f bench/new.txt cover.out
