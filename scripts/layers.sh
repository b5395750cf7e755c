#!/bin/sh
# Check the code layers (SPEC "Code layers"): every include of ours names its
# layer ("base/loop.h"), and no layer includes one above it.
#   base/                 nothing of ours
#   qmp/, net/, tc/       base/ and themselves
#   ctl/ (n3x-ctl)        base/, itself, and the topology parser
#   launcher/             everything but ctl/
# Prints one FILE:LINE line per wrong include and exits 1 when there is one.
cd "$(dirname "$0")/.." || exit 2
out=$(for f in base/*.[ch] qmp/*.[ch] net/*.[ch] tc/*.[ch] ctl/*.[ch] launcher/*.[ch]; do
	[ -e "$f" ] || continue
	layer=${f%%/*}
	case $layer in
	base) allowed='base/' ;;
	qmp | net | tc) allowed="base/ $layer/" ;;
	ctl) allowed='base/ ctl/ launcher/topology.h' ;;
	launcher) allowed='base/ qmp/ net/ tc/ launcher/' ;;
	esac
	grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" | while IFS= read -r hit; do
		line=${hit%%:*}
		inc=$(printf '%s\n' "$hit" | sed 's/^[^"]*"\([^"]*\)".*/\1/')
		case $inc in
		*/*) ;;
		*) echo "$f:$line: #include \"$inc\" does not name its layer (write \"$layer/$inc\")"
		   continue ;;
		esac
		ok=
		for a in $allowed; do
			case $inc in "$a"*) ok=1 ;; esac
		done
		[ -n "$ok" ] || echo "$f:$line: $layer/ may not include \"$inc\" (allowed: $allowed)"
	done
done)
if [ -n "$out" ]; then
	printf '%s\n' "$out" >&2
	exit 1
fi
echo "layers: every include names its layer and points down"
