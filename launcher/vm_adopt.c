/* vm_adopt.c - QEMU outlives the supervisor: state.json while it runs,
 * taking it over in a later supervisor (vm_adopt), letting it go
 * (vm_detach).  vm.h describes the contract. */
#include "launcher/vm_impl.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/proc.h"
#include "launcher/bootlog.h"
#include "launcher/console.h"

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void vm_state_save(struct vm *vm)
{
	int r;

	if (!vm_qemu_running(vm) || vm->detached)
		return;
	memcpy(vm->run.link_down, vm->link_down, sizeof(vm->run.link_down));
	if (vm->up_since_ms && !vm->run.up_since_ms)
		vm->run.up_since_ms = wall_ms() - (int64_t)(loop_now_ms() - vm->up_since_ms);
	if ((r = vmstate_save(vm->state_json, vm->dirs.run, vm->cfg->name, &vm->run)) < 0)
		console_note(vm->console, "cannot write %s: %s; a later supervisor cannot adopt this QEMU",
			     vm->state_json, strerror(-r));
}

/* The files of a QEMU that is gone, or was never ours. */
static void forget_files(struct vm *vm)
{
	unlink(vm->state_json);
	unlink(vm->serial_sock);
	unlink(vm->monitor_sock);
	unlink(vm->agent_sock);
	unlink(vm->qmp_sock);
}

/* Whether pid is the QEMU state.json st describes: its start time and
 * command line.  With the pidfd open (child_adopt), the pid cannot be
 * reused under us. */
static bool is_qemu(pid_t pid, void *opaque)
{
	const struct vmstate *st = opaque;
	uint64_t start, hash;

	return proc_start_time(pid, &start) == 0 && start == st->start_time &&
	       vmstate_proc_cmdline_hash(pid, &hash) == 0 && hash == st->cmdline_hash;
}

/* Uptime goes on from when the guest first ran, as state.json says. */
static void restore_uptime(struct vm *vm)
{
	int64_t ago = vm->run.up_since_ms ? wall_ms() - vm->run.up_since_ms : -1;
	uint64_t now = loop_now_ms();

	if (ago < 0)
		return; /* it never ran, or the clock went back: from now on */
	vm->up_since_ms = (uint64_t)ago < now ? now - (uint64_t)ago : 1;
}

/* What the adopted QEMU printed since it started, read back from
 * console.log (QEMU logs its serial port itself): the replay for console
 * clients, and the text `wait --console` and ready = console scan, as if
 * this supervisor had watched the boot.  The text starts after the note of
 * this QEMU's start when the log's tail holds it, and leaves our notes out
 * of the guest's text.  Read before the serial port is connected: what
 * QEMU writes in between is in the log only, never seen twice. */
static void seed_console(struct vm *vm, pid_t pid)
{
	char marker[64], *buf = malloc(BOOTLOG_TEXT_MAX + 1), *from, *p, *line, *out;
	size_t mlen, n, outlen = 0;
	struct stat st;
	off_t off;
	ssize_t got;
	int fd;

	if (!buf || (fd = open(vm->console_log, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		free(buf);
		return;
	}
	off = fstat(fd, &st) == 0 && st.st_size > BOOTLOG_TEXT_MAX ? st.st_size - BOOTLOG_TEXT_MAX : 0;
	got = pread(fd, buf, BOOTLOG_TEXT_MAX, off);
	close(fd);
	if (got <= 0) {
		free(buf);
		return;
	}
	n = (size_t)got;
	buf[n] = '\0';
	mlen = (size_t)snprintf(marker, sizeof(marker), "[n3x] QEMU started (pid %d,", (int)pid);
	from = buf;
	for (p = buf; (p = memmem(p, n - (size_t)(p - buf), marker, mlen)); p += mlen)
		from = p;
	if (from != buf || off > 0) { /* from the line after the note, or a whole line */
		char *nl = memchr(from, '\n', n - (size_t)(from - buf));

		from = nl ? nl + 1 : buf + n;
	}
	console_replay(vm->console, from, n - (size_t)(from - buf));
	out = from; /* the guest's lines, in place: never longer */
	for (line = from; line < buf + n;) {
		char *nl = memchr(line, '\n', (size_t)(buf + n - line));
		size_t len = nl ? (size_t)(nl + 1 - line) : (size_t)(buf + n - line);

		if (strncmp(line, "[n3x] ", 6) != 0) {
			memmove(out + outlen, line, len);
			outlen += len;
		}
		line += len;
	}
	bootlog_add(vm->boot, out, outlen);
	free(buf);
}

int vm_adopt(struct vm *vm, struct err *e)
{
	char nets[TOPO_MAX_NICS][VMSTATE_NET_MAX];
	struct vmstate st;
	struct err le;
	int r;

	if (vm->state != VM_STOPPED || vm_qemu_running(vm))
		return err_set(e, EBUSY, "vm %s: only a stopped VM without QEMU adopts one", vm->cfg->name);
	if ((r = vmstate_load(vm->state_json, &st, &le)) == -ENOENT)
		return 0;
	if (r < 0) {
		/* Its QEMU, if any, keeps its sockets: a start refuses the
		 * paths it still answers on (vm_qemu_spawn). */
		console_note(vm->console, "%s: starting afresh", le.msg);
		unlink(vm->state_json);
		return 0;
	}
	/* Its exit reaches qemu_exited with CHILD_STATUS_UNKNOWN. */
	if ((r = child_adopt(&vm->qemu, st.pid, is_qemu, &st)) == -ESRCH) {
		console_note(vm->console, "QEMU pid %d of an earlier supervisor is gone", (int)st.pid);
		forget_files(vm);
		vmstate_free(&st);
		return 0;
	}
	if (r < 0) {
		/* The QEMU of ours that cannot be watched is stopped, so that
		 * the VM can start again on its paths: SIGKILL, then up to
		 * CHILD_KILL_WAIT_MS for it to go. */
		child_stop_sync(&vm->qemu, 0);
		forget_files(vm);
		err_sys(&vm->err, -r, "vm %s: cannot watch QEMU pid %d, so it was stopped", vm->cfg->name,
			(int)st.pid);
		vmstate_free(&st);
		if (e)
			*e = vm->err;
		return r;
	}
	vmstate_free(&vm->run);
	vm->run = st; /* the argv, networks and cables QEMU has */
	for (int i = 0; i < vm->cfg->nnics; i++) {
		vm->link_down[i] = i < st.nnics && st.link_down[i];
		vmstate_net(&vm->cfg->nics[i], nets[i]);
	}
	vmstate_diff(&vm->run, &vm->plan.qemu, vm->cfg->nnics, (const char (*)[VMSTATE_NET_MAX])nets, vm->stale,
		     sizeof(vm->stale));
	restore_uptime(vm);
	err_clear(&vm->err);
	vm->want_up = true;
	vm->restart = false;
	vm->stop_phase = STOP_NONE;
	vm->shutdown_seen = false;
	vm->adopted = vm->adopting = vm->mon_resync = true;
	vm->detached = false;
	/* QMP says running or paused (status_reply); until then, starting. */
	vm_set_state(vm, VM_STARTING, "adopting a running QEMU");
	bootlog_reset(vm->boot);
	seed_console(vm, st.pid);
	console_note(vm->console, "adopted QEMU pid %d, started by an earlier supervisor%s%s", (int)st.pid,
		     vm->stale[0] ? "; " : "", vm->stale);
	vm_qemu_connect(vm);
	if (vm->cfg->nnics && vm_observer.nics_adopt && vm_observer.nics_adopt(vm, &le) < 0)
		vm->err = le;
	vm_state_save(vm);
	return 1;
}

const char *vm_stale(const struct vm *vm)
{
	return vm->stale;
}

bool vm_adopted(const struct vm *vm)
{
	return vm->adopted;
}

void vm_detach(struct vm *vm)
{
	int pid = vm_pid(vm);

	if (!vm_qemu_running(vm))
		return;
	vm_state_save(vm); /* cables and uptime as they are now */
	loop_timer_disarm(&vm->mon_timer);
	loop_timer_disarm(&vm->stop_timer);
	loop_timer_disarm(&vm->backoff_timer);
	vm_mon_drop(vm);
	vm_agent_drop(vm);
	console_note(vm->console, "the supervisor lets go: QEMU pid %d runs on for the next one", pid);
	console_detach(vm->console);
	child_release(&vm->qemu);
	vm->detached = true;
	vm->want_up = vm->restart = false;
	vm->mon_lost = vm->mon_lost_told = vm->adopting = false;
	vm->stop_phase = STOP_NONE;
	vm->up_since_ms = 0;
	vm_set_state(vm, VM_STOPPED, "detached: QEMU runs on");
}
