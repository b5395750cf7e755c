/* eventcmd.c - `n3x-ctl events`: the supervisor's event stream (the
 * "events" request in launcher/control.h), one line per event.
 *
 * Text: local time with milliseconds, the VM (- for the fabric), the kind,
 * then the data as key=value; a string is printed as it is unless it is
 * empty or holds a space, a quote, a backslash or a control character, and
 * is then a JSON string; null is left out; any other value is compact
 * JSON.  --json: each
 * event object as the supervisor sent it.  Every line is flushed, so a pipe
 * (`| jq`) sees it at once.
 *
 * Exit: 0 after --count N events (lost counts are not events), after the
 * first event of kind --until, or when the supervisor goes away and
 * neither was asked for; 1 when the supervisor goes away before they are
 * reached, or --timeout S passes first; 3 when no supervisor answers.
 */
#include "ctl/client.h"
#include "ctl/ctl.h"
#include "ctl/ctlio.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK 65536

struct events_opts {
	json_t *vms;        /* the filter, [] for all */
	bool json;
	long count;         /* 0: no --count */
	const char *until;  /* NULL: no --until */
	double timeout_s;   /* 0: none */
};

/* "2026-12-07 08:12:01.123" for unix time t, in local time. */
static void format_time(double t, char *buf, size_t size)
{
	time_t sec = (time_t)t;
	long ms = (long)((t - (double)sec) * 1000.0 + 0.5);
	struct tm tm;

	if (ms > 999)
		ms = 999;
	if (ms < 0)
		ms = 0;
	if (!localtime_r(&sec, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm)) {
		snprintf(buf, size, "%.3f", t);
		return;
	}
	snprintf(buf + strlen(buf), size - strlen(buf), ".%03ld", ms);
}

static bool needs_quotes(const char *s)
{
	if (!*s)
		return true;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == '"' || *s == '\\' || *s == 0x7f)
			return true;
	return false;
}

/* One text line for ev on out. */
static void print_text(FILE *out, json_t *ev)
{
	json_t *data = json_object_get(ev, "data"), *v;
	const char *vm = json_string_value(json_object_get(ev, "vm")), *key;
	char when[64];

	format_time(json_number_value(json_object_get(ev, "time")), when, sizeof(when));
	fprintf(out, "%s %s %s", when, vm ? vm : "-",
		json_string_value(json_object_get(ev, "kind")) ?: "?");
	json_object_foreach(data, key, v) {
		const char *s = json_string_value(v);
		char *enc = NULL;

		if (json_is_null(v))
			continue; /* "no reason", "no previous lease": said by leaving it out */
		if (!s || needs_quotes(s))
			enc = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER |
						    JSON_REAL_PRECISION(13));
		fprintf(out, " %s=%s", key, enc ? enc : s ? s : "?");
		free(enc);
	}
	fputc('\n', out);
}

/* Milliseconds until deadline (a CLOCK_MONOTONIC ms value; 0: none), for poll. */
static int left_ms(long long deadline)
{
	struct timespec ts;
	long long now;

	if (!deadline)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
	return deadline > now ? (int)(deadline - now) : 0;
}

/* What is still missing, for the message when the stream ends early. */
static void missing(const struct events_opts *o, long seen, char *buf, size_t size)
{
	if (o->until)
		snprintf(buf, size, "no %s event", o->until);
	else
		snprintf(buf, size, "%ld of %ld events", seen, o->count);
}

/* Handle one line of the stream; 1 when the command is done (exit 0),
 * -1 on a line that is not an event, else 0. */
static int one_event(const struct events_opts *o, const char *line, long *seen)
{
	json_t *ev = json_loads(line, 0, NULL);
	const char *kind = json_string_value(json_object_get(ev, "kind"));
	int done = 0;

	if (!json_is_object(ev) || !kind) {
		json_decref(ev);
		return -1;
	}
	if (o->json)
		printf("%s\n", line);
	else
		print_text(stdout, ev);
	fflush(stdout);
	if (strcmp(kind, "lost") != 0 && ++*seen >= o->count && o->count)
		done = 1;
	if (o->until && strcmp(kind, o->until) == 0)
		done = 1;
	json_decref(ev);
	return done;
}

/* The first line: {"ok":true}, or the error's exit code (printed). */
static int check_reply(struct ctl *c, const char *line)
{
	json_t *r = json_loads(line, 0, NULL);
	int code;

	if (!json_is_object(r)) {
		json_decref(r);
		return fail(EXIT_FAIL, "bad reply from the supervisor at %s", c->sock);
	}
	if (json_is_true(json_object_get(r, "ok"))) {
		json_decref(r);
		return 0;
	}
	code = json_integer_value(json_object_get(r, "code")) == EXIT_USAGE ? EXIT_USAGE : EXIT_FAIL;
	fail(code, "%s", json_string_value(json_object_get(r, "error")) ?: "the supervisor gave no reason");
	json_decref(r);
	return code;
}

static int stream(struct ctl *c, const struct events_opts *o)
{
	long long deadline = 0;
	bool replied = false;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	long seen = 0;
	char what[128];
	int r;

	if (o->timeout_s > 0) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		deadline = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000 + (long long)(o->timeout_s * 1000);
	}
	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		char *nl;
		ssize_t n;

		size_t off = 0;

		/* Every whole line read so far, then what is left to the front. */
		while (len > off && (nl = memchr(buf + off, '\n', len - off))) {
			char *line = buf + off;

			*nl = '\0';
			off = nl + 1 - buf;
			if (!replied) {
				if ((r = check_reply(c, line)) != 0)
					goto out_code;
				replied = true;
			} else if ((r = one_event(o, line, &seen)) != 0) {
				if (r < 0)
					r = fail(EXIT_FAIL, "bad event line from the supervisor at %s", c->sock);
				else
					r = 0;
				goto out_code;
			}
		}
		if (off) {
			memmove(buf, buf + off, len - off);
			len -= off;
		}
		r = poll(&p, 1, left_ms(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = fail(EXIT_FAIL, "poll: %s", strerror(errno));
			goto out_code;
		}
		if (r == 0) {
			if (o->until || o->count) {
				missing(o, seen, what, sizeof(what));
				r = fail(EXIT_FAIL, "timed out after %g s: %s", o->timeout_s, what);
			} else {
				r = fail(EXIT_FAIL, "timed out after %g s (%ld events)", o->timeout_s, seen);
			}
			goto out_code;
		}
		if (cap - len < READ_CHUNK) {
			char *nb = realloc(buf, cap + READ_CHUNK);

			if (!nb) {
				r = fail(EXIT_FAIL, "out of memory");
				goto out_code;
			}
			buf = nb;
			cap += READ_CHUNK;
		}
		n = read(c->fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			len += n;
			continue;
		}
		/* The supervisor went away (or the connection failed). */
		if (!replied) {
			r = fail(EXIT_UNREACHABLE, "the supervisor at %s closed the connection without replying",
				 c->sock);
		} else if (o->until || o->count) {
			missing(o, seen, what, sizeof(what));
			r = fail(EXIT_FAIL, "the supervisor at %s went away: %s", c->sock, what);
		} else {
			r = 0;
		}
		goto out_code;
	}
out_code:
	free(buf);
	return r;
}

/* A positive number for option opt, or -1 after printing why not. */
static double positive(const char *opt, const char *arg, bool integer)
{
	char *end;
	double v;

	errno = 0;
	v = integer ? (double)strtol(arg, &end, 10) : strtod(arg, &end);
	if (errno || end == arg || *end || v <= 0) {
		fail(EXIT_USAGE, "events: %s wants a %s greater than 0, not '%s'", opt,
		     integer ? "whole number" : "number of seconds", arg);
		return -1;
	}
	return v;
}

int cmd_events(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct events_opts o = { .vms = json_array() };
	json_t *req;
	char *s;
	int r;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		double v;

		if (strcmp(a, "--json") == 0) {
			o.json = true;
		} else if (strcmp(a, "--count") == 0 || strcmp(a, "--until") == 0 ||
			   strcmp(a, "--timeout") == 0) {
			if (i + 1 >= argc) {
				json_decref(o.vms);
				return usage_error(cmd);
			}
			if (strcmp(a, "--until") == 0) {
				o.until = argv[++i];
				continue;
			}
			if ((v = positive(a, argv[++i], a[2] == 'c')) < 0) {
				json_decref(o.vms);
				return EXIT_USAGE;
			}
			if (a[2] == 'c')
				o.count = (long)v;
			else
				o.timeout_s = v;
		} else if (a[0] == '-' || json_array_append_new(o.vms, json_string(a)) < 0) {
			json_decref(o.vms);
			return usage_error(cmd);
		}
	}
	req = json_pack("{s:s, s:o}", "cmd", "events", "vms", o.vms);
	s = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!s)
		return fail(EXIT_FAIL, "out of memory");
	if ((r = ctl_connect(c)) < 0) {
		free(s);
		return fail(EXIT_UNREACHABLE, "cannot reach the supervisor at %s: %s", c->sock, strerror(-r));
	}
	/* The request's '\n' over the NUL: s is sent as bytes, not used as a string. */
	r = strlen(s);
	s[r] = '\n';
	r = ctlio_write_all(c->fd, s, r + 1);
	free(s);
	if (r < 0)
		return fail(EXIT_UNREACHABLE, "cannot reach the supervisor at %s: %s", c->sock, strerror(-r));
	return stream(c, &o);
}
