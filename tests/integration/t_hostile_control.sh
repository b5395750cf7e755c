# Hostile input on the control socket costs nothing: a QMP command nested
# 1100 deep (through n3x-ctl and raw, past its check), a 2 MB request with
# no newline, non-UTF-8 bytes, wrong JSON types and unknown verbs each get
# one error reply (ok:false, a message, code 2 or 1) and afterwards every VM
# still pauses, resumes and stops gracefully, and the monitor still tells
# the truth (status and QMP agree).
. "$(dirname "$0")/lib.sh"

need_cmd qemu-system-x86_64 python3

conf=$(write_conf hostile "[fabric]
name = it-hostile
$(vm_block h1 x86_64)
$(vm_block h2 x86_64)")
start_launcher "$conf"
RUN=$XDG_RUNTIME_DIR/n3x/it-hostile
VMS="h1 h2"

for vm in $VMS; do
	ctl wait "$vm" --console 'n3x-guest: ready' --timeout 180 >/dev/null || fail "$vm never got ready"
done
lpid_before=$LPID

# Deep nesting through n3x-ctl: refused before it leaves the client.
deep=$(python3 -c 'print("{\"execute\":\"qom-set\",\"arguments\":{\"value\":" + "[" * 1100 + "]" * 1100 + "}}")')
rc=0; out=$(ctl qmp h1 "$deep" 2>&1) || rc=$?
expect_eq "$rc" 2 "n3x-ctl qmp nested 1100 deep: exit code"
echo "$out" | contains 'nested deeper than 64 levels' || fail "deep QMP through n3x-ctl: $out"

# Everything else goes raw to the socket, as a broken or hostile client
# would send it.  Each case is one connection; the reply must be exactly
# one JSON line with ok:false, a non-empty error and the expected code.
python3 - "$RUN/control.sock" <<'EOF' || fail "hostile requests (see above)"
import json, socket, sys, time

path = sys.argv[1]
failed = []

def talk(payload, timeout=20):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    try:
        s.sendall(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused mid-send: the reply is still in our buffer
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    data = b""
    t0 = time.monotonic()
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    s.close()
    return data, time.monotonic() - t0

def expect(name, payload, code, needle=None):
    data, took = talk(payload)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if len(lines) != 1:
        failed.append("%s: want one reply line, got %r" % (name, data[:300]))
        return
    try:
        r = json.loads(lines[0])
    except ValueError as e:
        failed.append("%s: reply is not JSON (%s): %r" % (name, e, lines[0][:300]))
        return
    if r.get("ok") is not False or not r.get("error") or r.get("code") != code:
        failed.append("%s: want ok:false, an error, code %d; got %s" % (name, code, lines[0][:300]))
        return
    if needle and needle not in r["error"]:
        failed.append("%s: error %r does not say %r" % (name, r["error"], needle))
        return
    print("  %-28s -> code %d in %.2f s: %s" % (name, code, took, json.dumps(r["error"])[:90]))

deep = ('{"execute":"qom-set","arguments":{"path":"/machine","property":"x","value":'
        + "[" * 1100 + "]" * 1100 + "}}")
cases = [
    # QEMU answers a command nested past its limit with an error without
    # an id; refused here (or, were it sent, dropped by the QMP client).
    ("deep qmp, raw", ('{"cmd":"qmp","vm":"h1","command":%s}\n' % deep).encode(), 2, "nested deeper"),
    ("2 MB, no newline", b"x" * (2 * 1024 * 1024), 2, "longer than"),
    ("2 MB JSON, no newline", b'{"cmd":"status","pad":"' + b"a" * (2 * 1024 * 1024), 2, "longer than"),
    ("non-UTF-8 in cmd", b'{"cmd":"stat\xff\xfeus"}\n', 2, "bad request"),
    ("non-UTF-8 in a VM name", b'{"cmd":"pause","vms":["h1\xc3\x28"]}\n', 2, "bad request"),
    ("lone surrogate escape", b'{"cmd":"pause","vms":["\\ud800"]}\n', 2, "bad request"),
    ("NUL escape", b'{"cmd":"pause","vms":["h1\\u0000x"]}\n', 2, "bad request"),
    ("binary garbage", bytes(b for b in range(256) if b != 10) + b"\n", 2, "bad request"),
    ("not an object", b'["cmd","status"]\n', 2, "not a JSON object"),
    ("cmd a number", b'{"cmd":42}\n', 2, "not a JSON object"),
    ("cmd null", b'{"cmd":null}\n', 2, "not a JSON object"),
    ("vms a string", b'{"cmd":"pause","vms":"h1"}\n', 2, '"vms" must be an array'),
    ("vms of numbers", b'{"cmd":"pause","vms":[1,2]}\n', 2, "no VM named"),
    ("all a string", b'{"cmd":"stop","all":"yes"}\n', 2, '"all" must be true or false'),
    ("vms of objects", b'{"cmd":"stop","vms":[{"name":"h1"}]}\n', 2, "no VM named"),
    ("long UTF-8 VM name", ('{"cmd":"pause","vms":["%s"]}\n' % ("\u00e9" * 700)).encode(), 2, "no VM named"),
    ("qmp vm a number", b'{"cmd":"qmp","vm":7,"command":{"execute":"query-status"}}\n', 2, '"vm" must be a string'),
    ("qmp command a string", b'{"cmd":"qmp","vm":"h1","command":"{\\"execute\\":\\"stop\\"}"}\n', 2, "an object"),
    ("qmp execute a number", b'{"cmd":"qmp","vm":"h1","command":{"execute":5}}\n', 2, "an object"),
    ("hmp command an array", b'{"cmd":"hmp","vm":"h1","command":["info","status"]}\n', 2, None),
    ("wait timeout a string", b'{"cmd":"wait","vm":"h1","state":"running","timeout":"soon"}\n', 2, '"timeout" must be'),
    ("wait timeout 1e308", b'{"cmd":"wait","vm":"h1","state":"paused","timeout":1e308}\n', 2, '"timeout" must be'),
    ("wait timeout negative", b'{"cmd":"wait","vm":"h1","state":"paused","timeout":-1}\n', 2, '"timeout" must be'),
    ("wait state a number", b'{"cmd":"wait","vm":"h1","state":3}\n', 2, '"state" must be a string'),
    ("wait port a float", b'{"cmd":"wait","vm":"h1","port":22.5}\n', 2, '"port" must be an integer'),
    ("send data a number", b'{"cmd":"send","vm":"h1","data":12}\n', 2, '"data" must be a string'),
    ("link up a string", b'{"cmd":"link","vm":"h1","up":"yes"}\n', 2, '"up" must be true or false'),
    ("snapshot name a number", b'{"cmd":"snapshot","action":"save","name":1}\n', 2, '"name" must be a string'),
    ("exec args an object", b'{"cmd":"exec","vm":"h1","path":"/bin/true","args":{}}\n', 2, '"args" must be an array'),
    ("unknown verb", b'{"cmd":"frobnicate","vms":["h1"]}\n', 2, "unknown command"),
    ("empty verb", b'{"cmd":""}\n', 2, "unknown command"),
    ("verb with a NUL-free trick", b'{"cmd":"status\\n"}\n', 2, "unknown command"),
]
for c in cases:
    expect(*c)

# A request cut short and a flood of junk lines: each line answered in order.
data, _ = talk(b"nonsense\n" * 500 + b'{"cmd":"status"}\n')
lines = data.rstrip(b"\n").split(b"\n")
if len(lines) != 501 or not json.loads(lines[-1]).get("ok"):
    failed.append("500 junk lines then status: %d replies, last %r" % (len(lines), lines[-1][:200]))
else:
    print("  %-28s -> 500 errors, then status ok" % "500 junk lines")

if failed:
    print("\n".join("FAIL: " + f for f in failed), file=sys.stderr)
    sys.exit(1)
EOF

kill -0 "$lpid_before" 2>/dev/null || fail "the supervisor died"
ctl status >/dev/null || fail "status after the hostile requests"

# Every VM is still driven by its monitor: pause and resume are seen by
# QMP itself, and stop is the graceful ACPI powerdown.
for vm in $VMS; do
	expect_field "$vm" state running
	ctl pause "$vm" >/dev/null || fail "$vm: pause after the hostile requests"
	expect_field "$vm" state paused
	ctl qmp "$vm" '{"execute":"query-status"}' | contains '"status": *"paused"' || fail "$vm: QMP does not say paused"
	ctl resume "$vm" >/dev/null || fail "$vm: resume"
	ctl qmp "$vm" '{"execute":"query-status"}' | contains '"status": *"running"' || fail "$vm: QMP does not say running"
done
for vm in $VMS; do
	ctl stop "$vm" >/dev/null || fail "$vm: stop after the hostile requests"
	expect_field "$vm" state stopped
	grep -q 'n3x-guest: powering off' "$XDG_STATE_HOME/n3x/it-hostile/vm/$vm/console.log" ||
		fail "$vm: the guest did not see the ACPI powerdown"
	! grep -q 'did not power off' "$XDG_STATE_HOME/n3x/it-hostile/vm/$vm/console.log" ||
		fail "$vm: stop needed a forced quit"
done
ctl shutdown >/dev/null || fail "shutdown"
wait_gone "$LPID" 30 || fail "the supervisor did not exit"
