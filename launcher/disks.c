/* disks.c - qemu-img steps, the UEFI variables copy, and the checks of a
 * VM's disks before QEMU starts (disks.h). */
#include "launcher/disks.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum phase { PH_NONE, PH_CHECK, PH_MAKE };

struct disks {
	const struct vm_plan *plan;
	int step;               /* the current one */
	enum phase phase;       /* what its qemu-img does */
	struct child prep;      /* a running qemu-img */
	char tag[64];
	child_spawn_fn *spawn;
	void (*exited)(void *opaque, int wstatus);
	void *opaque;
	json_t *io_error;
};

/* The way out for a guest disk that cannot be used as it is. */
static const char *way_out(const struct vm_plan *p, const struct plan_step *s, char *buf, size_t size)
{
	if (strcmp(s->node, PLAN_NODE_OVERLAY) == 0)
		snprintf(buf, size, "`n3x-ctl reset %s` discards the overlay", p->name);
	else
		snprintf(buf, size, "move %s away to start with an empty data disk", s->creates);
	return buf;
}

/* ---- files made whole before they get their name ---- */

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in, out, r = 0;
	ssize_t n;

	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if ((out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		r = -errno;
		close(in);
		return r;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n) {
			r = errno == ENOSPC ? -ENOSPC : -EIO;
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

/* ---- the base's identity ---- */

struct base_id {
	char path[4096];
	long long size, mtime_ns;
	char head[17];          /* FNV-1a 64 of the first DISKS_HEAD_BYTES, hex */
};

/* A change detector, not a defence against someone forging a base. */
static uint64_t fnv1a64(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The identity of the base at path now; 0 or -errno. */
static int base_identify(const char *path, struct base_id *id)
{
	unsigned char *buf = malloc(DISKS_HEAD_BYTES);
	struct stat st;
	ssize_t n = 0, got = 0;
	int fd, r = 0;

	if (!buf)
		return -ENOMEM;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	while (n < DISKS_HEAD_BYTES && (got = read(fd, buf + n, DISKS_HEAD_BYTES - n)) > 0)
		n += got;
	if (got < 0) {
		r = -errno;
		goto out;
	}
	snprintf(id->path, sizeof(id->path), "%s", path);
	id->size = st.st_size;
	id->mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	snprintf(id->head, sizeof(id->head), "%016" PRIx64, fnv1a64(buf, n));
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

static const char *fmt_time(long long ns, char *buf, size_t size)
{
	time_t t = ns / 1000000000LL;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, size, "%lld ns", ns);
	return buf;
}

/* Write id as file, atomically (file.tmp, then rename); 0 or -errno. */
static int base_record(const char *file, const struct base_id *id)
{
	char tmp[4096 + 8], when[64];
	json_t *j;
	int fd, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s" PLAN_TMP_SUFFIX, file) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	j = json_pack("{s:s, s:I, s:I, s:s, s:s, s:i}", "path", id->path, "size", (json_int_t)id->size,
		      "mtime_ns", (json_int_t)id->mtime_ns, "mtime", fmt_time(id->mtime_ns, when, sizeof(when)),
		      "head_fnv1a64", id->head, "head_bytes", DISKS_HEAD_BYTES);
	if (!j)
		return -ENOMEM;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		json_decref(j);
		return -errno;
	}
	if (json_dumpfd(j, fd, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 || write(fd, "\n", 1) != 1)
		r = errno ? -errno : -EIO;
	if (close(fd) < 0 && !r)
		r = -errno;
	json_decref(j);
	if (!r && rename(tmp, file) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}

/* Read a recorded identity; 0, -ENOENT when there is none, -EBADMSG when
 * the file is not one of ours. */
static int base_load(const char *file, struct base_id *id)
{
	json_error_t je;
	json_t *j = json_load_file(file, 0, &je), *path, *size, *mtime, *head;
	int r = -EBADMSG;

	if (!j)
		return access(file, F_OK) < 0 && errno == ENOENT ? -ENOENT : -EBADMSG;
	path = json_object_get(j, "path");
	size = json_object_get(j, "size");
	mtime = json_object_get(j, "mtime_ns");
	head = json_object_get(j, "head_fnv1a64");
	if (json_is_string(path) && json_is_integer(size) && json_is_integer(mtime) && json_is_string(head) &&
	    strlen(json_string_value(head)) == 16) {
		snprintf(id->path, sizeof(id->path), "%s", json_string_value(path));
		id->size = json_integer_value(size);
		id->mtime_ns = json_integer_value(mtime);
		snprintf(id->head, sizeof(id->head), "%s", json_string_value(head));
		r = 0;
	}
	json_decref(j);
	return r;
}

/* ---- what an existing qcow2 must look like ---- */

static uint64_t be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* path holds a qcow2 whose header and tables lie inside the file; with
 * backing non-NULL, *backing gets its backing file name ("" for none).
 * 0, or -errno with e saying what is wrong (the file's name first). */
static int qcow2_sane(const char *path, char *backing, size_t bsize, struct err *e)
{
	unsigned char h[104];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t size, l1_end, rt_end, bf_off;
	uint32_t cbits, bf_len;

	if (fd < 0 || fstat(fd, &st) < 0) {
		int r = errno;

		if (fd >= 0)
			close(fd);
		return err_sys(e, r, "cannot read %s", path);
	}
	n = pread(fd, h, sizeof(h), 0);
	size = st.st_size;
	if (n < 72 || memcmp(h, "QFI\xfb", 4) != 0) {
		close(fd);
		if (n >= 0 && (size < 72 || (n >= 4 && memcmp(h, "QFI\xfb", 4) == 0)))
			return err_set(e, EBADMSG, "%s is %llu bytes, too short for a qcow2 image (cut short)", path,
				       (unsigned long long)size);
		return err_set(e, EBADMSG, "%s is not a qcow2 image", path);
	}
	cbits = be32(h + 20);
	bf_off = be64(h + 8);
	bf_len = be32(h + 16);
	/* Each sum is bounded by a check before it: no overflow. */
	if (cbits < 9 || cbits > 21 || be32(h + 36) > (1u << 28) || be64(h + 40) > (1ULL << 56) ||
	    be32(h + 56) > (1u << 20) || be64(h + 48) > (1ULL << 56) || bf_len > 1023 || bf_off > (1ULL << 56)) {
		close(fd);
		return err_set(e, EBADMSG, "%s has a damaged qcow2 header", path);
	}
	l1_end = be64(h + 40) + (uint64_t)be32(h + 36) * 8;
	rt_end = be64(h + 48) + ((uint64_t)be32(h + 56) << cbits);
	if (l1_end > size || rt_end > size || bf_off + bf_len > size) {
		close(fd);
		return err_set(e, EBADMSG, "%s is %llu bytes, shorter than its own tables (%llu bytes): cut short",
			       path, (unsigned long long)size,
			       (unsigned long long)(l1_end > rt_end ? l1_end : rt_end));
	}
	if (be32(h + 4) >= 3 && n >= 80 && (be64(h + 72) & 2)) {
		close(fd);
		return err_set(e, EBADMSG, "%s is marked corrupt by QEMU", path);
	}
	if (backing) {
		if (bf_off == 0 || bf_len >= bsize)
			backing[0] = '\0';
		else if (pread(fd, backing, bf_len, (off_t)bf_off) != (ssize_t)bf_len)
			backing[0] = '\0';
		else
			backing[bf_len] = '\0';
	}
	close(fd);
	return 0;
}

/* A persistent overlay (s->creates exists) sits on the base it was made
 * on.  An overlay without a record (made before records were kept) gets
 * one now, if its own header names the configured base.  0 or -errno. */
static int base_check(const struct vm_plan *p, const struct plan_step *s, bool record, struct err *e)
{
	struct base_id was, now;
	char why[8192] = "", out[128], t1[64], t2[64], backing[4096];
	int r;

	if ((r = base_identify(s->base, &now)) < 0)
		return err_sys(e, -r, "cannot read the base %s of %s", s->base, s->creates);
	r = base_load(s->base_id, &was);
	if (r == -EBADMSG)
		return err_set(e, EBADMSG, "%s is not a base record of n3x-launch; without it %s cannot be "
			       "matched to its base: %s", s->base_id, s->creates, way_out(p, s, out, sizeof(out)));
	if (r == -ENOENT) {
		/* A damaged overlay is reported by verify_step, with its way out. */
		if (qcow2_sane(s->creates, backing, sizeof(backing), e) < 0)
			return 0;
		if (strcmp(backing, s->base) != 0)
			return err_set(e, EINVAL, "base %s is not the one %s was made on (%s); %s, or put the old "
				       "base back", s->base, s->creates, backing[0] ? backing : "none",
				       way_out(p, s, out, sizeof(out)));
		if (record && (r = base_record(s->base_id, &now)) < 0)
			return err_sys(e, -r, "cannot write %s", s->base_id);
		return 0;
	}
	if (strcmp(was.path, now.path) != 0)
		snprintf(why, sizeof(why), "the overlay was made on %s", was.path);
	if (was.size != now.size)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), "%ssize %lld bytes, was %lld",
			 why[0] ? "; " : "", now.size, was.size);
	if (was.mtime_ns != now.mtime_ns)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), "%smodified %s, was %s", why[0] ? "; " : "",
			 fmt_time(now.mtime_ns, t1, sizeof(t1)), fmt_time(was.mtime_ns, t2, sizeof(t2)));
	if (strcmp(was.head, now.head) != 0)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), "%sits first %d KiB differ",
			 why[0] ? "; " : "", DISKS_HEAD_BYTES / 1024);
	if (!why[0])
		return 0;
	return err_set(e, ESTALE, "base %s changed since its overlay was made (%s); %s, or put the old base back",
		       s->base, why, way_out(p, s, out, sizeof(out)));
}

/* The synchronous checks of an existing step's file. */
static int verify_step(const struct vm_plan *p, const struct plan_step *s, bool record, struct err *e)
{
	char out[128];
	int r;

	if (s->always || !s->node || !s->check.n || access(s->creates, F_OK) < 0)
		return 0;
	if (s->base_id && (r = base_check(p, s, record, e)) < 0)
		return r;
	if ((r = qcow2_sane(s->creates, NULL, 0, e)) < 0) {
		struct err inner = *e;

		return err_set(e, -r, "%s; %s", inner.msg, way_out(p, s, out, sizeof(out)));
	}
	return 0;
}

int disks_verify(const struct vm_plan *plan, struct err *e)
{
	for (int i = 0; i < plan->nsteps; i++) {
		int r = verify_step(plan, &plan->steps[i], false, e);

		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- the steps ---- */

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
	if (!d)
		return;
	json_decref(d->io_error);
	free(d);
}

/* s's tmp is whole: record the base (an overlay's identity is that of the
 * base it was made on), then give the file its name. */
static int made(const struct plan_step *s, struct err *e)
{
	struct base_id id;
	int r;

	if (s->base_id) {
		if ((r = base_identify(s->base, &id)) < 0 || (r = base_record(s->base_id, &id)) < 0) {
			unlink(s->tmp);
			return err_sys(e, -r, "cannot record the identity of %s in %s", s->base, s->base_id);
		}
	}
	if (rename(s->tmp, s->creates) < 0) {
		r = errno;
		unlink(s->tmp);
		return err_sys(e, r, "cannot rename %s to %s", s->tmp, s->creates);
	}
	return 0;
}

/* Run steps from d->step until one needs a qemu-img or none is left. */
static int next(struct disks *d, struct err *e)
{
	while (d->step < d->plan->nsteps) {
		const struct plan_step *s = &d->plan->steps[d->step];
		int r;

		if (!s->always && access(s->creates, F_OK) == 0) {
			if ((r = verify_step(d->plan, s, true, e)) < 0)
				return r;
			if (!s->check.n) {
				d->step++;
				continue;
			}
			if ((r = d->spawn(&d->prep, s->check.v, NULL, 0)) < 0)
				return err_sys(e, -r, "cannot run %s", s->check.v[0]);
			d->phase = PH_CHECK;
			return 1;
		}
		/* A leftover of a qemu-img that never finished. */
		unlink(s->tmp);
		if (s->copy_from) {
			/* 64 MiB once per VM, before its first boot: too short to be worth a child. */
			if ((r = copy_file(s->copy_from, s->tmp)) < 0)
				return err_sys(e, -r, "cannot copy %s to %s", s->copy_from, s->tmp);
			if ((r = made(s, e)) < 0)
				return r;
			d->step++;
			continue;
		}
		if ((r = d->spawn(&d->prep, s->argv.v, NULL, 0)) < 0)
			return err_sys(e, -r, "cannot run %s", s->argv.v[0]);
		d->phase = PH_MAKE;
		return 1;
	}
	return 0;
}

int disks_start(struct disks *d, struct err *e)
{
	json_decref(d->io_error);
	d->io_error = NULL;
	d->step = 0;
	d->phase = PH_NONE;
	return next(d, e);
}

int disks_exited(struct disks *d, int wstatus, struct err *e)
{
	const struct plan_step *s = &d->plan->steps[d->step];
	enum phase ph = d->phase;
	int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
	const char *said = d->prep.last_line;
	char how[64], out[128];
	int r;

	d->phase = PH_NONE;
	child_status_str(wstatus, how, sizeof(how));
	if (ph == PH_CHECK) {
		/* 3: leaked clusters only, which a QEMU that died leaves and
		 * which cost nothing but space. */
		if (code == 0 || code == 3) {
			d->step++;
			return next(d, e);
		}
		if (code == 2)
			return err_set(e, EIO, "%s is damaged: qemu-img check found corruptions%s%s%s; %s, or try "
				       "`qemu-img check -r all %s`", s->creates, said[0] ? " (" : "", said, said[0] ? ")" : "",
				       way_out(d->plan, s, out, sizeof(out)), s->creates);
		return err_set(e, EIO, "cannot check %s: qemu-img check %s%s%s", s->creates, how,
			       said[0] ? ": " : "", said);
	}
	if (code != 0) {
		unlink(s->tmp);
		return err_set(e, EIO, "qemu-img %s%s%s", how, said[0] ? ": " : "", said);
	}
	if ((r = made(s, e)) < 0)
		return r;
	d->step++;
	return next(d, e);
}

bool disks_running(const struct disks *d)
{
	return child_running(&d->prep);
}

int disks_kill(struct disks *d)
{
	return child_signal(&d->prep, SIGKILL);
}

/* ---- reset ---- */

static int remove_file(const char *path, json_t *removed, struct err *e)
{
	if (unlink(path) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_sys(e, errno, "cannot remove %s", path);
	}
	json_array_append_new(removed, json_string(path));
	return 0;
}

int disks_reset(const struct vm_plan *plan, json_t *removed, struct err *e)
{
	static const char *const names[] = { PLAN_OVERLAY, PLAN_EPHEMERAL, PLAN_BASE_ID };

	for (int i = 0; i < plan->nsteps; i++) {
		const struct plan_step *s = &plan->steps[i];
		char dir[4096], path[4096 + 64];
		const char *slash;

		if (!s->node || strcmp(s->node, PLAN_NODE_OVERLAY) != 0)
			continue;
		/* Both modes' files: those of the mode not in use now are just
		 * as much the overlay the user asks to discard. */
		slash = strrchr(s->creates, '/');
		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - s->creates) : 1, slash ? s->creates : ".");
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			for (int tmp = 0; tmp < 2; tmp++) {
				int r;

				snprintf(path, sizeof(path), "%s/%s%s", dir, names[k], tmp ? PLAN_TMP_SUFFIX : "");
				if ((r = remove_file(path, removed, e)) < 0)
					return r;
			}
	}
	return 0;
}

/* ---- the last block I/O error ---- */

void disks_qmp_event(struct disks *d, const char *event, json_t *data)
{
	if (strcmp(event, "RESUME") == 0) {
		json_decref(d->io_error);
		d->io_error = NULL;
	} else if (strcmp(event, "BLOCK_IO_ERROR") == 0) {
		const char *dev = json_string_value(json_object_get(data, "device"));
		const char *node = json_string_value(json_object_get(data, "node-name"));
		json_t *j;

		/* A -blockdev without a BlockBackend name reports "" as its
		 * device: the node names it then. */
		if (!dev || !dev[0])
			dev = node;
		j = json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?}", "device", dev, "node", node, "reason",
			      json_string_value(json_object_get(data, "reason")), "operation",
			      json_string_value(json_object_get(data, "operation")), "action",
			      json_string_value(json_object_get(data, "action")));
		if (j) {
			json_decref(d->io_error);
			d->io_error = j;
		}
	}
}

json_t *disks_io_error(const struct disks *d)
{
	return d->io_error;
}
