# `n3x-launch --check` on the example prints the plan in tests/data/check/
# (diffed exactly, the checkout path replaced by @SRC@) and starts nothing.
. "$(dirname "$0")/lib.sh"

export XDG_RUNTIME_DIR=/run/user/1000 XDG_STATE_HOME=/home/u/.local/state
"$BIN/n3x-launch" --check "$SRC/examples/n3x-cluster.conf" >"$TMP/plan" || fail "--check failed"
sed "s|$SRC|@SRC@|g" "$TMP/plan" >"$TMP/plan.norm"
diff -u "$SRC/tests/data/check/n3x-cluster.plan" "$TMP/plan.norm" || fail "plan differs"
[ ! -e /run/user/1000/n3x/n3x ] || fail "--check created the runtime dir"
