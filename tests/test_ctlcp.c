/* test_ctlcp.c - n3x-ctl cp against an in-memory guest agent: chunking,
 * binary contents, the guest file always closed, one-line errors, and a
 * local file never left half-written. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/b64.h"
#include "ctl/ctlcp.h"

#define MiB (1024 * 1024)

/* ---- the fake agent: files in memory, guest-file-* as qemu-ga answers ---- */

struct fake_file {
	char path[256];
	char *data;
	size_t len;
};

struct fake_handle {
	struct fake_file *f;
	size_t pos;
	bool open, write;
};

struct fake {
	struct fake_file files[8];
	int nfiles;
	struct fake_handle h[8];
	int calls, opens, reads, writes, closes;
	int fail_read_at, fail_write_at, unreachable_at; /* 1-based, 0: never */
	int signal_at_read, signal;                        /* raise signal at that read */
	size_t write_sizes[64];                            /* bytes per guest-file-write */
	char last_vm[32];
};

static struct fake_file *fake_find(struct fake *f, const char *path)
{
	for (int i = 0; i < f->nfiles; i++)
		if (strcmp(f->files[i].path, path) == 0)
			return &f->files[i];
	return NULL;
}

static struct fake_file *fake_put(struct fake *f, const char *path, const char *data, size_t len)
{
	struct fake_file *ff = fake_find(f, path);

	if (!ff) {
		cr_assert_lt(f->nfiles, 8);
		ff = &f->files[f->nfiles++];
		snprintf(ff->path, sizeof(ff->path), "%s", path);
	}
	free(ff->data);
	ff->data = malloc(len ? len : 1);
	memcpy(ff->data, data, len);
	ff->len = len;
	return ff;
}

static void fake_free(struct fake *f)
{
	for (int i = 0; i < f->nfiles; i++)
		free(f->files[i].data);
}

static int open_handles(const struct fake *f)
{
	int n = 0;

	for (int i = 0; i < 8; i++)
		n += f->h[i].open;
	return n;
}

static json_t *agent_error(const char *fmt, const char *arg)
{
	char desc[512];

	snprintf(desc, sizeof(desc), fmt, arg);
	return json_pack("{s:{s:s, s:s}}", "error", "class", "GenericError", "desc", desc);
}

static struct fake_handle *fake_handle(struct fake *f, json_t *args)
{
	json_int_t h = json_integer_value(json_object_get(args, "handle"));

	cr_assert(h >= 1000 && h < 1008 && f->h[h - 1000].open, "a command on handle %lld, which is not open",
		  (long long)h);
	return &f->h[h - 1000];
}

static json_t *fake_open(struct fake *f, json_t *args)
{
	const char *path = json_string_value(json_object_get(args, "path"));
	const char *mode = json_string_value(json_object_get(args, "mode"));
	struct fake_file *ff = path ? fake_find(f, path) : NULL;
	int i;

	f->opens++;
	cr_assert(path && mode);
	cr_assert(strcmp(mode, "r") == 0 || strcmp(mode, "w") == 0, "mode %s", mode);
	if (mode[0] == 'r' && !ff)
		return agent_error("failed to open file '%s' (mode: 'r'): No such file or directory", path);
	if (strncmp(path, "/ro/", 4) == 0 && mode[0] == 'w')
		return agent_error("failed to open file '%s' (mode: 'w'): Read-only file system", path);
	if (mode[0] == 'w')
		ff = fake_put(f, path, "", 0);
	for (i = 0; i < 8 && f->h[i].open; i++)
		;
	cr_assert_lt(i, 8);
	f->h[i] = (struct fake_handle){ .f = ff, .open = true, .write = mode[0] == 'w' };
	return json_pack("{s:i}", "return", 1000 + i);
}

static json_t *fake_read(struct fake *f, json_t *args)
{
	struct fake_handle *h = fake_handle(f, args);
	json_int_t count = json_integer_value(json_object_get(args, "count"));
	size_t n;
	char *b64;
	json_t *r;

	f->reads++;
	if (f->reads == f->signal_at_read)
		raise(f->signal);
	cr_assert(!h->write);
	cr_assert_eq(count, CTLCP_CHUNK, "guest-file-read asked for %lld bytes", (long long)count);
	if (f->reads == f->fail_read_at)
		return agent_error("failed to read file: %s", "Input/output error");
	n = h->f->len - h->pos < (size_t)count ? h->f->len - h->pos : (size_t)count;
	b64 = b64_encode_alloc(h->f->data + h->pos, n);
	h->pos += n;
	/* fread's feof: set when a read came back short. */
	r = json_pack("{s:{s:I, s:s, s:b}}", "return", "count", (json_int_t)n, "buf-b64", b64, "eof",
		      n < (size_t)count);
	free(b64);
	return r;
}

static json_t *fake_write(struct fake *f, json_t *args)
{
	struct fake_handle *h = fake_handle(f, args);
	const char *b64 = json_string_value(json_object_get(args, "buf-b64"));
	size_t n;
	char *data;

	cr_assert(h->write);
	cr_assert_not_null(b64);
	cr_assert_lt(f->writes, 64);
	f->writes++;
	if (f->writes == f->fail_write_at)
		return agent_error("failed to write to file: %s", "No space left on device");
	data = b64_decode_alloc(b64, strlen(b64), &n);
	cr_assert_not_null(data);
	f->write_sizes[f->writes - 1] = n;
	h->f->data = realloc(h->f->data, h->pos + n + 1);
	memcpy(h->f->data + h->pos, data, n);
	h->pos += n;
	h->f->len = h->pos;
	free(data);
	return json_pack("{s:{s:I, s:b}}", "return", "count", (json_int_t)n, "eof", 0);
}

static int fake_agent(void *opaque, const char *vm, json_t *cmd, json_t **reply, struct err *e)
{
	struct fake *f = opaque;
	const char *ex = json_string_value(json_object_get(cmd, "execute"));
	json_t *args = json_object_get(cmd, "arguments");

	f->calls++;
	snprintf(f->last_vm, sizeof(f->last_vm), "%s", vm);
	cr_assert_not_null(ex);
	if (f->calls == f->unreachable_at) {
		json_decref(cmd);
		return err_set(e, ECONNREFUSED, "cannot reach the supervisor at /run/x: Connection refused"), 3;
	}
	if (strcmp(ex, "guest-file-open") == 0) {
		*reply = fake_open(f, args);
	} else if (strcmp(ex, "guest-file-read") == 0) {
		*reply = fake_read(f, args);
	} else if (strcmp(ex, "guest-file-write") == 0) {
		*reply = fake_write(f, args);
	} else if (strcmp(ex, "guest-file-close") == 0) {
		fake_handle(f, args)->open = false;
		f->closes++;
		*reply = json_pack("{s:{}}", "return");
	} else {
		cr_assert_fail("unexpected agent command %s", ex);
	}
	json_decref(cmd);
	return 0;
}

/* ---- local files ---- */

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_ctlcp.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void teardown(void)
{
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static char *pattern(size_t len, unsigned seed)
{
	char *p = malloc(len ? len : 1);
	unsigned x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		p[i] = (char)(x >> 7);
	}
	return p;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *p = NULL;
	size_t cap = 0;

	if (!f)
		return NULL;
	*len = 0;
	for (;;) {
		p = realloc(p, cap += MiB);
		size_t n = fread(p + *len, 1, cap - *len, f);

		*len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	return p;
}

static void spit(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "we");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

/* The names in dir, sorted, space-separated: what a failed copy left. */
static char *listing(const char *d)
{
	struct dirent **ents;
	static char out[1024];
	int n = scandir(d, &ents, NULL, alphasort);

	out[0] = '\0';
	cr_assert_geq(n, 0);
	for (int i = 0; i < n; i++) {
		if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, ".."))
			snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", out[0] ? " " : "",
				 ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	return out;
}

static int cp(struct fake *f, const char *src, const char *dst, struct err *e)
{
	err_clear(e);
	return ctlcp_run(src, dst, fake_agent, f, e);
}

TestSuite(ctlcp, .init = setup, .fini = teardown);

static const size_t sizes[] = { 0, 1, CTLCP_CHUNK - 1, CTLCP_CHUNK, CTLCP_CHUNK + 1, 5 * MiB };

Test(ctlcp, download_in_chunks)
{
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct fake f = { 0 };
		struct err e = { 0 };
		char *want = pattern(sizes[i], (unsigned)i + 1), *got, local[128];
		size_t len = 0;
		int r;

		fake_put(&f, "/data/blob", want, sizes[i]);
		snprintf(local, sizeof(local), "%s/out", dir);
		r = cp(&f, "n100-1:/data/blob", local, &e);
		cr_assert_eq(r, 0, "size %zu: %s", sizes[i], e.msg);
		cr_assert_str_eq(f.last_vm, "n100-1");
		got = slurp(local, &len);
		cr_assert_eq(len, sizes[i], "size %zu: got %zu bytes", sizes[i], len);
		cr_assert(memcmp(got, want, len) == 0, "size %zu: the bytes differ", sizes[i]);
		/* One read per whole chunk, plus the one that finds the end. */
		cr_assert_eq(f.reads, (int)(sizes[i] / CTLCP_CHUNK + 1), "size %zu: %d reads", sizes[i], f.reads);
		cr_assert_eq(f.opens, 1);
		cr_assert_eq(f.closes, 1);
		cr_assert_eq(open_handles(&f), 0);
		cr_assert_str_eq(listing(dir), "out", "size %zu: %s", sizes[i], listing(dir));
		free(got);
		free(want);
		fake_free(&f);
		unlink(local);
	}
}

Test(ctlcp, upload_in_chunks)
{
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct fake f = { 0 };
		struct err e = { 0 };
		char *data = pattern(sizes[i], (unsigned)i + 100), local[128];
		struct fake_file *ff;
		size_t left = sizes[i];
		int r;

		snprintf(local, sizeof(local), "%s/in", dir);
		spit(local, data, sizes[i]);
		r = cp(&f, local, "a:/up/blob", &e);
		cr_assert_eq(r, 0, "size %zu: %s", sizes[i], e.msg);
		ff = fake_find(&f, "/up/blob");
		cr_assert_not_null(ff);
		cr_assert_eq(ff->len, sizes[i]);
		cr_assert(memcmp(ff->data, data, sizes[i]) == 0, "size %zu: the bytes differ", sizes[i]);
		cr_assert_eq(f.writes, (int)((sizes[i] + CTLCP_CHUNK - 1) / CTLCP_CHUNK), "size %zu: %d writes",
			     sizes[i], f.writes);
		for (int w = 0; w < f.writes; w++) {
			size_t want = left < CTLCP_CHUNK ? left : CTLCP_CHUNK;

			cr_assert_eq(f.write_sizes[w], want, "size %zu: write %d carried %zu bytes", sizes[i], w,
				     f.write_sizes[w]);
			left -= want;
		}
		cr_assert_eq(f.closes, 1);
		cr_assert_eq(open_handles(&f), 0);
		free(data);
		fake_free(&f);
	}
}

/* Every byte value, there and back, through files whose names hold ':'. */
Test(ctlcp, binary_round_trip)
{
	struct fake f = { 0 };
	struct err e = { 0 };
	char data[3 * 256], in[128], out[128], rel[160], *got;
	size_t len = 0;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i % 256 ^ (i / 256 ? 0xff : 0));
	snprintf(in, sizeof(in), "%s/in:put", dir);
	snprintf(out, sizeof(out), "%s/out:put", dir);
	spit(in, data, sizeof(data));
	cr_assert_eq(chdir(dir), 0);
	cr_assert_eq(cp(&f, "./in:put", "vm-2:/tmp/bin", &e), 0, "%s", e.msg);
	cr_assert_eq(cp(&f, "vm-2:/tmp/bin", "./out:put", &e), 0, "%s", e.msg);
	cr_assert_eq(chdir("/"), 0);
	got = slurp(out, &len);
	cr_assert_eq(len, sizeof(data));
	cr_assert(memcmp(got, data, len) == 0);
	cr_assert_eq(open_handles(&f), 0);
	cr_assert_eq(f.closes, 2);
	snprintf(rel, sizeof(rel), "%s", listing(dir));
	cr_assert_str_eq(rel, "in:put out:put");
	free(got);
	fake_free(&f);
}

/* A read that fails half way: the file is closed, the error is the
 * agent's, and the local file keeps its old contents (no temp file left). */
Test(ctlcp, failed_read_closes_and_keeps_old_file)
{
	struct fake f = { .fail_read_at = 3 };
	struct err e = { 0 };
	char *data = pattern(2 * MiB, 7), local[128], *got;
	size_t len = 0;
	struct stat st;

	fake_put(&f, "/var/big", data, 2 * MiB);
	snprintf(local, sizeof(local), "%s/big", dir);
	spit(local, "old\n", 4);
	cr_assert_eq(chmod(local, 0640), 0);
	cr_assert_eq(cp(&f, "a:/var/big", local, &e), 1);
	cr_assert_str_eq(e.msg, "a: /var/big: failed to read file: Input/output error");
	cr_assert_eq(f.closes, 1);
	cr_assert_eq(open_handles(&f), 0);
	got = slurp(local, &len);
	cr_assert(len == 4 && memcmp(got, "old\n", 4) == 0, "the old file was touched");
	cr_assert_str_eq(listing(dir), "big");
	free(got);

	/* The same copy succeeding replaces the file and keeps its mode. */
	f.fail_read_at = 0;
	cr_assert_eq(cp(&f, "a:/var/big", local, &e), 0, "%s", e.msg);
	got = slurp(local, &len);
	cr_assert(len == 2 * MiB && memcmp(got, data, len) == 0);
	cr_assert_eq(stat(local, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0640);
	cr_assert_str_eq(listing(dir), "big");
	free(got);
	free(data);
	fake_free(&f);
}

Test(ctlcp, failed_write_closes)
{
	struct fake f = { .fail_write_at = 2 };
	struct err e = { 0 };
	char *data = pattern(3 * CTLCP_CHUNK, 9), local[128];

	snprintf(local, sizeof(local), "%s/in", dir);
	spit(local, data, 3 * CTLCP_CHUNK);
	cr_assert_eq(cp(&f, local, "a:/tmp/x", &e), 1);
	cr_assert_str_eq(e.msg, "a: /tmp/x: failed to write to file: No space left on device");
	cr_assert_eq(f.writes, 2);
	cr_assert_eq(f.closes, 1);
	cr_assert_eq(open_handles(&f), 0);
	free(data);
	fake_free(&f);
}

Test(ctlcp, open_errors_are_one_line)
{
	struct fake f = { 0 };
	struct err e = { 0 };
	char local[128], in[128];

	snprintf(local, sizeof(local), "%s/x", dir);
	cr_assert_eq(cp(&f, "a:/nope", local, &e), 1);
	cr_assert_str_eq(e.msg, "a: /nope: failed to open file '/nope' (mode: 'r'): No such file or directory");
	cr_assert_eq(f.closes, 0); /* nothing was open */
	cr_assert_str_eq(listing(dir), "");

	snprintf(in, sizeof(in), "%s/in", dir);
	spit(in, "x", 1);
	cr_assert_eq(cp(&f, in, "a:/ro/x", &e), 1);
	cr_assert_str_eq(e.msg, "a: /ro/x: failed to open file '/ro/x' (mode: 'w'): Read-only file system");
	cr_assert_eq(f.writes, 0);
	fake_free(&f);
}

/* LOCAL a directory: the file keeps its name; VM:DIR/ likewise. */
Test(ctlcp, directories_keep_the_name)
{
	struct fake f = { 0 };
	struct err e = { 0 };
	char sub[128], want[160], *got;
	size_t len = 0;

	fake_put(&f, "/etc/hostname", "n100-1\n", 7);
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	cr_assert_eq(mkdir(sub, 0755), 0);
	cr_assert_eq(cp(&f, "a:/etc/hostname", sub, &e), 0, "%s", e.msg);
	snprintf(want, sizeof(want), "%s/hostname", sub);
	got = slurp(want, &len);
	cr_assert(got && len == 7 && memcmp(got, "n100-1\n", 7) == 0);
	free(got);
	cr_assert_str_eq(listing(sub), "hostname");

	/* With a trailing slash too, and up into a guest directory. */
	snprintf(sub + strlen(sub), sizeof(sub) - strlen(sub), "/");
	cr_assert_eq(cp(&f, "a:/etc/hostname", sub, &e), 0, "%s", e.msg);
	cr_assert_eq(cp(&f, want, "a:/tmp/", &e), 0, "%s", e.msg);
	cr_assert_not_null(fake_find(&f, "/tmp/hostname"));
	cr_assert_eq(fake_find(&f, "/tmp/hostname")->len, 7);

	/* A guest path that names no file cannot land in a directory. */
	cr_assert_eq(cp(&f, "a:/etc/", sub, &e), 1);
	cr_assert_str_eq(e.msg, "a: /etc/: names a directory; cp copies one file");
	/* Nor can a local directory be uploaded. */
	cr_assert_eq(cp(&f, dir, "a:/tmp/x", &e), 1);
	cr_assert(strstr(e.msg, ": is a directory; cp copies one file"), "%s", e.msg);
	cr_assert_eq(open_handles(&f), 0);
	fake_free(&f);
}

Test(ctlcp, local_errors_before_the_guest)
{
	struct fake f = { 0 };
	struct err e = { 0 };
	char path[160], want[256];

	fake_put(&f, "/f", "x", 1);
	snprintf(path, sizeof(path), "%s/missing", dir);
	cr_assert_eq(cp(&f, path, "a:/tmp/x", &e), 1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	cr_assert_str_eq(e.msg, want);

	snprintf(path, sizeof(path), "%s/no/such/dir/x", dir);
	cr_assert_eq(cp(&f, "a:/f", path, &e), 1);
	snprintf(want, sizeof(want), "%s: cannot create: No such file or directory", path);
	cr_assert_str_eq(e.msg, want);

	snprintf(path, sizeof(path), "%s/notdir/", dir);
	cr_assert_eq(cp(&f, "a:/f", path, &e), 1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	cr_assert_str_eq(e.msg, want);
	cr_assert_eq(f.calls, 0, "the guest was asked %d times", f.calls);
	fake_free(&f);
}

/* The supervisor gone mid-copy: its message as it is, and no close sent
 * down a connection nobody answers. */
Test(ctlcp, supervisor_gone)
{
	struct fake f = { .unreachable_at = 3 };
	struct err e = { 0 };
	char *data = pattern(2 * MiB, 3), local[128];

	fake_put(&f, "/big", data, 2 * MiB);
	snprintf(local, sizeof(local), "%s/big", dir);
	cr_assert_eq(cp(&f, "a:/big", local, &e), 3);
	cr_assert_str_eq(e.msg, "cannot reach the supervisor at /run/x: Connection refused");
	cr_assert_eq(f.calls, 3);
	cr_assert_str_eq(listing(dir), "");
	free(data);
	fake_free(&f);
}

/* Ctrl-C half way through a download: the process dies of it, as it
 * should, and takes its temporary file along. */
Test(ctlcp, interrupted_download_leaves_nothing)
{
	char *data = pattern(2 * MiB, 5), local[128];
	int status;
	pid_t pid;

	snprintf(local, sizeof(local), "%s/big", dir);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct fake f = { .signal_at_read = 2, .signal = SIGINT };
		struct err e = { 0 };

		signal(SIGINT, SIG_DFL);
		fake_put(&f, "/big", data, 2 * MiB);
		ctlcp_run("a:/big", local, fake_agent, &f, &e);
		_exit(0); /* not reached */
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT, "status %#x", status);
	cr_assert_str_eq(listing(dir), "");
	free(data);
}

Test(ctlcp, which_argument_is_the_guest)
{
	struct fake f = { 0 };
	struct err e = { 0 };

	cr_assert(ctlcp_is_remote("a:/x"));
	cr_assert(ctlcp_is_remote("n100-1:/etc/hostname"));
	cr_assert(ctlcp_is_remote("abcdefghijkl:x"));        /* 12 characters */
	cr_assert_not(ctlcp_is_remote("abcdefghijklm:x"));   /* 13 */
	cr_assert_not(ctlcp_is_remote("./a:b"));
	cr_assert_not(ctlcp_is_remote("/tmp/a:b"));
	cr_assert_not(ctlcp_is_remote("-a:/x"));
	cr_assert_not(ctlcp_is_remote("A:/x"));
	cr_assert_not(ctlcp_is_remote(":x"));
	cr_assert_not(ctlcp_is_remote("file"));

	cr_assert_eq(cp(&f, "a:/x", "b:/y", &e), 2);
	cr_assert_str_eq(e.msg, "cp: exactly one of SRC and DST is VM:PATH (write a local path with ':' in it as ./a:b)");
	cr_assert_eq(cp(&f, "x", "y", &e), 2);
	cr_assert_eq(cp(&f, "a:/\xff", "x", &e), 1);
	cr_assert_str_eq(e.msg, "a: /\xff: cannot be sent to the guest agent (is the path UTF-8 text?)");
	cr_assert_eq(cp(&f, "x", "a:", &e), 2);
	cr_assert_str_eq(e.msg, "cp: a:: no PATH after the VM name");
	cr_assert_eq(f.calls, 0);
}
