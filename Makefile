# offboard: see README.md. Every target works on a fresh machine with Go.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
BIN     := bin/offboard

.PHONY: all build test lint demo bench fuzz dist clean

all: lint test build

## build: compile bin/offboard
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) .

## test: every test, with the race detector
test:
	$(GO) test -race ./...

## lint: gofmt, go vet (also for Windows and macOS) and staticcheck (pinned in go.mod as a tool)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=windows GOARCH=amd64 $(GO) vet ./...
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...
	$(GO) tool staticcheck ./...
	@$(GO) mod tidy -diff >/dev/null || { echo "go mod tidy would change go.mod/go.sum:"; $(GO) mod tidy -diff; exit 1; }

## demo: the main job on the built-in sandbox org (no account, no credentials)
# The sample holds invalid rows and a job that fails on purpose, so exit
# status 3 ("some rows did not end deleted, skipped or deferred") is the
# expected result here.
demo: build
	@mkdir -p out
	./$(BIN) run --sandbox --yes --input samples/offboarding.xlsx --output out/demo-results.xlsx; \
	status=$$?; if [ $$status -ne 0 ] && [ $$status -ne 3 ]; then exit $$status; fi
	@echo "Open out/demo-results.xlsx to review the results."

## bench: every benchmark, one package at a time (no test run); see BENCHMARKS.md
# BENCH=Makespan picks benchmarks, BENCHTIME=3x or 5s and BENCHCOUNT=5 repeat
# them. About sixteen minutes as it stands (BENCH=Matrix alone: twelve).
BENCH      ?= .
BENCHTIME  ?= 1s
BENCHCOUNT ?= 1
bench:
	$(GO) test -p 1 -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) -timeout 2h ./...

## fuzz: each fuzz target for 30 s (FUZZTIME=2m for longer)
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzReadCSV$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./input/
	$(GO) test -run '^$$' -fuzz '^FuzzReadXLSX$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./input/
	$(GO) test -run '^$$' -fuzz '^FuzzMatchHeader$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./input/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./journal/

## dist: offboard for Linux, macOS and Windows (amd64 and arm64) in dist/, built with -trimpath and the version
PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
dist:
	@mkdir -p dist
	@for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		out=dist/offboard-$(VERSION)-$$os-$$arch$$ext; \
		echo "$$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $$out . || exit 1; \
	done

clean:
	rm -rf bin out dist
