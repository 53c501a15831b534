# ledger: the two commands a newcomer needs are `make run` and `make test`.
SWIFT ?= swift

.PHONY: deps run build release test clean

deps:
	@./scripts/install-deps.sh

## Start ledgerd on its embedded default: ./ledger-data and ./ledgerd.sock in this directory.
run: deps
	$(SWIFT) build -c release --product ledgerd
	./.build/release/ledgerd

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

## Build everything (the tests start the real ledgerd and ledgerctl binaries) and run every test.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

clean:
	rm -rf .build
