#!/bin/bash
# Run every integration test (t_*.sh) and print one line each, then the
# totals as "N passed, N failed".  Exit 1 when any failed.
cd "$(dirname "$0")"
pass=0 failed=0
for t in t_*.sh; do
	start=$(date +%s%N)
	if out=$(bash "$t" 2>&1); then
		pass=$((pass + 1)); r=PASS
	else
		failed=$((failed + 1)); r=FAIL
	fi
	ms=$((($(date +%s%N) - start) / 1000000))
	printf '%s %s (%d.%01d s)\n' "$r" "${t%.sh}" $((ms / 1000)) $((ms % 1000 / 100))
	if [ "$r" = FAIL ] || [ -n "${VERBOSE:-}" ]; then printf '%s\n' "$out" | sed 's/^/    /'; fi
done
echo "integration: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
