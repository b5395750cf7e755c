# n3x-launch - see README.md.  `make` builds build/n3x-launch and build/n3x-ctl;
# `make demo` and `make check` also install what is missing (scripts/deps.sh).

PKGS     := inih jansson libnl-3.0 libnl-route-3.0 libnl-genl-3.0 libmnl
CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
# libpcap is n3x-ctl's alone (capture): only ctl/ and its tests see the
# header, only n3x-ctl links the library.
PCAP_CFLAGS = $(shell pkg-config --cflags libpcap)
PCAP_LIBS   = $(shell pkg-config --libs libpcap)
# n3x-launch alone talks to systemd (sd_notify); n3x-ctl alone draws
# (ncurses for top, Graphviz's libgvc for graph).
SYSTEMD_CFLAGS = $(shell pkg-config --cflags libsystemd)
SYSTEMD_LIBS   = $(shell pkg-config --libs libsystemd)
CURSES_CFLAGS  = $(shell pkg-config --cflags ncursesw)
CURSES_LIBS    = $(shell pkg-config --libs ncursesw)
GVC_CFLAGS     = $(shell pkg-config --cflags libgvc)
GVC_LIBS       = $(shell pkg-config --libs libgvc)
CPPFLAGS += -I.

B := build

# One archive per layer (SPEC "Code layers").  Linking from archives takes
# only what a program calls, and a unit test links only its own layer and
# the ones below it, so a wrong-way call fails to link.
TOPO_SRC := launcher/topology.c launcher/topology_keys.c launcher/topology_check.c launcher/topology_sched.c launcher/topology_sites.c
SRC_base := $(wildcard base/*.c)
SRC_qmp := $(wildcard qmp/*.c)
SRC_net := $(wildcard net/*.c)
SRC_tc := $(wildcard tc/*.c)
SRC_topo := $(TOPO_SRC)
SRC_launcher := $(filter-out launcher/main.c $(TOPO_SRC),$(wildcard launcher/*.c))
SRC_ctl := $(filter-out ctl/main.c,$(wildcard ctl/*.c))
LIBS := launcher ctl topo tc net qmp base
HDRS := $(wildcard $(addsuffix /*.h,base qmp net tc launcher ctl tests))

# What each program and unit test links, highest layer first.
LINK_launch := launcher topo tc net qmp base
LINK_ctl := ctl topo base
lib = $(foreach l,$(LINK_$(1)),$(B)/$(2)/lib$(l).a)

# The manuals (their rule is below).
MAN_PAGES := $(B)/man/n3x-launch.8 $(B)/man/n3x-ctl.1 $(B)/man/n3x-topology.5 $(B)/man/n3x-demo.1

all: $(B)/n3x-launch $(B)/n3x-ctl $(MAN_PAGES)

# doc/PAGE.scd through scdoc, then doc/tidy.awk (it drops the empty
# paragraphs scdoc writes, which mandoc -T lint reports), into
# build/man/PAGE; t_manuals checks them.
$(B)/man/%: doc/%.scd doc/tidy.awk
	@mkdir -p $(dir $@)
	scdoc < $< > $@.raw && awk -f doc/tidy.awk $@.raw > $@.tmp && mv $@.tmp $@; \
		r=$$?; rm -f $@.raw $@.tmp; exit $$r
man: $(MAN_PAGES)

$(B)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -c $< -o $@

# Unit tests and the integration tests' binaries are built with ASan + UBSan.
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
$(B)/san/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(B)/obj/ctl/%.o $(B)/san/ctl/%.o $(B)/tests/test_ctl%: private PKG_CFLAGS += $(PCAP_CFLAGS) $(CURSES_CFLAGS) $(GVC_CFLAGS)
$(B)/obj/launcher/%.o $(B)/san/launcher/%.o $(B)/fuzz/obj/launcher/%.o $(B)/tests/test_%: private PKG_CFLAGS += $(SYSTEMD_CFLAGS)

define layer_lib
$(B)/obj/lib$(1).a: $(SRC_$(1):%.c=$(B)/obj/%.o)
	@rm -f $$@; ar rcs $$@ $$^
$(B)/san/lib$(1).a: $(SRC_$(1):%.c=$(B)/san/%.o)
	@rm -f $$@; ar rcs $$@ $$^
endef
$(foreach l,$(LIBS),$(eval $(call layer_lib,$(l))))

# LDFLAGS: the packager's (dpkg-buildflags: relro, bindnow).
$(B)/n3x-launch: $(B)/obj/launcher/main.o $(call lib,launch,obj)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(SYSTEMD_LIBS)

$(B)/n3x-ctl: $(B)/obj/ctl/main.o $(call lib,ctl,obj)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(PCAP_LIBS) $(CURSES_LIBS) $(GVC_LIBS)

# The integration tests drive sanitized binaries, so a memory error in the
# supervisor fails them even when its behaviour looks right.
$(B)/san/n3x-launch: $(B)/san/launcher/main.o $(call lib,launch,san)
	$(CC) -O1 -g $(SAN) -o $@ $^ $(PKG_LIBS) $(SYSTEMD_LIBS)

$(B)/san/n3x-ctl: $(B)/san/ctl/main.o $(call lib,ctl,san)
	$(CC) -O1 -g $(SAN) -o $@ $^ $(PKG_LIBS) $(PCAP_LIBS) $(CURSES_LIBS) $(GVC_LIBS)

# Unit tests: one Criterion suite per module.  A test's layer is the first
# word of its name that names one (test_tcrule -> tc); the rest are the
# launcher's.
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(B)/tests/%)
LINK_test_base := base
LINK_test_qmp := qmp base
LINK_test_net := net base
LINK_test_tc := tc base
LINK_test_ctl := ctl topo base
LINK_test_topo := topo base
LINK_test_launcher := $(LINK_launch)
test_layer = $(or $(firstword $(foreach l,base qmp tc ctl topo,$(if $(filter test_$(l)%,$(1)),$(l)))),$(if $(filter $(1),$(BASE_TESTS)),base,$(if $(filter $(1),$(NET_TESTS)),net,launcher)))
# graph's suite draws through libgvc.
$(B)/tests/test_ctl_graph: private PKG_LIBS += $(GVC_LIBS)
BASE_TESTS := test_loop test_err test_sock test_b64 test_buf test_log test_paths test_child
NET_TESTS := test_link test_netns test_tap test_ovs test_ovsdb test_ovsops test_dnsmasq

.SECONDEXPANSION:
$(B)/tests/%: tests/%.c $$(call lib,test_$$(call test_layer,$$*),san) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS) $(PKG_CFLAGS) $(shell pkg-config --cflags criterion) \
		-DTEST_DATA='"$(CURDIR)/tests/data"' -o $@ $< $(call lib,test_$(call test_layer,$*),san) \
		$(PKG_LIBS) $(if $(filter launcher,$(call test_layer,$*)),$(SYSTEMD_LIBS)) $(shell pkg-config --libs criterion)

# The tc test driver: our tc/ code on one link, for t_tc_rate, the netem VM
# test and bench/tc.
# It links only tc/ and base/, as their unit tests do.
$(B)/tests/tc_driver: tests/tc_driver.c $(call lib,test_tc,obj) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -o $@ $< $(call lib,test_tc,obj) $(PKG_LIBS)

# The fabric and impairment code without QEMU (namespaces for VMs), and
# one-way UDP probes: the netem VM's switch matrix (images/netem/init).
$(B)/tests/fabric_driver: tests/fabric_driver.c $(call lib,launch,obj) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -o $@ $< $(call lib,launch,obj) $(PKG_LIBS) $(SYSTEMD_LIBS)
$(B)/tests/owd_probe: tests/owd_probe.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) -o $@ $<

# bench/fabric drives the OVSDB client through this.
$(B)/bench/fabric_drv: bench/fabric_drv.c $(call lib,launch,obj) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -o $@ $< $(call lib,launch,obj) $(PKG_LIBS) $(SYSTEMD_LIBS)

# bench/tc drives tc/pairs.c through this; tc/ and base/ only.
$(B)/bench/pairs_drv: bench/pairs_drv.c $(call lib,test_tc,obj) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -o $@ $< $(call lib,test_tc,obj) $(PKG_LIBS)

bench: all $(B)/bench/fabric_drv $(B)/bench/pairs_drv $(B)/tests/tc_driver images
	bench/launch
	bench/fabric
	bench/tc
	bench/ctl
	bench/agent
	bench/snapshot
	bench/adopt

# libFuzzer targets (clang, ASan + UBSan): fuzz/NAME_fuzz.c, linked with
# the layers built once more for fuzzing (coverage instrumented), each
# target taking from the archives only what it calls.  `make fuzz` builds
# them and runs each FUZZ_SECONDS on fuzz/corpus/NAME (new inputs go to
# build/fuzz/corpus/NAME, the kept corpus is not touched) after replaying
# fuzz/crashers/NAME; `make check` does the same for 20 s each
# (tests/fuzz.sh).  One by hand, as each file's comment says:
#   build/fuzz/qmp_fuzz -max_total_time=300 build/fuzz/corpus/qmp fuzz/corpus/qmp
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_A := $(foreach l,$(LINK_launch),$(B)/fuzz/lib$(l).a)
$(B)/fuzz/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(WARN) -O1 -g -fsanitize=fuzzer-no-link $(FUZZ_SAN) $(CPPFLAGS) $(PKG_CFLAGS) -c $< -o $@
define fuzz_lib
$(B)/fuzz/lib$(1).a: $(SRC_$(1):%.c=$(B)/fuzz/obj/%.o)
	@rm -f $$@; ar rcs $$@ $$^
endef
$(foreach l,$(LINK_launch),$(eval $(call fuzz_lib,$(l))))
FUZZ_BIN := $(patsubst fuzz/%.c,$(B)/fuzz/%,$(wildcard fuzz/*_fuzz.c))
$(FUZZ_BIN): $(B)/fuzz/%: fuzz/%.c $(FUZZ_A) $(HDRS)
	$(FUZZ_CC) $(WARN) -O1 -g -fsanitize=fuzzer $(FUZZ_SAN) $(CPPFLAGS) $(PKG_CFLAGS) -o $@ $< \
		$(FUZZ_A) $(PKG_LIBS) $(SYSTEMD_LIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	@tests/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

deps:
	@scripts/deps.sh

# The busybox demo guest (kernel + initramfs, no root needed), then the
# Debian disk images (images/debian.sh: as root; each is rebuilt only when
# the script changed or the image is missing).
images: deps
	@images/build.sh $(B)/images
	@images/debian.sh $(B)/images

# Every suite under ASan + UBSan; a failed test or a sanitizer report fails
# the run.  Ends with the skipped tests and "unit: N passed, N failed, N
# skipped" (tests/unit.sh).
unit: $(TEST_BIN)
	@tests/unit.sh $(TEST_BIN)

integration: all man images $(B)/san/n3x-launch $(B)/san/n3x-ctl $(B)/tests/tc_driver $(B)/bench/pairs_drv \
		$(B)/tests/fabric_driver $(B)/tests/owd_probe
	@N3X_BIN=$(CURDIR)/$(B)/san tests/integration/run.sh

# `make check` and `make demo` are the README's two commands: each installs
# what is missing first, then builds from scratch what it needs.
check: deps
	@scripts/layers.sh
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=20
	@$(MAKE) --no-print-directory integration

demo: deps
	@$(MAKE) --no-print-directory all images
	@scripts/n3x-demo

# make install [PREFIX=/usr/local] [DESTDIR=...]: the programs, manuals,
# bash completion, the systemd unit, the example topologies and the demo
# image builder.  The example topologies name the demo images where the
# installed n3x-demo builds them (DEMODIR/images) instead of ../build/, and
# n3x-demo gets the installed paths written into it.  DEMODIR is state, so
# it is under /var whatever PREFIX is.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
PKGDATADIR ?= $(DATADIR)/n3x-launch
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DEMODIR    ?= /var/lib/n3x-demo
INSTALL    ?= install
# The demo image builder: build.sh (busybox guests, n3x-demo) and debian.sh
# (debian-cluster.conf's disks), their lib.sh and the guest's files.
IMAGE_FILES := images/build.sh images/debian.sh images/lib.sh $(shell find images/rootfs -type f)
COMPLETIONS := completion/n3x-ctl completion/n3x-launch
EXAMPLES := $(wildcard examples/*.conf)

install: all man
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSTEMDUNITDIR) \
		$(DESTDIR)$(PKGDATADIR)/examples
	$(INSTALL) -m 0755 $(B)/n3x-launch $(DESTDIR)$(SBINDIR)/n3x-launch
	$(INSTALL) -m 0755 $(B)/n3x-ctl $(DESTDIR)$(BINDIR)/n3x-ctl
	sed 's|^sbindir="" bindir="" pkgdatadir="" demodir=""$$|sbindir="$(SBINDIR)" bindir="$(BINDIR)" pkgdatadir="$(PKGDATADIR)" demodir="$(DEMODIR)"|' \
		scripts/n3x-demo >$(B)/n3x-demo.installed
	grep -q '^sbindir="$(SBINDIR)"' $(B)/n3x-demo.installed
	$(INSTALL) -m 0755 $(B)/n3x-demo.installed $(DESTDIR)$(BINDIR)/n3x-demo
	$(INSTALL) -m 0644 $(B)/man/n3x-ctl.1 $(DESTDIR)$(MANDIR)/man1/n3x-ctl.1
	$(INSTALL) -m 0644 $(B)/man/n3x-topology.5 $(DESTDIR)$(MANDIR)/man5/n3x-topology.5
	$(INSTALL) -m 0644 $(B)/man/n3x-launch.8 $(DESTDIR)$(MANDIR)/man8/n3x-launch.8
	$(INSTALL) -m 0644 $(B)/man/n3x-demo.1 $(DESTDIR)$(MANDIR)/man1/n3x-demo.1
	$(INSTALL) -d $(DESTDIR)$(BASHCOMPDIR)
	$(INSTALL) -m 0644 $(COMPLETIONS) $(DESTDIR)$(BASHCOMPDIR)/
	$(INSTALL) -m 0644 systemd/n3x-launch@.service $(DESTDIR)$(SYSTEMDUNITDIR)/n3x-launch@.service
	for f in $(EXAMPLES); do \
		sed 's|\.\./build/images/|$(DEMODIR)/images/|g' $$f >$(B)/example.installed && \
		$(INSTALL) -m 0644 $(B)/example.installed $(DESTDIR)$(PKGDATADIR)/$$f || exit 1; \
	done; rm -f $(B)/example.installed
	for f in $(IMAGE_FILES); do \
		if [ -x $$f ]; then m=0755; else m=0644; fi; \
		$(INSTALL) -D -m $$m $$f $(DESTDIR)$(PKGDATADIR)/$$f || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/n3x-launch $(DESTDIR)$(BINDIR)/n3x-ctl $(DESTDIR)$(BINDIR)/n3x-demo \
		$(DESTDIR)$(MANDIR)/man1/n3x-ctl.1 $(DESTDIR)$(MANDIR)/man1/n3x-demo.1 \
		$(DESTDIR)$(MANDIR)/man5/n3x-topology.5 \
		$(DESTDIR)$(MANDIR)/man8/n3x-launch.8 \
		$(DESTDIR)$(BASHCOMPDIR)/n3x-ctl $(DESTDIR)$(BASHCOMPDIR)/n3x-launch \
		$(DESTDIR)$(SYSTEMDUNITDIR)/n3x-launch@.service
	rm -rf $(DESTDIR)$(PKGDATADIR)

clean:
	rm -rf $(B)/obj $(B)/san $(B)/tests $(B)/bench $(B)/fuzz $(B)/n3x-launch $(B)/n3x-ctl $(B)/man $(B)/n3x-demo.installed

layers:
	@scripts/layers.sh

.PHONY: all man deps images unit integration check demo clean bench layers fuzz fuzz-build install uninstall
