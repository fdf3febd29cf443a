#!/usr/bin/env bash
# Runs every criterion test binary given as argument, then prints one closing line summing them:
# "tests: N passed, N failed". Exit status 1 if any test failed or crashed. TEST_JOBS: criterion
# workers per binary (default 2).
set -u
passed=0; failed=0; status=0
for t in "$@"; do
  echo "== $(basename "$t")"
  out=$("$t" --jobs "${TEST_JOBS:-2}" 2>&1); rc=$?
  printf '%s\n' "$out" | grep -vE '^\[----\] .*(Warning|Tested)' | grep -E '\[(FAIL|----)\]|Synthesis|Assertion|Crash|signal' | head -60
  syn=$(printf '%s\n' "$out" | grep 'Synthesis' | tail -1)
  if [ -z "$syn" ]; then
    echo "   (no synthesis line: the binary crashed, rc=$rc)"; failed=$((failed+1)); status=1; continue
  fi
  p=$(printf '%s' "$syn" | sed -E 's/.*Passing: ([0-9]+).*/\1/')
  f=$(printf '%s' "$syn" | sed -E 's/.*Failing: ([0-9]+).*/\1/')
  c=$(printf '%s' "$syn" | sed -E 's/.*Crashing: ([0-9]+).*/\1/')
  passed=$((passed+p)); failed=$((failed+f+c))
  [ "$rc" -ne 0 ] && status=1
done
echo "tests: $passed passed, $failed failed"
[ "$failed" -ne 0 ] && status=1
exit $status
