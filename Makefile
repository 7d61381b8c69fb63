# HSPT for QEMU. `make run` and `make test` are the two commands; the rest
# are their steps. See README.md.

SHELL := /bin/bash
export HSPT_CACHE ?= $(HOME)/.cache/hspt
export CARGO_TERM_PROGRESS_WHEN ?= never

QEMU_HSPT  := build/hspt/build/qemu-system-arm
QEMU_STOCK := build/stock/build/qemu-system-arm
PLUGIN     := target/release/libhspt.so
GUEST      := build/guest/zImage build/guest/initrd.cpio.gz

# What `make run` boots: a multi-process workload from the guest image,
# under the guest kernel KERNEL= (guest/kernels: bookworm, the default,
# trixie, trixie-lpae; `make guest KERNEL=...` builds it).
WORKLOAD ?= multi
KERNEL   ?=
kernel_arg = $(if $(KERNEL),--kernel $(KERNEL))
STATS    ?= build/run-stats.json
PLUGIN_ARGS ?=
comma := ,

.PHONY: all deps qemu qemu-stock qemu-user plugin guest guests run test bench clean clean-all
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

run: qemu plugin guest
	@scripts/run-guest.sh $(kernel_arg) --plugin "$(PLUGIN_ARGS)" --stats $(STATS) $(WORKLOAD)
	@if [ -s $(STATS) ]; then scripts/hspt-plot $(STATS) -o $(STATS:.json=.svg) \
		$(foreach f,$(patsubst live=%,%,$(filter live=%,$(subst $(comma), ,$(PLUGIN_ARGS)))),--live $(f)); \
		echo "hspt: statistics in $(STATS), picture in $(STATS:.json=.svg)"; fi

test: qemu qemu-stock plugin guests
	@tests/run-all.sh

# Side by side: stock QEMU, hspt=off, HSPT, user mode (see scripts/bench.py).
# WORKLOADS=a,b CONFIGS=stock,off,slots=8,user RUNS=3 KERNELS=bookworm,trixie
# OTHER_CONFIGS=stock,defaults select what to run.
bench: qemu qemu-stock qemu-user plugin guests
	@scripts/bench.py

clean:
	rm -rf build/guest build/hspt/build build/stock/build build/user target

clean-all:
	rm -rf build target
