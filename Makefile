# Portal — the two commands a new machine needs are `make run` and `make test`.
SWIFT ?= swift
LISTEN ?= 127.0.0.1:7420
DB ?= var/portal.sqlite

.PHONY: all bootstrap build run test check-proto proto asan clean bench bench-smoke

all: build

bootstrap:
	@scripts/bootstrap.sh

build: bootstrap
	$(SWIFT) build

# Builds and starts portald on its defaults, with its SQLite file under var/.
run: build
	@mkdir -p var
	$(SWIFT) run portald --listen $(LISTEN) --db $(DB)

# Same set-up, then every check and test, and a short smoke run of portal-bench.
test: bootstrap check-proto bench-smoke
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# Two seconds of portal-bench (health, list-blocks) against a fresh portald on a
# temporary database: proves the tool works; fails only if it fails, never on figures.
bench-smoke: bootstrap
	@scripts/bench.sh smoke

# Release build, portald on a temporary database and a free port, the standard
# matrix (1x1, 4x64, 16x256) for health and list-blocks (+ checkout when
# available) and 1,000 idle connections; writes the table into docs/performance.md.
bench: bootstrap
	@scripts/bench.sh matrix

# The committed generated code must match a fresh regeneration of proto/,
# and the contract must compile with stock protoc for other languages.
check-proto: bootstrap
	@scripts/check-proto-sync.sh
	@tmp=$$(mktemp -d) && protoc -Iproto --cpp_out=$$tmp --python_out=$$tmp --java_out=$$tmp proto/portal/v1/*.proto && rm -rf $$tmp && echo "proto/ compiles with stock protoc"

# Regenerates the protobuf-c output and the Swift message bridges from proto/.
proto:
	scripts/gen-proto-c.sh
	scripts/gen-swift-messages.sh

# The protobuf-c bridging layer under AddressSanitizer.
asan: bootstrap
	LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/PortalMessagesTests/xctest-leaks.supp $(SWIFT) test --scratch-path .build-asan --sanitize=address --filter PortalMessagesTests

clean:
	rm -rf .build .build-*
