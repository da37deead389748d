# Maestro: the two commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help deps run test build protos db-start db-stop clean bench-auth bench-workflow lint-migrations bench-gateway bench-metrics bench-scheduler promtool

help:
	@echo "make run      build and start the whole suite on a local Postgres (Ctrl-C stops it)"
	@echo "make test     build and run all tests against a private Postgres"
	@echo "make build    debug build of every product"
	@echo "make protos   regenerate Sources/MaestroProtos from protos/"
	@echo "make db-start / db-stop   the local suite's Postgres, for iterating"
	@echo "make lint-migrations  lint every services/*/migrations file for locking hazards (part of make test)"
	@echo "make bench-auth  token issuance and verification rates (release build, private Postgres)"
	@echo "make bench-workflow  engine workflows/s vs a pgbench ceiling (release build, private Postgres)"
	@echo "make bench-gateway  a backend RPC direct vs through the gateway (h2load), plus a REST GET"
	@echo "make bench-metrics  metrics ingest events/s and SLO status latency (release build, private Postgres)"
	@echo "make bench-scheduler  100,000 schedules: fire lag p50/p99 and idle CPU vs a StartRun ceiling (release build, Postgres 55439)"

deps:
	@command -v swift >/dev/null || { echo "swift toolchain not found on PATH" >&2; exit 1; }

build: deps
	swift build

run: build
	deploy/local/suite.sh "$$(swift build --show-bin-path)"

test: deps promtool
	deploy/local/test.sh

protos:
	deploy/local/protos.sh

bench-auth: deps
	deploy/local/bench-auth.sh

db-start:
	deploy/local/postgres.sh start

db-stop:
	deploy/local/postgres.sh stop

clean:
	rm -rf .build .build-protoc-plugins

bench-workflow:
	deploy/local/bench-workflow.sh

lint-migrations: deps
	swift build --product migration-service
	"$$(swift build --show-bin-path)/migration-service" lint --migrations-dir services

bench-gateway: deps
	deploy/local/bench-gateway.sh

bench-metrics:
	deploy/local/bench-metrics.sh

bench-scheduler: deps
	deploy/local/bench-scheduler.sh

# promtool (Debian's prometheus package) for the Prometheus rules tests; installed when missing.
promtool:
	deploy/local/ensure-promtool.sh
