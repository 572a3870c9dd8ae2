# counter — build, test and install.
GO      ?= go
BIN     ?= counter
PREFIX  ?= $(HOME)/.local
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo development)
LDFLAGS := -s -w -X github.com/jetcounter/counter/cmd.Version=$(VERSION)

.PHONY: all build test vet fmt-check bench fuzz completions install clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

## test: formatting, vet, and every test (race detector on) against real embedded servers
test: fmt-check vet
	$(GO) test -race -count=1 -timeout 10m ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## bench: speed and memory targets (100k-counter reads, start-up, topology)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x ./...

## fuzz: a short run of every fuzz target
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "$$pkg $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

## completions: regenerate completions/ (a test fails when they are stale)
completions:
	$(GO) run . completion bash > completions/counter.bash
	$(GO) run . completion zsh > completions/counter.zsh
	$(GO) run . completion fish > completions/counter.fish

install: build
	install -d $(PREFIX)/bin
	install -m 0755 $(BIN) $(PREFIX)/bin/$(BIN)

clean:
	rm -f $(BIN)
