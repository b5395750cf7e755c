/* disks.c - qemu-img steps and the UEFI variables copy before QEMU starts. */
#include "launcher/disks.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct disks {
	const struct vm_plan *plan;
	int step;               /* the next one to run */
	struct child prep;      /* a running qemu-img */
	char tag[64];
	child_spawn_fn *spawn;
	void (*exited)(void *opaque, int wstatus);
	void *opaque;
};

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in, out, r = 0;
	ssize_t n;

	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		r = -errno;
		close(in);
		return r;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n) {
			r = -EIO;
			break;
		}
	if (n < 0)
		r = -errno;
	if (close(out) < 0 && !r)
		r = -errno;
	close(in);
	if (r)
		unlink(to);
	return r;
}

static void prep_exited(struct child *c, int wstatus)
{
	struct disks *d = c->opaque;

	d->exited(d->opaque, wstatus);
}

int disks_new(const struct vm_plan *plan, const char *tag, child_spawn_fn *spawn,
	      void (*exited)(void *opaque, int wstatus), void *opaque, struct disks **out)
{
	struct disks *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->plan = plan;
	d->spawn = spawn;
	d->exited = exited;
	d->opaque = opaque;
	snprintf(d->tag, sizeof(d->tag), "%s", tag);
	child_init(&d->prep, d->tag, prep_exited, d);
	*out = d;
	return 0;
}

void disks_free(struct disks *d)
{
	free(d);
}

/* Run steps from d->step until one needs a qemu-img or none is left. */
static int next(struct disks *d, struct err *e)
{
	while (d->step < d->plan->nsteps) {
		const struct plan_step *s = &d->plan->steps[d->step++];
		int r;

		if (s->always)
			unlink(s->creates);
		else if (access(s->creates, F_OK) == 0)
			continue;
		if (s->copy_from) {
			/* 64 MiB once per VM, before its first boot: too short to be worth a child. */
			if ((r = copy_file(s->copy_from, s->creates)) < 0)
				return err_sys(e, -r, "cannot copy %s to %s", s->copy_from, s->creates);
			continue;
		}
		if ((r = d->spawn(&d->prep, s->argv.v, NULL, 0)) < 0)
			return err_sys(e, -r, "cannot run %s", s->argv.v[0]);
		return 1;
	}
	return 0;
}

int disks_start(struct disks *d, struct err *e)
{
	d->step = 0;
	return next(d, e);
}

int disks_exited(struct disks *d, int wstatus, struct err *e)
{
	char how[64];

	if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
		return next(d, e);
	return err_set(e, EIO, "qemu-img %s%s%s", child_status_str(wstatus, how, sizeof(how)),
		       d->prep.last_line[0] ? ": " : "", d->prep.last_line);
}

bool disks_running(const struct disks *d)
{
	return child_running(&d->prep);
}

int disks_kill(struct disks *d)
{
	return child_signal(&d->prep, SIGKILL);
}
