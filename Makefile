# SPDX-License-Identifier: MIT
# Build, test and demo targets for mxgpu. Sources are found by folder, so a new file
# in src/<part>/ or tests/unit/ needs no edit here.

SANITIZE ?= 0
# FUZZ=1 (make fuzz): clang with libFuzzer's coverage, ASan and UBSan.
FUZZ     ?= 0
# Sanitizer and fuzzer objects must not mix with plain ones: they get their own folders.
BUILD    ?= $(if $(filter 1,$(SANITIZE)),build/asan,$(if $(filter 1,$(FUZZ)),build/libfuzzer,build))
CC       ?= cc
PKGS     := libpci libudev libsystemd json-c inih fuse3
PREFIX   ?= /usr/local

# libvirt: its headers only; mxgpud loads the library when it first connects (src/daemon/virtlib.c).
# Unit tests that call libvirt themselves link it (VIRT_LIBS).
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) libvirt 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
VIRT_LIBS  := $(shell pkg-config --libs libvirt 2>/dev/null)

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow \
            -Wmissing-prototypes -Wstrict-prototypes -fno-strict-aliasing \
            -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -ldl -lpthread -lm
# Each program records only the libraries it calls (mxgpuctl needs no FUSE or libpci, mxgpud no FUSE).
LDFLAGS  += -Wl,--as-needed
ifeq ($(SANITIZE),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
# ASan's xdr_* interceptors find libtirpc's functions at start; libvirt, loaded later by dlopen, calls
# them through those interceptors: libtirpc must be loaded from the start (sanitizer builds only).
LDLIBS   += -Wl,--no-as-needed -l:libtirpc.so.3 -Wl,--as-needed
endif

ifeq ($(FUZZ),1)
CC       := clang
CFLAGS   += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
FUZZ_MAIN := -fsanitize=fuzzer
else
# Without libFuzzer a harness runs over saved inputs (its corpus; the fuzz suite of make check).
FUZZ_MAIN := tests/fuzz/replay.c
endif

LIB_SRC  := $(sort $(wildcard src/lib/*.c))
SIM_SRC  := $(sort $(wildcard src/sim/*.c))
D_SRC    := $(sort $(wildcard src/daemon/*.c))
CTL_SRC  := $(sort $(wildcard src/ctl/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test-*.c))
CON_SRC  := $(sort $(wildcard tests/contract/*.c))
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz-*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB_A    := $(BUILD)/libmxgpu.a
# The daemon's logic lives in a library too, so tests link it; only main.c stays out.
DLIB_A   := $(BUILD)/libmxgpud.a
D_LIB_SRC := $(filter-out src/daemon/main.c,$(D_SRC))
SIM_LIB_SRC := $(filter-out src/sim/main.c,$(SIM_SRC))
SIMLIB_A := $(BUILD)/libmxgpusim.a

PROGS    := $(if $(wildcard src/sim/main.c),$(BUILD)/mxgpu-sim) $(if $(wildcard src/daemon/main.c),$(BUILD)/mxgpud) \
            $(if $(wildcard src/ctl/main.c),$(BUILD)/mxgpuctl)
UNITS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
CONTRACT := $(if $(CON_SRC),$(BUILD)/tests/contract)
TOOLS    := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))
FUZZERS  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

.PHONY: all progs check check-vm check-vm-kernel check-valgrind demo deps deb clean install uninstall bench fuzz fuzzers
all: $(PROGS) $(UNITS) $(CONTRACT) $(TOOLS) $(FUZZERS)

# The programs alone, without the tests (what a package build needs).
progs: $(PROGS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB_A): $(call obj,$(LIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(DLIB_A): $(call obj,$(D_LIB_SRC)) | $(LIB_A)
	rm -f $@ && ar rcs $@ $^ $(if $(D_LIB_SRC),,&& true)
$(SIMLIB_A): $(call obj,$(SIM_LIB_SRC)) | $(LIB_A)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/mxgpu-sim: $(BUILD)/obj/src/sim/main.o $(SIMLIB_A) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/mxgpud: $(BUILD)/obj/src/daemon/main.o $(DLIB_A) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/mxgpuctl: $(call obj,$(CTL_SRC)) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests link every library; cmocka's --wrap lists go in a "// WRAP: sym sym" line.
$(BUILD)/tests/%: tests/unit/%.c $(LIB_A) $(if $(D_LIB_SRC),$(DLIB_A)) $(if $(SIM_LIB_SRC),$(SIMLIB_A))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(filter %.a,$^) $(LIB_A) \
	    $(addprefix -Wl$(comma)--wrap=,$(shell sed -n 's|^// WRAP: ||p' $<)) \
	    $(LDLIBS) $(VIRT_LIBS) -lcmocka
comma := ,

# Helper programs the test scripts run (tests/tools/*.c), linked with the simulator's library.
$(BUILD)/tools/%: tests/tools/%.c $(SIMLIB_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(SIMLIB_A) $(LIB_A) $(LDLIBS)

$(BUILD)/tests/contract: $(call obj,$(CON_SRC)) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# Fuzz harnesses (tests/fuzz/): with replay.c in every build, with libFuzzer under FUZZ=1.
$(BUILD)/fuzz/fuzz-%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz.h tests/fuzz/replay.c $(DLIB_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(FUZZ_MAIN) $(DLIB_A) $(LIB_A) $(LDLIBS)
fuzzers: $(FUZZERS)

deps:
	@scripts/deps.sh

# Benchmarks (bench/): helper programs, then one table (docs/performance.md). Not part of check.
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
$(BUILD)/bench/%: bench/%.c bench/latency.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)
bench: deps
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@BUILD=$(BUILD) bench/bench.sh

# The fast suites (libvirt: a private libvirtd in namespaces, ~5 s; fuzz: each harness over its saved
# inputs); slower ones (check-vm, bench, fuzz) have their own targets.
SUITES := unit contract integration libvirt fuzz
check: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/run-tests.sh $(SUITES)

# The fast suites again with mxgpud, mxgpuctl, mxgpu-sim, the unit tests and fuzz replays under memcheck:
# a memory error or a block definitely or indirectly lost fails the test (tests/valgrind.sh). Slower than
# check (every program runs some 20-50x slower), so it has its own target, which CI runs.
check-valgrind: deps
	@scripts/deps.sh valgrind
	@$(MAKE) --no-print-directory all
	@MXGPU_VALGRIND=1 MXGPU_SIGKILL_ROUNDS=$${MXGPU_SIGKILL_ROUNDS:-10} BUILD=$(BUILD) scripts/run-tests.sh $(SUITES)

# Coverage-guided fuzzing of what untrusted or hand-written input reaches (tests/fuzz/: the control
# socket's two ends, mxgpu.conf, state.json, sizes and addresses): each harness FUZZ_SECONDS under libFuzzer,
# ASan and UBSan, from its saved inputs; a crash or a failed check stops it (scripts/fuzz.sh).
FUZZ_SECONDS ?= 60
fuzz: deps
	@scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory FUZZ=1 fuzzers
	@BUILD=build/libfuzzer FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

# Debian's own kernel in QEMU runs the kernel-rule checks and the contract binary (tests/vm).
# Slow (TCG) and needs the VM packages, so it stays out of check; the first run fetches the kernel.
check-vm-kernel:
	@scripts/deps.sh vm
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) tests/vm/run-kernel-tests.sh

# Boot integration: Debian 12 with systemd, udev and libvirtd in QEMU, the package installed
# (tests/vm/run-boot-tests.sh). Slow (TCG); the guest image is cached in tests/vm/cache.
check-vm:
	@scripts/deps.sh vm boot
	@$(MAKE) --no-print-directory progs
	@BUILD=$(BUILD) tests/vm/run-boot-tests.sh

# The Debian package, built from a copy of the tree in $(BUILD)/deb (the .deb lands there too).
deb:
	@scripts/deps.sh deb
	@BUILD=$(BUILD) scripts/build-deb.sh

check-%: all
	@BUILD=$(BUILD) scripts/run-tests.sh $*

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/demo.sh

clean:
	rm -rf $(BUILD)

# --- install: PREFIX for the programs and manuals, DESTDIR for staging (packages); the systemd
# and udev folders come from their pkg-config files, as the distribution puts them. The config
# path /etc/mxgpu is compiled into the programs, so it does not follow PREFIX.
BINDIR    ?= $(PREFIX)/bin
SBINDIR   ?= $(PREFIX)/sbin
MANDIR    ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
pcvar = $(or $(shell pkg-config --variable=$(2) $(1) 2>/dev/null),$(3))
UNITDIR   ?= $(call pcvar,systemd,systemdsystemunitdir,/lib/systemd/system)
MODLOADDIR ?= $(call pcvar,systemd,modulesloaddir,/usr/lib/modules-load.d)
UDEVDIR   ?= $(call pcvar,udev,udevdir,/lib/udev)
BASHCOMPDIR ?= $(call pcvar,bash-completion,completionsdir,/usr/share/bash-completion/completions)
# mxgpu-sim is a test tool (FUSE, fake hosts): it is not installed.
MANPAGES  := $(filter-out man/mxgpu-sim.1,$(wildcard man/*.[158]))
UNITFILES := $(wildcard systemd/*.service systemd/*.socket systemd/*.target)
BASHCOMP  := $(wildcard completion/mxgpuctl.bash)

install: $(BUILD)/mxgpud $(BUILD)/mxgpuctl
	install -D -m 0755 $(BUILD)/mxgpud $(DESTDIR)$(SBINDIR)/mxgpud
	install -D -m 0755 $(BUILD)/mxgpuctl $(DESTDIR)$(BINDIR)/mxgpuctl
	for m in $(MANPAGES); do \
	  install -D -m 0644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m#man/} || exit 1; done
	install -d $(DESTDIR)$(UNITDIR)
	for u in $(UNITFILES); do \
	  sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' $$u \
	    >$(DESTDIR)$(UNITDIR)/$${u#systemd/} && chmod 0644 $(DESTDIR)$(UNITDIR)/$${u#systemd/} || exit 1; done
	install -D -m 0644 systemd/modules-load.conf $(DESTDIR)$(MODLOADDIR)/mxgpu.conf
	install -D -m 0644 udev/60-mxgpu.rules $(DESTDIR)$(UDEVDIR)/rules.d/60-mxgpu.rules
	$(if $(BASHCOMP),install -D -m 0644 $(BASHCOMP) $(DESTDIR)$(BASHCOMPDIR)/mxgpuctl)
	install -d $(DESTDIR)$(SYSCONFDIR)/mxgpu/mxgpu.conf.d
	@# An existing config is the administrator's: never overwritten.
	if [ -e $(DESTDIR)$(SYSCONFDIR)/mxgpu/mxgpu.conf ]; then \
	  echo "install: keeping the existing $(DESTDIR)$(SYSCONFDIR)/mxgpu/mxgpu.conf"; \
	else install -m 0644 conf/mxgpu.conf $(DESTDIR)$(SYSCONFDIR)/mxgpu/mxgpu.conf; fi

# Removes what install put there, except the config and the state (/var/lib/mxgpu), which are
# the administrator's; a package's purge removes those.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/mxgpud $(DESTDIR)$(BINDIR)/mxgpuctl
	rm -f $(foreach m,$(MANPAGES),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))
	rm -f $(foreach u,$(UNITFILES),$(DESTDIR)$(UNITDIR)/$(notdir $(u)))
	rm -f $(DESTDIR)$(MODLOADDIR)/mxgpu.conf $(DESTDIR)$(UDEVDIR)/rules.d/60-mxgpu.rules
	$(if $(BASHCOMP),rm -f $(DESTDIR)$(BASHCOMPDIR)/mxgpuctl)
	-rmdir $(DESTDIR)$(SYSCONFDIR)/mxgpu/mxgpu.conf.d 2>/dev/null

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

