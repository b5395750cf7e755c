# n3x-launch - see README.md.  `make` builds build/n3x-launch and build/n3x-ctl;
# `make demo` and `make check` also install what is missing (scripts/deps.sh).

PKGS     := inih jansson libnl-3.0 libnl-route-3.0 libnl-genl-3.0 libmnl
CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
CPPFLAGS += -Ilauncher -Iqmp -Inet -Itc

B := build

# Every module; the two programs add their main.
LIB_SRC := $(filter-out launcher/main.c launcher/ctl.c,$(wildcard launcher/*.c qmp/*.c net/*.c tc/*.c))
LAUNCH_SRC := launcher/main.c $(LIB_SRC)
CTL_SRC := launcher/ctl.c $(LIB_SRC)

LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o)

all: $(B)/n3x-launch $(B)/n3x-ctl

$(B)/obj/%.o: %.c $(wildcard launcher/*.h qmp/*.h net/*.h tc/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(B)/n3x-launch: $(B)/obj/launcher/main.o $(LIB_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/n3x-ctl: $(B)/obj/launcher/ctl.o $(LIB_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

# Unit tests: one Criterion suite per module, built with ASan + UBSan.
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(B)/tests/%)
SAN_OBJ := $(LIB_SRC:%.c=$(B)/san/%.o)

$(B)/san/%.o: %.c $(wildcard launcher/*.h qmp/*.h net/*.h tc/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(B)/tests/%: tests/%.c $(SAN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS) $(PKG_CFLAGS) $(shell pkg-config --cflags criterion) \
		-DTEST_DATA='"$(CURDIR)/tests/data"' -o $@ $< $(SAN_OBJ) $(PKG_LIBS) $(shell pkg-config --libs criterion)

# The integration tests drive sanitized binaries, so a memory error in the
# supervisor fails them even when its behaviour looks right.
$(B)/san/n3x-launch: launcher/main.c $(SAN_OBJ)
	$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS) $(PKG_CFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/san/n3x-ctl: launcher/ctl.c $(SAN_OBJ)
	$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS) $(PKG_CFLAGS) -o $@ $^ $(PKG_LIBS)

# The tc test driver: our tc/ code on one link, for t_tc_rate, the netem VM
# test and bench/tc.
$(B)/tests/tc_driver: tests/tc_driver.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -o $@ $< $(LIB_OBJ) $(PKG_LIBS)

# bench/fabric drives the OVSDB client through this.
$(B)/bench/fabric_drv: bench/fabric_drv.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -o $@ $< $(LIB_OBJ) $(PKG_LIBS)

bench: all $(B)/bench/fabric_drv $(B)/tests/tc_driver images
	bench/launch
	bench/fabric
	bench/tc

deps:
	@scripts/deps.sh

images: deps
	@images/build.sh $(B)/images

# Criterion runs each test in a child and does not fail it on a sanitizer
# report, so the reports themselves fail the run.
unit: $(TEST_BIN)
	@set -e; for t in $(TEST_BIN); do echo "== $$t"; \
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $$t --jobs 1 2>&1 | tee $(B)/tests/last.log; \
		if grep -qE 'ERROR: (Leak|Address)Sanitizer|runtime error:' $(B)/tests/last.log; then \
			echo "$$t: sanitizer report above" >&2; exit 1; fi; \
		tail -n 1 $(B)/tests/last.log | grep -q 'Failing: 0 | Crashing: 0' || exit 1; done

integration: all images $(B)/san/n3x-launch $(B)/san/n3x-ctl $(B)/tests/tc_driver
	@N3X_BIN=$(CURDIR)/$(B)/san tests/integration/run.sh

# `make check` and `make demo` are the README's two commands: each installs
# what is missing first, then builds from scratch what it needs.
check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration

demo: deps
	@$(MAKE) --no-print-directory all images
	@examples/demo.sh

clean:
	rm -rf $(B)/obj $(B)/san $(B)/tests $(B)/bench $(B)/n3x-launch $(B)/n3x-ctl

.PHONY: all deps images unit integration check demo clean bench
