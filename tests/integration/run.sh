#!/bin/bash
# Run the integration tests: every t_*.sh, or the ones named
# (`run.sh t_vlan t_tc_rate`).  One line each, PASS, FAIL or SKIP (a test
# that exits 77 cannot make its real check on this host; its last line says
# why), then the totals as "integration: N passed, N failed, N skipped".
# VERBOSE=1 shows every test's output, not only a failed one's.
# Exit 1 when any failed, 2 on an unknown test name.
cd "$(dirname "$0")" || exit 2
tests=()
if [ $# -eq 0 ]; then
	tests=(t_*.sh)
else
	for n in "$@"; do
		n=${n##*/}
		n=${n%.sh}.sh
		[ -f "$n" ] && [[ "$n" == t_* ]] || { echo "run.sh: no test ${n%.sh} here" >&2; exit 2; }
		tests+=("$n")
	done
fi
pass=0 failed=0 skipped=0
for t in "${tests[@]}"; do
	start=$(date +%s%N)
	rc=0
	out=$(bash "$t" 2>&1) || rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	case $rc in
	0) pass=$((pass + 1)); r=PASS ;;
	77)
		skipped=$((skipped + 1))
		printf 'SKIP %s (%s)\n' "${t%.sh}" "$(printf '%s\n' "$out" | sed '/^[[:space:]]*$/d' | tail -n 1)"
		[ -z "${VERBOSE:-}" ] || printf '%s\n' "$out" | sed 's/^/    /'
		continue
		;;
	*) failed=$((failed + 1)); r=FAIL ;;
	esac
	printf '%s %s (%d.%01d s)\n' "$r" "${t%.sh}" $((ms / 1000)) $((ms % 1000 / 100))
	if [ "$r" = FAIL ] || [ -n "${VERBOSE:-}" ]; then printf '%s\n' "$out" | sed 's/^/    /'; fi
done
echo "integration: $pass passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
