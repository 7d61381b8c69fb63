# Shared helpers for tests/test_*.sh (sourced).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
export HSPT_CACHE=${HSPT_CACHE:-$HOME/.cache/hspt}
QEMU_HSPT=${HSPT_QEMU:-$top/build/hspt/build/qemu-system-arm}
QEMU_STOCK=$top/build/stock/build/qemu-system-arm
PLUGIN=${HSPT_PLUGIN:-$top/target/release/libhspt.so}
work=$(mktemp -d "${TMPDIR:-/tmp}/hspt-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
say() { echo "== $*"; }

# Result lines of a workload run: "@@HSPT" lines without the boot banner's
# timing-free parts kept as they are (they are deterministic).
results() { grep -a '^@@HSPT' "$1" | grep -avE '^@@HSPT (time|phases) ' | tr -d '\r'; }
