# Portal — the two commands a new machine needs are `make run` and `make test`.
SWIFT ?= swift
LISTEN ?= 127.0.0.1:7420
DB ?= var/portal.sqlite
STRIPE_PORT ?= 8420

.PHONY: all bootstrap build run demo test check-proto proto asan clean

all: build

bootstrap:
	@scripts/bootstrap.sh

build: bootstrap
	$(SWIFT) build

# Builds and starts portald on its defaults, with its SQLite file under var/,
# and localstripe beside it on 127.0.0.1:$(STRIPE_PORT) as its Stripe.
run: build
	@mkdir -p var
	STRIPE_PORT=$(STRIPE_PORT) scripts/run-with-localstripe.sh $(SWIFT) run portald --listen $(LISTEN) --db $(DB)

# With `make run` going in another terminal: walks the seed's example end to
# end (services, timetable, a client logging in, booking and paying through
# localstripe) and prints each step.
demo: build
	$(SWIFT) run portalctl demo --server $(LISTEN) --stripe-api-base http://127.0.0.1:$(STRIPE_PORT)

# Same set-up, then every check and test.
test: bootstrap check-proto
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

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
