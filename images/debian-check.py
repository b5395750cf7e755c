#!/usr/bin/env python3
"""Boot one Debian test image (images/debian.sh) under TCG and check it.

    images/debian-check.py IMAGE [bios|uefi]

IMAGE's arch comes from its name (aarch64 in it: arm64 under AAVMF; else
x86_64, q35, SeaBIOS or with "uefi" OVMF).  QEMU runs on a throw-away overlay
with a user-mode NIC (restrict=on: nothing leaves the emulator; its DHCP
server names the guest "n3x-check") and a guest-agent port.  The script logs
in on the serial console as root/test and checks what n3x relies on:

  - a login prompt, then `systemctl is-system-running --wait` says running;
  - the hostname came from DHCP, with no /etc/hostname;
  - a fresh machine-id, ssh host keys made on this boot, sshd and the agent
    active, root/test logs in over ssh (to 127.0.0.1), iperf3 present;
  - guest-ping and guest-get-host-name over the agent's port;
  - `poweroff` ends QEMU by itself.

Prints the time to the login prompt and each check; exit 0 when all pass,
1 when one fails.  Needs qemu-system-x86 / qemu-system-arm, ovmf /
qemu-efi-aarch64 (scripts/deps.sh).  Everything it makes is under one
temporary directory, removed at the end; the QEMU it starts is killed by
its PID if still running.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HOSTNAME = "n3x-check"


class Console:
    """The serial console over a unix socket; a thread keeps reading it, so
    the guest never blocks on a full socket, into a log and a buffer that
    expect() searches."""

    def __init__(self, path, log):
        self.sock = socket.socket(socket.AF_UNIX)
        for _ in range(200):
            try:
                self.sock.connect(path)
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise SystemExit(f"cannot connect to {path}")
        self.log = log
        self.buf = b""
        self.closed = False
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            with self.cond:
                if not data:
                    self.closed = True
                else:
                    self.log.write(data)
                    self.log.flush()
                    self.buf += data
                self.cond.notify_all()
            if not data:
                return

    def expect(self, pattern, timeout):
        """The console output up to and including PATTERN (a regex)."""
        rx = re.compile(pattern.encode())
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                m = rx.search(self.buf)
                if m:
                    out, self.buf = self.buf[: m.end()], self.buf[m.end():]
                    return out.decode(errors="replace")
                if self.closed:
                    raise SystemExit(f"console closed while waiting for {pattern!r}")
                left = end - time.monotonic()
                if left <= 0:
                    tail = self.buf[-300:].decode(errors="replace")
                    raise SystemExit(f"no {pattern!r} within {timeout} s; console ends with: {tail!r}")
                self.cond.wait(min(left, 0.5))

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r")

    def run(self, cmd, timeout=120):
        """CMD's output and exit status, from a shell on the console."""
        # The quotes keep the markers out of the echoed command line.
        self.send(f"echo B''EGIN; {cmd}; echo E''ND $?")
        self.expect(r"BEGIN\r?\n", timeout)
        out = self.expect(r"END \d+\r?\n", timeout)
        body, status = out.rsplit("END ", 1)
        return body.replace("\r", "").strip(), int(status)


def agent(path, command):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(path)
        s.sendall(command.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.decode().strip()


def main():
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] not in ("bios", "uefi")):
        print("usage: images/debian-check.py IMAGE [bios|uefi]", file=sys.stderr)
        return 2
    image = os.path.abspath(sys.argv[1])
    firmware = sys.argv[2] if len(sys.argv) == 3 else ("uefi" if "uefi" in image else "bios")
    arm = "aarch64" in os.path.basename(image)
    tmp = tempfile.mkdtemp(prefix="n3x-debian-check.")
    qemu = None
    failed = []
    try:
        overlay = f"{tmp}/overlay.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", image, overlay],
                       check=True)
        if arm:
            code, vars_ = "/usr/share/AAVMF/AAVMF_CODE.fd", "/usr/share/AAVMF/AAVMF_VARS.fd"
            cmd = ["qemu-system-aarch64", "-M", "virt,gic-version=3", "-cpu", "cortex-a57"]
            firmware = "uefi"
        else:
            code, vars_ = "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"
            cmd = ["qemu-system-x86_64", "-M", "q35", "-cpu", "max"]
        if firmware == "uefi":
            shutil.copy(vars_, f"{tmp}/vars.fd")
            cmd += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
                    "-drive", f"if=pflash,format=raw,unit=1,file={tmp}/vars.fd"]
        ser, ga = f"{tmp}/serial.sock", f"{tmp}/ga.sock"
        cmd += ["-accel", "tcg", "-m", "1024", "-smp", "1", "-display", "none",
                "-nodefaults", "-no-user-config",
                "-drive", f"file={overlay},format=qcow2,if=none,id=disk0",
                "-device", "virtio-blk-pci,drive=disk0,bootindex=0",
                "-netdev", f"user,id=net0,restrict=on,hostname={HOSTNAME}",
                "-device", "virtio-net-pci,netdev=net0",
                "-chardev", f"socket,id=ser0,path={ser},server=on,wait=on",
                "-serial", "chardev:ser0",
                "-device", "virtio-serial-pci",
                "-chardev", f"socket,id=ga0,path={ga},server=on,wait=off",
                "-device", "virtserialport,chardev=ga0,name=org.qemu.guest_agent.0"]
        log = open(f"{tmp}/console.log", "wb")
        qemu = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        while not os.path.exists(ser):
            if qemu.poll() is not None:
                raise SystemExit(f"QEMU exited ({qemu.returncode}): {open(f'{tmp}/console.log').read()}")
            time.sleep(0.05)
        con = Console(ser, log)
        t0 = time.monotonic()
        con.expect(r"login: ", 900)
        print(f"{os.path.basename(image)} ({firmware}): login prompt after {time.monotonic() - t0:.1f} s",
              flush=True)
        con.send("root")
        con.expect(r"Password: ", 60)
        con.send("test")
        con.expect(r"# ", 60)
        con.run("stty -echo; export SYSTEMD_PAGER= SYSTEMD_COLORS=0 TERM=dumb")

        def check(what, cmd, ok, timeout=120):
            out, status = con.run(cmd, timeout)
            good = ok(out, status)
            print(f"  {'ok  ' if good else 'FAIL'} {what}: {out.splitlines()[-1] if out else ''}"
                  f"{'' if status == 0 else f' (exit {status})'}", flush=True)
            if not good:
                failed.append(what)
                print("    " + out.replace("\n", "\n    "), flush=True)

        check("system running", "s=$(systemctl is-system-running --wait); systemctl --failed --no-legend;"
              " echo $s; test $s = running", lambda o, s: s == 0, 600)
        t1 = time.monotonic() - t0
        check("hostname from DHCP", "hostname; test ! -e /etc/hostname",
              lambda o, s: s == 0 and o == HOSTNAME)
        check("fresh machine-id", "cat /etc/machine-id",
              lambda o, s: s == 0 and re.fullmatch(r"[0-9a-f]{32}", o) is not None)
        check("ssh host keys made on this boot",
              "journalctl -b -u ssh --no-pager | grep -o 'generating new host keys.*'",
              lambda o, s: s == 0 and "ED25519" in o)
        check("services active", "systemctl is-active ssh qemu-guest-agent systemd-networkd | xargs",
              lambda o, s: s == 0 and o == "active active active")
        check("sshd accepts root with a password", "sshd -T | grep -E '^(permitrootlogin|passwordauthentication)' | xargs",
              lambda o, s: s == 0 and o == "permitrootlogin yes passwordauthentication yes")
        check("ssh root@localhost with the password",
              "printf '#!/bin/sh\\necho test\\n' >/tmp/askpass; chmod +x /tmp/askpass;"
              " SSH_ASKPASS=/tmp/askpass SSH_ASKPASS_REQUIRE=force setsid -w ssh -o StrictHostKeyChecking=no"
              " -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR root@127.0.0.1 hostname </dev/null",
              lambda o, s: s == 0 and o == HOSTNAME)
        check("iperf3", "iperf3 --version | head -n 1", lambda o, s: s == 0)
        for what, command, want in (("guest-ping", '{"execute":"guest-ping"}', '{"return": {}}'),
                                    ("guest-get-host-name", '{"execute":"guest-get-host-name"}',
                                     f'{{"return": {{"host-name": "{HOSTNAME}"}}}}')):
            reply = agent(ga, command)
            good = reply == want
            print(f"  {'ok  ' if good else 'FAIL'} agent {what}: {reply}", flush=True)
            if not good:
                failed.append(what)
        t2 = time.monotonic()
        con.send("poweroff")
        try:
            qemu.wait(300)
            print(f"  ok   poweroff: QEMU exited {qemu.returncode} after {time.monotonic() - t2:.1f} s",
                  flush=True)
        except subprocess.TimeoutExpired:
            failed.append("poweroff")
            print("  FAIL poweroff: QEMU still running after 300 s", flush=True)
        print(f"system running after {t1:.1f} s; {'all checks passed' if not failed else 'FAILED: ' + ', '.join(failed)}")
    except SystemExit as e:
        print(f"images/debian-check.py: {os.path.basename(image)}: {e}", file=sys.stderr)
        failed.append("boot")
    finally:
        if qemu is not None and qemu.poll() is None:
            qemu.kill()
            qemu.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
