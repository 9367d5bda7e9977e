# SPDX-License-Identifier: Apache-2.0
# Thin wrapper over meson; every real rule lives in meson.build files.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 20
MESON_TEST = meson test --print-errorlogs --num-processes 2

.PHONY: all deps demo test test-fast asan valgrind fuzz fuzz-long bench format format-check check clean install

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD)

$(ASAN_BUILD)/build.ninja:
	CC=clang meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false

# The README's first command: install, build, run the main job against the emulated engine.
demo: deps all
	scripts/demo.sh $(BUILD)

# The README's second command: install, build, every suite, then the sanitizer build.
test: deps check all
	$(MESON_TEST) -C $(BUILD) || { scripts/test-summary $(BUILD); exit 1; }
	$(MAKE) asan
	scripts/test-summary $(BUILD) $(ASAN_BUILD)

test-fast: all
	$(MESON_TEST) -C $(BUILD) --suite unit --suite golden --suite fuzz-regress

asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  $(MESON_TEST) -C $(ASAN_BUILD) --suite unit --suite fuzz-regress --suite e2e --suite golden \
	  --no-suite slow

# Unit tests, corpus replays and the load, plan and serve API e2e tests under valgrind memcheck:
# any memory error or definite/indirect leak at exit fails (scripts/valgrind-wrap). The disk tier
# runs on pread/pwrite there: valgrind 3.19 cannot run its io_uring thread (tests/meson.build).
VALGRIND_E2E ?= load_basic.sh load_faults.sh load_fault_matrix.sh plan_cli.sh plan_mooncake.sh \
  serve_api.sh serve_errors.sh serve_protocol.sh
valgrind: all
	$(MESON_TEST) -C $(BUILD) --setup valgrind --suite unit --suite fuzz-regress --no-suite no-valgrind
	$(MESON_TEST) -C $(BUILD) --setup valgrind $(VALGRIND_E2E)

fuzz: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) $$(ninja -C $(FUZZ_BUILD) -t targets all | grep -o '^tests/fuzz_[a-z0-9_]*' | sort -u)
	scripts/run-fuzzers $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Long fuzzing with a ledger: FUZZ_SECONDS per target, corpus merged back, tests/fuzz/HOURS.tsv
# (scripts/fuzz-long; `scripts/fuzz-long --summary` adds up the CPU-hours).
fuzz-long: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) $$(ninja -C $(FUZZ_BUILD) -t targets all | grep -o '^tests/fuzz_[a-z0-9_]*' | sort -u)
	scripts/fuzz-long -b $(FUZZ_BUILD) -s $(FUZZ_SECONDS)

bench: all
	scripts/run-benches $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

check: format-check
	scripts/checksrc.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

install: all
	meson install -C $(BUILD)
