# HSPT for QEMU. `make run` and `make test` are the two commands; the rest
# are their steps. See README.md.

SHELL := /bin/bash
export HSPT_CACHE ?= $(HOME)/.cache/hspt
export CARGO_TERM_PROGRESS_WHEN ?= never

QEMU_HSPT  := build/hspt/build/qemu-system-arm
QEMU_STOCK := build/stock/build/qemu-system-arm
PLUGIN     := target/release/libhspt.so

# What `make run` boots: a multi-process workload from the guest image,
# under the guest kernel KERNEL= (guest/kernels: bookworm, the default,
# trixie, trixie-lpae; `make guest KERNEL=...` builds it);
# GUEST=android: the Android-shaped guest (build/guest-android) and its
# workload android (built from the default kernel only: run-guest.sh
# refuses it under another KERNEL=).
GUEST ?= default
ifeq ($(GUEST),android)
WORKLOAD ?= android
RUN_GUEST := android-guest
else ifeq ($(GUEST),default)
WORKLOAD ?= multi
RUN_GUEST := guest
else
$(error GUEST must be default or android, not '$(GUEST)')
endif
KERNEL   ?=
kernel_arg = $(if $(KERNEL),--kernel $(KERNEL))
STATS    ?= build/run-stats.json
PLUGIN_ARGS ?=
comma := ,

.PHONY: all deps qemu qemu-stock qemu-user plugin guest guests android-guest android-image run test bench clean clean-all
all: qemu plugin guest

deps:
	@scripts/install-deps.sh

qemu: deps
	@scripts/prepare-qemu.sh
	@scripts/build-qemu.sh hspt

qemu-stock: deps
	@scripts/prepare-qemu.sh
	@scripts/build-qemu.sh stock

qemu-user: deps
	@scripts/prepare-qemu.sh
	@scripts/build-qemu.sh user

plugin: deps
	@echo "hspt: building the plugin (cargo build --release)"
	@cargo build --release -q -p hspt

guest: deps
	@scripts/build-guest.sh $(kernel_arg)

# Every guest kernel (the differential test and the benchmarks use them).
guests: deps
	@scripts/build-guest.sh --kernel all

# The Android-shaped guest (binder, zygote, JIT apps; see README), on the
# default guest kernel.
android-guest: deps
	@scripts/build-android-guest.sh

# The same laid out as an Android SDK system-image directory
# (build/android-image: boot it with scripts/run-guest.sh --avd DIR).
android-image: deps
	@scripts/build-android-image.sh

run: qemu plugin $(RUN_GUEST)
	@scripts/run-guest.sh --guest $(GUEST) $(kernel_arg) --plugin "$(PLUGIN_ARGS)" --stats $(STATS) $(WORKLOAD)
	@if [ -s $(STATS) ]; then scripts/hspt-plot $(STATS) -o $(STATS:.json=.svg) \
		$(foreach f,$(patsubst live=%,%,$(filter live=%,$(subst $(comma), ,$(PLUGIN_ARGS)))),--live $(f)); \
		echo "hspt: statistics in $(STATS), picture in $(STATS:.json=.svg)"; fi

test: qemu qemu-stock plugin guests android-guest android-image
	@tests/run-all.sh

# Side by side: stock QEMU, hspt=off, HSPT, user mode (see scripts/bench.py).
# WORKLOADS=a,b CONFIGS=stock,off,slots=8,user RUNS=3 KERNELS=bookworm,trixie
# OTHER_CONFIGS=stock,defaults select what to run (the android group runs
# on the Android-shaped guest, under the first kernel only).
bench: qemu qemu-stock qemu-user plugin guests android-guest
	@scripts/bench.py

clean:
	rm -rf build/guest build/guest-android build/android-image build/avd-work build/hspt/build build/stock/build build/user target

clean-all:
	rm -rf build target
