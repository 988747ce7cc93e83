# KQI — `make run` starts the dev cluster and the portal; `make test` runs
# every test against that cluster. Both need root on Debian 12.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)

DEV_DIR ?= /var/lib/kqi-dev
export KQI_DEV_DIR := $(DEV_DIR)
# Exports the dev cluster's settings (database, slurmrestd, sshd, keys).
WITH_ENV := set -a && . $(DEV_DIR)/env && set +a &&
BIN := bin

.PHONY: screenshots test-faults all build run test test-unit fuzz bench lint cluster-up cluster-down cluster-status clean

all: build

build:
	go build -o $(BIN)/kqi-portal ./cmd/kqi-portal
	go build -ldflags "-X main.version=$$(git describe --always --dirty 2>/dev/null || echo dev)" -o $(BIN)/kqi ./cmd/kqi

cluster-up:
	scripts/dev-cluster.sh up

cluster-down:
	scripts/dev-cluster.sh down

cluster-status:
	scripts/dev-cluster.sh status

# The dev cluster, then the portal on http://localhost:8080 (KQI_LISTEN to
# change) with a system administrator and a demo tenant.
run: build cluster-up
	$(WITH_ENV) scripts/run-portal.sh $(BIN)/kqi-portal

# Unit and integration tests (integration tests need the dev cluster and
# fail without it), then short fuzzes of the script quoting, of the
# GET /jobs decoder and of the upload's multipart reader.
test: lint cluster-up
	$(WITH_ENV) go test -count=1 -timeout 25m ./...
	$(WITH_ENV) go test -count=1 -run '^$$' -fuzz '^FuzzRender$$' -fuzztime 20s ./slurm/
	$(WITH_ENV) go test -count=1 -run '^$$' -fuzz '^FuzzDecodeJobs$$' -fuzztime 20s ./slurm/
	$(WITH_ENV) go test -count=1 -run '^$$' -fuzz '^FuzzFormReadsAsMimeMultipart$$' -fuzztime 20s ./portal/transfer/
	$(MAKE) test-faults

# The fault suite (scripts/faults): portals of its own driven through
# crashes and outages, with the invariants printed as a table. It restarts
# slurmctld and drains the nodes, so it runs alone, after the other tests.
test-faults: cluster-up
	$(WITH_ENV) go test -tags faults -count=1 -v -timeout 20m ./scripts/faults/

# The README's pictures: the browser tests that make them, writing into
# docs/screenshots (a plain `make test` writes them into temporary
# directories, so the tree stays clean). Look at them before committing.
screenshots: cluster-up
	$(WITH_ENV) KQI_SCREENSHOTS=$(CURDIR)/docs/screenshots go test -count=1 -timeout 15m \
		-run '^(TestBrowserUploadWithProgress|TestBrowserHomeFollowsARunningJob|TestBrowserCSVOutputAsATable|TestBrowserRunInferenceFromATraining|TestBrowserLineageOfAnInference|TestBrowserLooks)$$' ./portal/server/

# Every test that needs neither Slurm nor sshd, without the dev cluster:
# under -short the integration tests skip (slurmtest.Integration), and the
# database is a private throw-away PostgreSQL (scripts/unit-db.sh). Prints
# how many tests ran and how long the whole target took.
test-unit:
	@start=$$(date +%s); set -o pipefail; \
	scripts/unit-db.sh go test -count=1 -short -json ./... | go run ./scripts/testsum; rc=$$?; \
	echo "test-unit: $$(( $$(date +%s) - start )) s"; exit $$rc

# The benchmark suite (scripts/bench): KQI against raw baselines measured
# in the same run, interleaved, medians of several rounds, printed as one
# table (measure, KQI, baseline, ratio, goal, pass/fail) with the plan of
# every list query. It makes its own fixtures (100k rows in a throw-away
# database, 5,000 held Slurm jobs cancelled afterwards). BENCH=quick for a
# CI-sized run. Fails when a goal is missed.
BENCH ?=
bench: build cluster-up
	@set -o pipefail; $(WITH_ENV) BENCH=$(BENCH) KQI_BENCH_PORTAL=$(CURDIR)/$(BIN)/kqi-portal \
		go test -tags bench -count=1 -timeout 30m -run '^TestBench$$' -v ./scripts/bench/ | grep --line-buffered -v '^ *level=\|^=== \|portaltest.go'
	$(WITH_ENV) go test -run '^$$' -bench . -benchtime 3x ./storage/files/ ./portal/data/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	@go mod tidy -diff || { echo "go.mod or go.sum is not tidy: run go mod tidy"; exit 1; }

clean:
	rm -rf $(BIN)
