# ledgerd build. Flavours: release (default, bin/), asan (build/asan, ASan+UBSan).
SHELL := /bin/bash
#   make            bin/ledgerd bin/ledgerctl
#   make test       installs missing Debian packages, builds, runs every test (unit + integration)
#   make asan       the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make tsan       ledgerd and ledgerctl under ThreadSanitizer, driven by the integration tests
#   make bench      the benchmarks (durable writes), figures printed
#   make lint       clang-tidy; make format: clang-format -i
FLAVOR ?= release
BUILD := build/$(FLAVOR)
ifeq ($(FLAVOR),release)
BIN := bin
else
BIN := $(BUILD)/bin
endif

CC ?= cc
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wvla -Wwrite-strings
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -g $(WARN) -MMD -MP -I.
ifeq ($(FLAVOR),asan)
OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
else ifeq ($(FLAVOR),tsan)
OPT := -O1 -fno-omit-frame-pointer -fsanitize=thread
else ifeq ($(FLAVOR),fuzz)
CC := clang
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
else
OPT := -O2
endif
CFLAGS := $(CFLAGS_COMMON) $(OPT) $(EXTRA_CFLAGS)
LDFLAGS := $(OPT)
LIBS := -lrocksdb -lnats -lmsgpackc -lcrypto -lmicrohttpd -ljansson -lpthread -lm
TEST_LIBS := -lcriterion -lcurl -lxml2
TEST_CFLAGS := -I/usr/include/libxml2 # libxml2 validates ISO 20022 output in tests only

LIB_SRC := $(wildcard events/*.c store/*.c projections/*.c commands/*.c) \
           $(filter-out api/main.c,$(wildcard api/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
TOOLS_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/*.c))
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TESTLIB_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(filter-out $(TEST_SRC),$(wildcard tests/*.c)))

.PHONY: all deps test asan tsan fuzz bench lint format clean
all: $(BIN)/ledgerd $(BIN)/ledgerctl

deps:
	@bash scripts/deps.sh

$(BUILD)/libledger.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	ar rcs $@ $^

# -rdynamic: the fatal-signal report (api/main.c) names ledgerd's own functions in its backtrace
$(BIN)/ledgerd: $(BUILD)/api/main.o $(BUILD)/libledger.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -rdynamic -o $@ $^ $(LIBS)

$(BIN)/ledgerctl: $(TOOLS_OBJ) $(BUILD)/libledger.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TESTLIB_OBJ) $(BUILD)/libledger.a
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(TEST_LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(TEST_CFLAGS) -c -o $@ $<

# The release flavour also runs `make lint` (the static analyzer, .clang-tidy): a finding fails
# the suite like a test does.
test:
	@bash scripts/deps.sh --test
	@$(MAKE) --no-print-directory all $(TEST_BIN)
ifeq ($(FLAVOR),release)
	@echo "== lint (clang-tidy, .clang-tidy)"
	@$(MAKE) --no-print-directory -s lint >build/lint.log 2>&1 || { grep -E 'error:|warning:' build/lint.log; exit 1; }
	@echo "lint: clean"
endif
	@LEDGERD_BIN=$(abspath $(BIN)/ledgerd) LEDGERCTL_BIN=$(abspath $(BIN)/ledgerctl) \
	  SHARED_DIR=$(abspath ../shared) bash scripts/run-tests.sh $(TEST_BIN)

# One criterion worker at a time: with --jobs 2 criterion's own runner (no frame of ours) leaks
# 96 bytes in test_outbox, which LeakSanitizer rightly reports as a failing exit status.
asan: deps
	@TEST_JOBS=1 $(MAKE) --no-print-directory FLAVOR=asan test

# ThreadSanitizer: ledgerd and ledgerctl built with -fsanitize=thread (build/tsan/bin), started by
# the integration tests (release build) that drive them over HTTP and NATS. criterion itself does not
# start under TSan (Snaipe/Criterion#274), so the threads of the unit tests are left to asan. A race
# report makes ledgerd exit with 66 and the test's ledgerd_stop() fail, printing the report.
# tests/tsan/suppressions.txt names the uninstrumented libraries whose own atomics TSan cannot see.
TSAN_TESTS := $(patsubst tests/%.c,%,$(shell grep -l 'ledgerd_start' tests/test_*.c))
tsan: deps
	@$(MAKE) --no-print-directory FLAVOR=tsan all
	@$(MAKE) --no-print-directory all $(TSAN_TESTS:%=build/release/tests/%)
	@TSAN_OPTIONS="halt_on_error=0 suppressions=$(abspath tests/tsan/suppressions.txt)" TEST_JOBS=1 \
	  LEDGERD_BIN=$(abspath build/tsan/bin/ledgerd) LEDGERCTL_BIN=$(abspath build/tsan/bin/ledgerctl) \
	  SHARED_DIR=$(abspath ../shared) bash scripts/run-tests.sh $(TSAN_TESTS:%=build/release/tests/%)

# libFuzzer targets (clang), one per decoder of untrusted bytes: FUZZ_SECONDS each, seeds in
# tests/fuzz/corpus_<target>/ (new finds go to build/fuzz/corpus_<target>/).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
fuzz: deps
	@$(MAKE) --no-print-directory FLAVOR=fuzz $(FUZZ_TARGETS:%=build/fuzz/%)
	@for t in $(FUZZ_TARGETS); do mkdir -p build/fuzz/corpus_$$t; \
	  echo "== $$t ($(FUZZ_SECONDS) s)"; \
	  build/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -print_final_stats=1 \
	    build/fuzz/corpus_$$t tests/fuzz/corpus_$$t 2>&1 | grep -E 'stat::number_of_executed_units|stat::new_units_added|ERROR|SUMMARY|Done' ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; done

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/libledger.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $(filter %.c %.a,$^) $(LIBS)

bench: deps all
	@bash bench/run.sh

lint:
	clang-tidy --quiet $(LIB_SRC) api/main.c tools/*.c -- $(CFLAGS_COMMON)

format:
	clang-format -i $(wildcard */*.c */*.h)

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
