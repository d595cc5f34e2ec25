# SPDX-License-Identifier: MIT
# Build, test and demo targets for mxgpu. Sources are found by folder, so a new file
# in src/<part>/ or tests/unit/ needs no edit here.

SANITIZE ?= 0
# Sanitizer objects must not mix with plain ones: they get their own folder.
BUILD    ?= $(if $(filter 1,$(SANITIZE)),build/asan,build)
CC       ?= cc
PKGS     := libpci libudev libsystemd json-c inih fuse3 libvirt
PREFIX   ?= /usr/local

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow \
            -Wmissing-prototypes -Wstrict-prototypes -fno-strict-aliasing \
            -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lpthread -lm
ifeq ($(SANITIZE),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif

LIB_SRC  := $(sort $(wildcard src/lib/*.c))
SIM_SRC  := $(sort $(wildcard src/sim/*.c))
D_SRC    := $(sort $(wildcard src/daemon/*.c))
CTL_SRC  := $(sort $(wildcard src/ctl/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test-*.c))
CON_SRC  := $(sort $(wildcard tests/contract/*.c))
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))

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

.PHONY: all check check-vm-kernel demo deps clean install uninstall bench
all: $(PROGS) $(UNITS) $(CONTRACT) $(TOOLS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

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
	    $(LDLIBS) -lcmocka
comma := ,

# Helper programs the test scripts run (tests/tools/*.c), linked with the simulator's library.
$(BUILD)/tools/%: tests/tools/%.c $(SIMLIB_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(SIMLIB_A) $(LIB_A) $(LDLIBS)

$(BUILD)/tests/contract: $(call obj,$(CON_SRC)) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

deps:
	@scripts/deps.sh

# Benchmarks (bench/): helper programs, then one table (docs/performance.md). Not part of check.
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
$(BUILD)/bench/%: bench/%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)
bench: deps
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	@BUILD=$(BUILD) bench/bench.sh

# The fast suites (libvirt: a private libvirtd in namespaces, ~5 s); slower ones (check-vm, bench) have their own targets.
SUITES := unit contract integration libvirt
check: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/run-tests.sh $(SUITES)

# Debian's own kernel in QEMU runs the kernel-rule checks and the contract binary (tests/vm).
# Slow (TCG) and needs the VM packages, so it stays out of check; the first run fetches the kernel.
check-vm-kernel:
	@scripts/deps.sh vm
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) tests/vm/run-kernel-tests.sh

check-%: all
	@BUILD=$(BUILD) scripts/run-tests.sh $*

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/demo.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

