# The manuals (build/man, from doc/*.scd by `make man`) are clean for
# mandoc's linter and man(1), and cover what the programs accept: every verb
# of `n3x-ctl help` and every option in its row, every option and variable
# of `n3x-launch --help`, every section, key and value the topology parser
# takes, every step of a schedule and every impairment rule word.  The lists
# come from the programs' own output and from the parser's tables in the
# source, never from a list kept here, so a verb, key or word added without
# its documentation fails this test.  About 2 s.
. "$(dirname "$0")/lib.sh"

need_cmd mandoc man qemu-system-x86_64
# n3x-launch --check (the rule word probe) plans QEMU as this user.
getent passwd n3x-qemu >/dev/null || skip "no system user n3x-qemu (scripts/deps.sh makes it)"
MAN=$SRC/build/man
PAGES="n3x-launch.8 n3x-ctl.1 n3x-topology.5"

for p in $PAGES; do
	[ -f "$MAN/$p" ] || fail "$MAN/$p is missing (make man)"
	[ "$MAN/$p" -nt "$SRC/doc/$p.scd" ] || fail "$MAN/$p is older than doc/$p.scd (make man)"
done

# ---- the pages are clean ----

for p in $PAGES; do
	rc=0
	lint=$(mandoc -T lint -W warning "$MAN/$p" 2>&1) || rc=$?
	[ "$rc" -eq 0 ] && [ -z "$lint" ] || { printf '%s\n' "$lint" >&2; fail "$p: mandoc -T lint -W warning (exit $rc)"; }
	rc=0
	MANWIDTH=80 MANPAGER=cat man --warnings -l "$MAN/$p" >"$TMP/$p.txt" 2>"$TMP/$p.err" || rc=$?
	[ "$rc" -eq 0 ] && [ ! -s "$TMP/$p.err" ] || { cat "$TMP/$p.err" >&2; fail "$p: man -l (exit $rc)"; }
	name=${p%.*}
	grep -q "^${name}(${p##*.})" "$TMP/$p.txt" || fail "$p: man -l shows no $name(${p##*.}) header"
	grep -q '^NAME$' "$TMP/$p.txt" || fail "$p: man -l shows no NAME section"
	rc=0
	wide=$(LC_ALL=C.UTF-8 grep -nE '^.{81,}' "$TMP/$p.txt") || rc=$?
	[ "$rc" -le 1 ] || fail "grep failed ($rc)"
	[ -z "$wide" ] || { printf '%s\n' "$wide" >&2; fail "$p: lines wider than MANWIDTH=80"; }
done
note "lint and man -l: clean"

# ---- what the pages document ----

# terms PAGE [SECTION]: the item lines (a line of text whose next line opens
# its indented description) of PAGE's section SECTION (its .SH title), or of
# every section.
terms() {
	SEC=${2:-} awk '
		/^\.SH / { sec = substr($0, 5); gsub(/^"|"$/, "", sec) }
		{ if (prev != "" && /^\.RS/ && (ENVIRON["SEC"] == "" || sec == ENVIRON["SEC"])) print prev
		  prev = /^\./ ? "" : $0 }' "$MAN/$1"
}

# section PAGE SECTION: every line of that section.
section() {
	SEC=$2 awk '/^\.SH / { sec = substr($0, 5); gsub(/^"|"$/, "", sec); next }
		sec == ENVIRON["SEC"]' "$MAN/$1"
}

# item PAGE WORD: the item whose line starts with WORD in bold, with its
# description (to the .RE that closes it).
item() {
	T="\\fB$2\\fR" awk '
		{ l[NR] = $0 }
		END {
			for (i = 1; i < NR; i++) {
				if (index(l[i], ENVIRON["T"]) != 1 || l[i + 1] !~ /^\.RS/)
					continue
				print l[i]
				for (j = i + 1; j <= NR; j++) {
					print l[j]
					if (l[j] ~ /^\.RS/) d++
					else if (l[j] ~ /^\.RE/ && --d == 0) break
				}
				exit
			}
		}' "$MAN/$1"
}

# bold WORD: WORD as the pages set it in bold, for grep -F.
bold() { printf '\\fB%s\\fR' "$1"; }

# options: the options in a usage text (-f, --json; not "--" or "to-vm").
options() { grep -oE '(^|[][ (|])--?[a-z][a-z-]*' | sed 's/^[][ (|]//' | sort -u; }

# at_least N WHAT WORDS: a list from the source or a program is not empty
# (a changed source would otherwise make its check check nothing).
at_least() {
	local n
	n=$(wc -w <<<"$3")
	[ "$n" -ge "$1" ] || fail "only $n $2 found ($3): the test no longer reads them right"
}

# n3x-ctl: every verb of the help table is an item of COMMANDS, and each
# option in its row is in that item.
help=$("$BIN/n3x-ctl" help) || fail "n3x-ctl help failed"
verbs=$(sed -n 's/^  \([a-z_][a-z_-]*\).*/\1/p' <<<"$help")
at_least 25 "verbs in n3x-ctl help" "$verbs"
ctl_terms=$(terms n3x-ctl.1 COMMANDS)
for v in $verbs; do
	grep -q "^$(bold "$v" | sed 's/\\/\\\\/g')\( \|$\)" <<<"$ctl_terms" || fail "n3x-ctl(1) COMMANDS has no item for verb '$v'"
	body=$(item n3x-ctl.1 "$v")
	for o in $(grep "^  $v\( \|$\)" <<<"$help" | options); do
		grep -qF -- "$(bold "$o")" <<<"$body" || fail "n3x-ctl(1): verb '$v' does not document its option $o"
	done
done
for o in $(head -n 1 <<<"$help" | options); do
	terms n3x-ctl.1 OPTIONS | contains -F -- "$(bold "$o")" || fail "n3x-ctl(1) OPTIONS has no item for $o"
done
note "n3x-ctl(1): $(wc -w <<<"$verbs") verbs and their options"

# n3x-launch: every option of --help is an item of OPTIONS, every variable
# it names one of ENVIRONMENT.
lhelp=$("$BIN/n3x-launch" --help) || fail "n3x-launch --help failed"
lopts=$(grep -E '^  -' <<<"$lhelp" | options)
at_least 7 "options in n3x-launch --help" "$lopts"
for o in $lopts; do
	terms n3x-launch.8 OPTIONS | contains -F -- "$(bold "$o")" || fail "n3x-launch(8) OPTIONS has no item for $o"
done
for e in $(grep -oE '\bN3X_[A-Z_]+' <<<"$lhelp" | sort -u); do
	terms n3x-launch.8 ENVIRONMENT | contains -F -- "$(bold "$e")" || fail "n3x-launch(8) ENVIRONMENT has no item for $e"
done
note "n3x-launch(8): $(wc -w <<<"$lopts") options"

# topology.conf: the section kinds of the parser's table are items of
# SECTIONS.
kinds=$(grep -oE '\[TOPO_SEC_[A-Z]+\] = "[a-z]+"' "$SRC/launcher/topology.c" | cut -d'"' -f2 | sort -u)
at_least 6 "section kinds in launcher/topology.c" "$kinds"
for k in $kinds; do
	terms n3x-topology.5 SECTIONS | contains -F -- "\\fB[$k" || fail "n3x-topology(5) SECTIONS has no item for [$k]"
done

# Every key the parser compares (strcmp(key, "...")) is one it accepts in
# some section: asked in each, the parser calls it unknown in fewer than
# all, and a made-up key in all.  Its item must be in the part of the page
# about each section that takes it.
keys=$(grep -ohE 'strcmp\(key, "[a-z][a-z-]*"\)' "$SRC"/launcher/topology*.c | cut -d'"' -f2 | sort -u)
at_least 25 "keys in launcher/topology*.c" "$keys"
probe=$TMP/keys.conf
for s in fabric "network n" "vm v" "schedule s"; do
	printf '[%s]\n' "$s"
	for k in $keys n3x-no-such-key; do printf '%s = x\n' "$k"; done
done >"$probe"
rc=0
"$BIN/n3x-ctl" -f "$probe" status >/dev/null 2>"$TMP/keys.err" || rc=$?
expect_eq "$rc" 2 "n3x-ctl -f on the key probe"
for s in fabric network vm schedule; do
	grep -c "$probe:[0-9]*: $s[ :].*unknown key \"n3x-no-such-key\"" "$TMP/keys.err" | contains -x 1 ||
		{ cat "$TMP/keys.err" >&2; fail "[$s] does not call a made-up key unknown: the probe is wrong"; }
done
for k in $keys; do
	found=
	for s in fabric network vm schedule; do
		if grep -q "$probe:[0-9]*: $s[ :].*unknown key \"$k\"" "$TMP/keys.err"; then
			continue
		fi
		found=1
		case $s in
		fabric) sec='[fabric]' ;;
		network) sec='[network NAME]' ;;
		vm) sec='[vm NAME]' ;;
		schedule) sec=SCHEDULES ;;
		esac
		terms n3x-topology.5 "$sec" | contains -F -- "$(bold "$k")" ||
			fail "n3x-topology(5) $sec has no item for key '$k'"
	done
	[ -n "$found" ] || fail "key '$k' (from the source) is unknown in every section: the test no longer reads keys right"
done
note "n3x-topology(5): $(wc -w <<<"$kinds") sections, $(wc -w <<<"$keys") keys"

# The values the parser picks from (arch_names[], ..., the booleans, nic's
# options, ready's words[]: its string arrays) are in bold in the page.
values=$(awk '/static const char \*const [a-z_]+\[\] = \{/ { on = 1 } on { print } on && /\};/ { on = 0 }' \
	"$SRC/launcher/topology_keys.c" | grep -oE '"[a-z0-9_=-]+"' | tr -d '"' | sort -u)
at_least 20 "values in launcher/topology_keys.c" "$values"
for v in $values; do
	grep -qF -- "$(bold "$v")" "$MAN/n3x-topology.5" || fail "n3x-topology(5) does not document the value '$v'"
done

# A schedule's actions (parse_action's words[0]) are items of SCHEDULES.
actions=$(grep -oE 'strcmp\(words\[0\], "[a-z]+"\)' "$SRC/launcher/topology_sched.c" | cut -d'"' -f2 | sort -u)
at_least 4 "schedule actions in launcher/topology_sched.c" "$actions"
for a in $actions; do
	terms n3x-topology.5 SCHEDULES | contains -F -- "$(bold "$a")" || fail "n3x-topology(5) SCHEDULES has no item for step '$a'"
done

# Rule words: tc/rule.c's words[] table.  Each starts an item of
# IMPAIRMENT; n3x-launch --check takes each as a word (it may want a value)
# and calls a made-up one unknown.
words=$(sed -n '/^} words\[\] = {/,/^};/p' "$SRC/tc/rule.c" | grep -oE '\{ "[a-z-]+", W_' | cut -d'"' -f2 | sort -u)
at_least 10 "rule words in tc/rule.c" "$words"
{
	vm_block v x86_64 | sed "s|@IMG@|$IMG|g"
	for w in $words n3x-no-such-word; do printf '[profile p-%s]\nv = %s\n' "$w" "$w"; done
} >"$TMP/words.conf"
[ -r "$IMG/x86_64/vmlinuz" ] || fail "no demo kernel in $IMG (make images)"
rc=0
"$BIN/n3x-launch" --check "$TMP/words.conf" >/dev/null 2>"$TMP/words.err" || rc=$?
expect_eq "$rc" 2 "n3x-launch --check on the word probe"
contains 'unknown word "n3x-no-such-word"' <"$TMP/words.err" ||
	{ cat "$TMP/words.err" >&2; fail "--check did not call a made-up rule word unknown: the probe is wrong"; }
imp=$(terms n3x-topology.5 IMPAIRMENT)
for w in $words; do
	if grep -q "unknown word \"$w\"" "$TMP/words.err"; then
		fail "rule word '$w' (from tc/rule.c) is unknown to --check: the test no longer reads words right"
	fi
	grep -q "^$(bold "$w" | sed 's/\\/\\\\/g')\( \|$\)" <<<"$imp" || fail "n3x-topology(5) IMPAIRMENT has no item for rule word '$w'"
done
# The words a rule word takes after it, the prefixes and the distributions:
# in bold in IMPAIRMENT.
sub=$( (grep -oE 'strcmp\([^,]*, "[a-z:-]+"\)' "$SRC/tc/rule.c" | cut -d'"' -f2
	grep -E '	static const char \*const names\[\] = \{.*\};' "$SRC/tc/rule.c" | grep -oE '"[a-z]+"' | tr -d '"'
	sed -n '/dist_names\[\] = {/,/};/p' "$SRC/tc/rule.c" | grep -oE '"[a-z]+"' | tr -d '"') | sort -u)
at_least 12 "sub-words in tc/rule.c" "$sub"
impall=$(section n3x-topology.5 IMPAIRMENT)
for w in $sub; do
	grep -qF -- "$(bold "$w")" <<<"$impall" || fail "n3x-topology(5) IMPAIRMENT does not document '$w'"
done
note "n3x-topology(5): $(wc -w <<<"$words") rule words, $(wc -w <<<"$sub") words within rules"
