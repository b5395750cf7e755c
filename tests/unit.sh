#!/bin/bash
# Run the unit test binaries given (`make unit` passes build/tests/test_*),
# one at a time with --jobs 1 under ASan (leaks included) and UBSan, and end
# with the tests Criterion skipped and why (the root-only ones when not run
# as root, those that need a tool or kernel feature this host lacks), then
# "unit: N passed, N failed, N skipped".  Criterion runs each test in a child
# and does not fail it on a sanitizer report, so a report fails the run.
# Each binary's output stays in BINARY.log, its TAP report in BINARY.tap.
# Exit 1 when a test failed or crashed, a sanitizer reported, or a binary
# ended without Criterion's synthesis line.
set -u
pass=0 failed=0 skipped=0 bad=0 skips=""
for t in "$@"; do
	name=${t##*/} log=$t.log tap=$t.tap
	echo "== $t"
	rm -f "$tap"
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 "$t" --jobs 1 --tap="$tap" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	if grep -qE 'ERROR: (Leak|Address)Sanitizer|runtime error:' "$log"; then
		echo "$name: sanitizer report above" >&2
		bad=1
	fi
	# [====] Synthesis: Tested: 12 | Passing: 11 | Failing: 1 | Crashing: 0
	counts=$(sed -nE 's/.*Synthesis: Tested: [0-9]+ \| Passing: ([0-9]+) \| Failing: ([0-9]+) \| Crashing: ([0-9]+).*/\1 \2 \3/p' "$log" | tail -n 1)
	if [ -z "$counts" ]; then
		echo "$name: ended (status $rc) without Criterion's synthesis line" >&2
		failed=$((failed + 1)) bad=1
		continue
	fi
	read -r p f c <<<"$counts"
	# The synthesis line does not count skips; the TAP report marks them:
	# "ok - suite::test  # SKIP reason".
	s=0
	if [ -f "$tap" ]; then
		s=$(awk '/^ok - .* # SKIP/ { n++ } END { print n + 0 }' "$tap")
	else
		echo "$name: no TAP report" >&2
		bad=1
	fi
	pass=$((pass + p)) failed=$((failed + f + c)) skipped=$((skipped + s))
	[ $((f + c)) -eq 0 ] && [ "$rc" -eq 0 ] || bad=1
	if [ "$s" -gt 0 ]; then
		[ $((p + f + c)) -gt 0 ] || skips+="SKIP $name: the whole suite ($s tests)"$'\n'
		skips+=$(sed -n "s/^ok - \\([^ ]*\\) *# SKIP \\(.*\\)/SKIP $name \\1 (\\2)/p" "$tap")$'\n'
	fi
done
printf '%s' "$skips"
echo "unit: $pass passed, $failed failed, $skipped skipped"
[ "$bad" -eq 0 ]
