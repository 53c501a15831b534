# ledger: the two commands a newcomer needs are `make run` and `make test`.
SWIFT ?= swift

.PHONY: deps run build release test demo torture bench fuzz clean

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

## The incidents A and B against a naive session row and against ledgerd, side by side.
demo: deps
	$(SWIFT) build --product ledger-demo
	$(SWIFT) build --product ledgerd
	$(SWIFT) build --product ledgerctl
	./.build/debug/ledger-demo

## Crash torture: N kill -9s at random moments and failpoints, every acknowledged write checked.
N ?= 200
torture: deps
	$(SWIFT) build -c release --product ledger-torture
	$(SWIFT) build -c release --product ledgerd
	$(SWIFT) build -c release --product ledgerctl
	./.build/release/ledger-torture --iterations $(N)

## libFuzzer (coverage-guided, ASan) on the decoders that face outside bytes, for FUZZ_SECONDS.
## A crash or broken property leaves .build-fuzz/crash-*: replay it with ./.build/debug/ledger-fuzz FILE.
FUZZ_SECONDS ?= 300
fuzz: deps
	$(SWIFT) build --product ledger-fuzz
	./.build/debug/ledger-fuzz --seeds .build-fuzz/corpus
	$(SWIFT) build -c release --product ledger-fuzz --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DLIBFUZZER
	./.build-fuzz/release/ledger-fuzz .build-fuzz/corpus -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=.build-fuzz/ -print_final_stats=1

## Every figure of docs/performance.md on this machine, from a release build (SCALING=1: the curves too).
bench: deps
	$(SWIFT) build -c release --product ledger-bench
	$(SWIFT) build -c release --product ledgerd
	$(SWIFT) build -c release --product ledgerctl
	./scripts/bench.sh

clean:
	rm -rf .build .build-fuzz
