#!/usr/bin/env bash
# The whole test suite (`make test`). Runs every tests/test_*.sh in order,
# each in its own log under build/test-logs, and ends with the summary line
# "N passed, N failed". Run one test: tests/run-all.sh NAME (e.g. hooks).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
logs=build/test-logs
mkdir -p "$logs"
if [ $# -gt 0 ]; then
	tests=()
	for n in "$@"; do tests+=("tests/test_${n#test_}.sh"); done
else
	tests=(tests/test_*.sh)
fi
passed=0 failed=0 failures=()
start=$(date +%s)
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	name=${name#test_}
	[ -x "$t" ] || { echo "no such test: $t" >&2; failed=$((failed + 1)); failures+=("$name"); continue; }
	t0=$(date +%s)
	printf '%-28s ' "$name"
	if "$t" >"$logs/$name.log" 2>&1; then
		passed=$((passed + 1))
		echo "ok ($(( $(date +%s) - t0 ))s)"
	else
		failed=$((failed + 1))
		failures+=("$name")
		echo "FAILED ($(( $(date +%s) - t0 ))s) -- last lines of $logs/$name.log:"
		tail -n 25 "$logs/$name.log" | sed 's/^/    /'
	fi
done
echo "test suite: $(( $(date +%s) - start ))s${failures:+; failed: ${failures[*]}}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
