# counter — try, build, test and install.
GO      ?= go
BIN     ?= counter
# make install puts the binary in $(DESTDIR)$(PREFIX)/bin and the man page
# in $(DESTDIR)$(PREFIX)/share/man/man1.
PREFIX  ?= $(HOME)/.local
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo development)
LDFLAGS := -s -w -X github.com/jetcounter/counter/cmd.Version=$(VERSION)

.PHONY: all build demo demo-check test vet fmt-check bench fuzz completions man install clean

all: build

build:
	@test -e $(BIN) || echo "building $(BIN): the first build compiles nats-server too and takes a minute or two (later ones take seconds)"
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

## demo: a walkthrough on a temporary local server (about 10 s, ends by itself)
demo: build
	./$(BIN) demo

## demo-check: the demo as CI runs it: quiet unless it fails
demo-check: build
	@log=$$(mktemp); if ./$(BIN) demo >"$$log" 2>&1; then rm -f "$$log"; echo "make demo: ok"; \
	else code=$$?; cat "$$log"; rm -f "$$log"; echo "make demo: failed (exit $$code)"; exit 1; fi

## test: formatting, vet, the demo, and every test (race detector on) against real embedded servers
test: fmt-check vet demo-check
	$(GO) test -race -count=1 -parallel 8 -timeout 10m ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## bench: speed and memory targets (reads of 100k and 1M counters against a bare
## nats.go floor, start-up, topology; the 1M reads take some minutes), and the
## peak memory of counter incr - on 3,000,000 lines, run once (a minute or more)
bench:
	$(GO) test -run '^$$' -bench . -skip '^BenchmarkBulkMemory3M$$' -benchmem -benchtime 3x -timeout 60m ./...
	$(GO) test -run '^$$' -bench '^BenchmarkBulkMemory3M$$' -benchtime 1x -timeout 30m ./cmd

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

## man: counter.1, generated from the command model (every verb and flag)
man: counter.1

counter.1: build
	./$(BIN) man > counter.1

## install: the binary to $(PREFIX)/bin, the man page to $(PREFIX)/share/man/man1
install: build counter.1
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/$(BIN)
	install -m 0644 counter.1 $(DESTDIR)$(PREFIX)/share/man/man1/counter.1
	@echo "installed $(DESTDIR)$(PREFIX)/bin/$(BIN) ($$(./$(BIN) --version 2>&1))"
	@case ":$$PATH:" in *":$(PREFIX)/bin:"*) ;; *) \
		echo "note: $(PREFIX)/bin is not on your PATH; add it, e.g.:"; \
		echo "  echo 'export PATH=\"$(PREFIX)/bin:\$$PATH\"' >> ~/.profile" ;; esac

clean:
	rm -f $(BIN) counter.1
