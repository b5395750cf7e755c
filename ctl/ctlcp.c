/* ctlcp.c - n3x-ctl cp over the guest agent's guest-file-* commands. */
#include "ctl/ctlcp.h"
#include "base/b64.h"
#include "ctl/ctlio.h"
#include "launcher/topology.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The guest side of a copy: which file, and its handle once open. */
struct remote {
	char vm[TOPO_VM_NAME_MAX + 1];
	char path[PATH_MAX];
	ctl_agent_fn agent;
	void *opaque;
	json_int_t handle;
	bool open;
	bool unreachable;  /* the supervisor is gone: nobody left to close the file */
};

bool ctlcp_is_remote(const char *arg)
{
	size_t len = strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789-");

	return len > 0 && len <= TOPO_VM_NAME_MAX && arg[0] != '-' && arg[len] == ':';
}

static int parse_remote(const char *arg, struct remote *r, struct err *e)
{
	const char *colon = strchr(arg, ':');

	snprintf(r->vm, sizeof(r->vm), "%.*s", (int)(colon - arg), arg);
	if (!colon[1])
		return err_set(e, EINVAL, "cp: %s: no PATH after the VM name", arg), EXIT_USAGE;
	if (snprintf(r->path, sizeof(r->path), "%s", colon + 1) >= (int)sizeof(r->path))
		return err_set(e, ENAMETOOLONG, "cp: %s: path too long", arg), EXIT_USAGE;
	return 0;
}

/* One agent command (stolen).  Returns 0 with *ret the "return" member of
 * *reply (which the caller releases), or an exit code with e set; an agent
 * error names the file: "a: /nope: failed to open file ...". */
static int call(struct remote *r, json_t *cmd, json_t **reply, json_t **ret, struct err *e)
{
	const char *what = json_string_value(json_object_get(cmd, "execute"));
	char name[32];
	json_t *rep = NULL, *qerr;
	int code;

	snprintf(name, sizeof(name), "%s", what ? what : "?");
	if (!cmd) /* json_pack refuses a path that is not UTF-8, or ran out of memory */
		return err_set(e, EINVAL, "%s: %s: cannot be sent to the guest agent (is the path UTF-8 text?)",
			       r->vm, r->path), EXIT_FAIL;
	code = r->agent(r->opaque, r->vm, cmd, &rep, e);
	if (code == EXIT_UNREACHABLE)
		r->unreachable = true;
	if (code)
		return code;
	qerr = json_object_get(rep, "error");
	*ret = json_object_get(rep, "return");
	if (qerr || !*ret) {
		const char *desc = json_string_value(json_object_get(qerr, "desc"));

		if (qerr)
			err_set(e, EIO, "%s: %s: %s", r->vm, r->path, desc ? desc : "the guest agent gave no reason");
		else
			err_set(e, EPROTO, "%s: %s: the guest agent's answer to %s has no \"return\"", r->vm,
				r->path, name);
		json_decref(rep);
		return EXIT_FAIL;
	}
	*reply = rep;
	return 0;
}

static int remote_open(struct remote *r, const char *mode, struct err *e)
{
	json_t *reply, *ret;
	int code = call(r, json_pack("{s:s, s:{s:s, s:s}}", "execute", "guest-file-open", "arguments",
				     "path", r->path, "mode", mode), &reply, &ret, e);

	if (code)
		return code;
	if (!json_is_integer(ret)) {
		json_decref(reply);
		return err_set(e, EPROTO, "%s: %s: guest-file-open returned no handle", r->vm, r->path), EXIT_FAIL;
	}
	r->handle = json_integer_value(ret);
	r->open = true;
	json_decref(reply);
	return 0;
}

/* Close the guest file if it is open.  With e NULL (the copy failed
 * already, and that error is the one to report) a failure here is dropped. */
static int remote_close(struct remote *r, struct err *e)
{
	json_t *reply, *ret;
	int code;

	if (!r->open || r->unreachable)
		return 0;
	r->open = false;
	code = call(r, json_pack("{s:s, s:{s:I}}", "execute", "guest-file-close", "arguments", "handle",
				 r->handle), &reply, &ret, e);
	if (code == 0)
		json_decref(reply);
	return code;
}

/* Read up to n bytes, fewer only at end of file: the bytes read or -errno. */
static ssize_t read_full(int fd, char *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, p + got, n - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += k;
	}
	return got;
}

/* guest-file-read until end of file, into fd (called `local` in errors). */
static int pull(struct remote *r, int fd, const char *local, struct err *e)
{
	for (;;) {
		json_t *reply, *ret, *count;
		const char *b64;
		size_t n = 0;
		bool eof;
		char *data;
		int code = call(r, json_pack("{s:s, s:{s:I, s:i}}", "execute", "guest-file-read", "arguments",
					     "handle", r->handle, "count", CTLCP_CHUNK), &reply, &ret, e);

		if (code)
			return code;
		b64 = json_string_value(json_object_get(ret, "buf-b64"));
		count = json_object_get(ret, "count");
		eof = json_is_true(json_object_get(ret, "eof"));
		data = b64 ? b64_decode_alloc(b64, strlen(b64), &n) : NULL;
		if (!data || !json_is_integer(count) || (json_int_t)n != json_integer_value(count)) {
			json_decref(reply);
			free(data);
			return err_set(e, EPROTO, "%s: %s: guest-file-read returned %s", r->vm, r->path,
				       !b64 ? "no \"buf-b64\"" : !data ? "bytes that are not base64" :
				       "a count that does not match its bytes"), EXIT_FAIL;
		}
		json_decref(reply);
		code = ctlio_write_all(fd, data, n);
		free(data);
		if (code < 0)
			return err_sys(e, -code, "%s", local), EXIT_FAIL;
		/* A read that returns nothing ends the file even without eof
		 * (what else could the next one return?). */
		if (eof || n == 0)
			return 0;
	}
}

/* fd's bytes (called `local` in errors) into the guest file. */
static int push(struct remote *r, int fd, const char *local, struct err *e)
{
	char *chunk = malloc(CTLCP_CHUNK);
	int code = 0;

	if (!chunk)
		return err_set(e, ENOMEM, "%s: out of memory", local), EXIT_FAIL;
	for (;;) {
		ssize_t n = read_full(fd, chunk, CTLCP_CHUNK);
		json_t *reply, *ret;
		char *b64;

		if (n < 0) {
			code = (err_sys(e, -n, "%s", local), EXIT_FAIL);
			break;
		}
		if (n == 0)
			break;
		b64 = b64_encode_alloc(chunk, n);
		code = call(r, b64 ? json_pack("{s:s, s:{s:I, s:s}}", "execute", "guest-file-write", "arguments",
					       "handle", r->handle, "buf-b64", b64) : NULL, &reply, &ret, e);
		free(b64);
		if (code)
			break;
		if (json_integer_value(json_object_get(ret, "count")) != n)
			code = (err_set(e, EIO, "%s: %s: the guest wrote %lld of %zd bytes", r->vm, r->path,
					(long long)json_integer_value(json_object_get(ret, "count")), n), EXIT_FAIL);
		json_decref(reply);
		if (code || n < CTLCP_CHUNK)
			break; /* a short read is the end of the file */
	}
	free(chunk);
	return code;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Where a download goes: LOCAL, or LOCAL/NAME when LOCAL is a directory; a
 * symlink is followed so the rename replaces the file, not the link. */
static int local_target(const struct remote *r, const char *local, char *target, size_t size, struct err *e)
{
	const char *name = base_name(r->path);
	char real[PATH_MAX];
	struct stat st;
	int n, dir = stat(local, &st) == 0 ? (S_ISDIR(st.st_mode) ? 0 : ENOTDIR) : errno;

	if (dir == 0) {
		if (!name[0] || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			return err_set(e, EISDIR, "%s: %s: names a directory; cp copies one file", r->vm,
				       r->path), EXIT_FAIL;
		n = snprintf(target, size, "%s%s%s", local, local[strlen(local) - 1] == '/' ? "" : "/", name);
	} else if (local[strlen(local) - 1] == '/') {
		return err_sys(e, dir, "%s", local), EXIT_FAIL;
	} else {
		n = snprintf(target, size, "%s", local);
	}
	if (n < 0 || (size_t)n >= size)
		return err_set(e, ENAMETOOLONG, "%s: path too long", local), EXIT_FAIL;
	if (lstat(target, &st) == 0 && S_ISLNK(st.st_mode) && realpath(target, real))
		snprintf(target, size, "%s", real);
	return 0;
}

/* The temporary file of the download in progress: a signal that ends us
 * (Ctrl-C on a big copy) removes it first, so nothing is left behind. */
static char pending_tmp[PATH_MAX + 32];
static const int fatal_sigs[] = { SIGINT, SIGTERM, SIGHUP };
static struct sigaction saved_sigs[3];

static void on_fatal(int sig)
{
	if (pending_tmp[0])
		unlink(pending_tmp);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Catch the fatal signals whose disposition is the default; restore them. */
static void guard_tmp(bool on)
{
	struct sigaction sa = { .sa_handler = on_fatal };

	for (int i = 0; i < 3; i++) {
		if (on) {
			sigaction(fatal_sigs[i], NULL, &saved_sigs[i]);
			if (saved_sigs[i].sa_handler == SIG_DFL)
				sigaction(fatal_sigs[i], &sa, NULL);
		} else if (saved_sigs[i].sa_handler == SIG_DFL) {
			sigaction(fatal_sigs[i], &saved_sigs[i], NULL);
		}
	}
}

/* A new file's mode: what open(O_CREAT, 0666) would give it. */
static mode_t new_file_mode(void)
{
	mode_t mask = umask(0);

	umask(mask);
	return 0666 & ~mask;
}

static int download(struct remote *r, const char *local, struct err *e)
{
	char target[PATH_MAX], *tmp = pending_tmp;
	mode_t mode = new_file_mode();
	struct stat st;
	int fd, code;

	tmp[0] = '\0';
	if (strcmp(local, "-") == 0) {
		fd = STDOUT_FILENO;
		snprintf(target, sizeof(target), "stdout");
	} else if ((code = local_target(r, local, target, sizeof(target), e))) {
		return code;
	} else if (stat(target, &st) == 0 && S_ISDIR(st.st_mode)) {
		return err_set(e, EISDIR, "%s: is a directory", target), EXIT_FAIL;
	} else if (stat(target, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* A device or FIFO is written, not replaced. */
		fd = open(target, O_WRONLY | O_TRUNC | O_CLOEXEC);
		if (fd < 0)
			return err_sys(e, errno, "%s", target), EXIT_FAIL;
	} else {
		const char *name = base_name(target);

		if (stat(target, &st) == 0)
			mode = st.st_mode & 07777; /* replacing a file keeps its mode */
		/* .NAME.n3x-cp-XXXXXX beside it, so the rename stays in one
		 * file system; NAME is cut so the whole fits NAME_MAX. */
		guard_tmp(true);
		snprintf(tmp, sizeof(pending_tmp), "%.*s.%.200s.n3x-cp-XXXXXX", (int)(name - target), target, name);
		fd = mkostemp(tmp, O_CLOEXEC);
		if (fd < 0) {
			code = (err_sys(e, errno, "%s: cannot create", target), EXIT_FAIL);
			tmp[0] = '\0';
			guard_tmp(false);
			return code;
		}
	}
	code = remote_open(r, "r", e);
	if (code == 0)
		code = pull(r, fd, target, e);
	if (code == 0)
		code = remote_close(r, e);
	remote_close(r, NULL);
	if (code == 0 && tmp[0] && fchmod(fd, mode) < 0)
		code = (err_sys(e, errno, "%s", tmp), EXIT_FAIL);
	if (fd != STDOUT_FILENO && close(fd) < 0 && code == 0)
		code = (err_sys(e, errno, "%s", target), EXIT_FAIL);
	if (code == 0 && tmp[0] && rename(tmp, target) < 0)
		code = (err_sys(e, errno, "%s", target), EXIT_FAIL);
	if (code && tmp[0])
		unlink(tmp);
	if (tmp[0]) {
		tmp[0] = '\0';
		guard_tmp(false);
	}
	return code;
}

static int upload(const char *local, struct remote *r, struct err *e)
{
	bool in = strcmp(local, "-") == 0;
	int fd = in ? STDIN_FILENO : open(local, O_RDONLY | O_CLOEXEC);
	size_t len = strlen(r->path);
	struct stat st;
	int code = 0;

	if (fd < 0)
		return err_sys(e, errno, "%s", local), EXIT_FAIL;
	if (fstat(fd, &st) < 0)
		code = (err_sys(e, errno, "%s", local), EXIT_FAIL);
	else if (S_ISDIR(st.st_mode))
		code = (err_set(e, EISDIR, "%s: is a directory; cp copies one file", local), EXIT_FAIL);
	else if (r->path[len - 1] == '/' && in)
		code = (err_set(e, EINVAL, "%s: %s: give the file a name when copying stdin", r->vm, r->path),
			EXIT_USAGE);
	else if (r->path[len - 1] == '/' && snprintf(r->path + len, sizeof(r->path) - len, "%s",
						     base_name(local)) >= (int)(sizeof(r->path) - len))
		code = (err_set(e, ENAMETOOLONG, "%s: %s: path too long", r->vm, r->path), EXIT_USAGE);
	if (code == 0)
		code = remote_open(r, "w", e);
	if (code == 0)
		code = push(r, fd, in ? "stdin" : local, e);
	if (code == 0)
		code = remote_close(r, e);
	remote_close(r, NULL);
	if (!in)
		close(fd);
	return code;
}

int ctlcp_run(const char *src, const char *dst, ctl_agent_fn agent, void *opaque, struct err *e)
{
	struct remote r = { .agent = agent, .opaque = opaque };
	bool from_vm = ctlcp_is_remote(src), to_vm = ctlcp_is_remote(dst);
	int code;

	if (from_vm == to_vm || !src[0] || !dst[0])
		return err_set(e, EINVAL, "cp: exactly one of SRC and DST is VM:PATH (write a local path "
			       "with ':' in it as ./a:b)"), EXIT_USAGE;
	code = parse_remote(from_vm ? src : dst, &r, e);
	if (code)
		return code;
	return from_vm ? download(&r, dst, e) : upload(src, &r, e);
}
