#!/usr/bin/env bash
# Rust side: formatting, clippy with warnings as errors, unit tests.
source "$(dirname "$0")/lib.sh"
say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy -D warnings"
cargo clippy -q --release --all-targets -- -D warnings
say "cargo test"
cargo test -q --release 2>&1 | tee "$work/out"
grep -q "test result: ok" "$work/out" || fail "no unit tests ran"
