# attnlab — the two README commands and a few helpers. Every target bootstraps first, so a fresh
# Debian machine needs nothing but `make test` / `make report`.
#
#   make report      bootstrap, build Release, write report/index.html (prints its path)
#   make test        bootstrap, build Release, run the test suite (ctest)
#   make bench       bootstrap (+ PyTorch peer), build, run the benchmarks against their peers
#   make asan-test   the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz        bootstrap --fuzz (clang), build the libFuzzer targets, run each for
#                    FUZZ_SECONDS (default 30) on a copy of its seed corpus (scripts/run_fuzz.sh)
#   make format      clang-format the tree
.PHONY: all bootstrap build test report report-quick bench asan-test fuzz format clean

PRESET   ?= release
BUILD    := build/$(PRESET)
ATTNLAB  := $(BUILD)/apps/attnlab/attnlab
REPORT   ?= report
FUZZ_SECONDS ?= 30

all: build

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET)

test: build
	@ctest --preset $(PRESET)

# The report's speed section compares with PyTorch, so the benchmark peers are installed too.
report: build
	@bash scripts/bootstrap.sh --bench
	@$(ATTNLAB) report --out $(REPORT)/
	@echo "report written: $(abspath $(REPORT))/index.html"

report-quick: build
	@bash scripts/bootstrap.sh --bench
	@$(ATTNLAB) report --quick --out $(REPORT)/
	@echo "report written: $(abspath $(REPORT))/index.html"

bench:
	@bash scripts/bootstrap.sh --bench
	@cmake --preset release >/dev/null
	@cmake --build --preset release
	@cmake --build build/release --target benchmarks
	@bash bench/run_all.sh build/release

asan-test: bootstrap
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan
	@ctest --preset asan

fuzz:
	@bash scripts/bootstrap.sh --fuzz
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/run_fuzz.sh build/fuzz

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	@rm -rf build
