#!/bin/bash
# Run each libFuzzer target given (`make fuzz` and `make check` pass
# build/fuzz/*_fuzz) for SECONDS on its kept corpus, after replaying every
# crasher ever kept for it, one target at a time:
#   tests/fuzz.sh SECONDS build/fuzz/NAME_fuzz...
# NAME_fuzz's inputs: fuzz/corpus/NAME (read, never written: new inputs go
# to build/fuzz/corpus/NAME) and fuzz/crashers/NAME (each must now pass).
# A target passes when the replay and the run end without a finding (a
# sanitizer report, a failed check, a crash, a timeout of 10 s on one
# input, or an input using more than 2 GiB).  Each run's output stays in
# build/fuzz/NAME.log, a finding in build/fuzz/NAME-crash-* (copy it into
# fuzz/crashers/NAME once fixed).  Ends with one line a target and
# "fuzz: N passed, N failed"; exit 1 when one failed.
set -u
if [ $# -lt 2 ] || ! [[ "$1" =~ ^[0-9]+$ ]]; then
	echo "usage: tests/fuzz.sh SECONDS build/fuzz/NAME_fuzz..." >&2
	exit 2
fi
secs=$1
shift
top=$(cd "$(dirname "$0")/.." && pwd)
pass=0 failed=0
for bin in "$@"; do
	bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
	target=${bin##*/} name=${target%_fuzz}
	out=$(dirname "$bin")
	log=$out/$name.log scratch=$out/corpus/$name
	corpus=$top/fuzz/corpus/$name crashers=$top/fuzz/crashers/$name
	mkdir -p "$scratch" "$corpus"
	rm -f "$out/$name"-crash-* "$out/$name"-leak-* "$out/$name"-timeout-* "$out/$name"-oom-* "$log"
	opts=(-timeout=10 -rss_limit_mb=2048 -artifact_prefix="$out/$name-")
	ok=1 what=""
	# The crashers: each a file libFuzzer runs once.
	if [ -d "$crashers" ] && [ -n "$(ls -A "$crashers")" ]; then
		if ! "$bin" "${opts[@]}" "$crashers"/* >>"$log" 2>&1; then
			ok=0 what="a kept crasher fails again"
		fi
	fi
	if [ "$ok" = 1 ]; then
		# Run from the scratch dir: a stray artifact lands there, not in the tree.
		if ! (cd "$scratch" && "$bin" "${opts[@]}" -max_total_time="$secs" -print_final_stats=1 \
			"$scratch" "$corpus") >>"$log" 2>&1; then
			ok=0 what="a finding"
		fi
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
	if [ "$ok" = 1 ]; then
		pass=$((pass + 1))
		printf 'PASS %s (%s s, %s execs, %s)\n' "$name" "$secs" "${execs:-?}" "${cov:-cov: ?}"
	else
		failed=$((failed + 1))
		printf 'FAIL %s: %s; see %s\n' "$name" "$what" "$log"
		grep -E 'ERROR: |runtime error:|_fuzz: |SUMMARY: ' "$log" | head -n 5 | sed 's/^/    /'
		ls "$out/$name"-crash-* "$out/$name"-timeout-* "$out/$name"-oom-* "$out/$name"-leak-* 2>/dev/null | sed 's/^/    input: /'
	fi
done
echo "fuzz: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
