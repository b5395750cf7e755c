/* progress.c - the live block while VMs boot, and the final table
 * (progress.h).
 *
 * The cursor rests at the start of the line under the block, so every
 * frame is "up N lines, then each line cleared and written": the terminal
 * gets one write per frame and never shows a half-erased block.  Lines for
 * the user (the log's, --wait-ready's) wait in `above` and go out with the
 * next frame, written where the block was, the block under them again.
 * Frames are drawn from a 250 ms tick, only when something changed or a
 * second passed, so a chatty console costs at most four frames a second.
 */
#include "launcher/progress.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "base/log.h"
#include "base/loop.h"

#define TICK_MS 250
#define ABOVE_MAX (16 * 1024)  /* lines waiting for the next frame */
#define FRAME_MAX (64 * 1024)
#define COL_MAX 512            /* widest line drawn */
#define ROWS_MAX 64            /* block lines at most: a frame fits the log's queue */

struct pvm {
	char name[64];
	char state[16];
	char console[COL_MAX];
	char ip[48];
	uint64_t since_ms;     /* its last start, 0 before one */
	bool ready, autostart;
};

static struct {
	bool on;               /* open and not settled */
	bool live;             /* a terminal: the block; else lines to the pipe */
	int out;               /* the parent's pipe, or -1 for the log */
	int tty;               /* for the width; ours when out >= 0 */
	struct pvm *vms;
	int n, namew;
	int drawn;             /* block lines on the screen now */
	bool dirty;
	uint64_t drawn_s;      /* the second the elapsed times were drawn for */
	struct loop_timer tick;
	bool ticking;          /* the tick is armed: frames wait for it */
	size_t alen;
	char above[ABOVE_MAX];
	unsigned above_lost;
} pr = { .out = -1, .tty = -1 };

/* ---- output ---- */

/* Send a whole frame, or nothing: the pipe when it has room (its reader
 * is our parent, always reading), or the log's queue.  true when sent. */
static bool emit(const char *buf, size_t len)
{
	if (!len)
		return true;
	if (pr.out < 0)
		return log_raw(buf, len);

	struct pollfd p = { .fd = pr.out, .events = POLLOUT };
	size_t off = 0;

	if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT))
		return false;
	while (off < len) {
		ssize_t n = write(pr.out, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return off > 0; /* the parent is gone: nobody to draw for */
		off += (size_t)n;
	}
	return true;
}

/* The terminal's columns, and in *rows its lines (80 x 24 when it will
 * not say). */
static int width(int *rows)
{
	struct winsize ws;
	int w = 80;

	*rows = 24;
	if (pr.tty >= 0 && ioctl(pr.tty, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
		w = ws.ws_col;
		if (ws.ws_row > 0)
			*rows = ws.ws_row < ROWS_MAX ? ws.ws_row : ROWS_MAX;
	}
	if (w > COL_MAX)
		w = COL_MAX;
	return w < 20 ? 20 : w;
}

/* Printable ASCII of s, at most max columns, into out (size > max).
 * Escape sequences go whole (ESC [ ... final byte, or ESC and one byte):
 * a guest's colours must not move our cursor, nor leave "[31m" behind. */
static void clean(char *out, size_t size, const char *s, size_t max)
{
	size_t n = 0;

	for (; *s && n + 1 < size && n < max; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == 0x1b) {
			if (s[1] == '[') {
				for (s += 2; *s && !(*s >= 0x40 && *s <= 0x7e); s++)
					;
			} else if (s[1]) {
				s++;
			}
			if (!*s)
				break;
			continue;
		}
		if (c == '\t')
			c = ' ';
		if (c >= 0x80 && (c & 0xc0) == 0x80)
			continue; /* a UTF-8 continuation: its lead byte became '?' */
		if (c >= 0x80)
			c = '?';
		if (c < 0x20 || c == 0x7f)
			continue; /* escape sequences lose their ESC, and so their power */
		if (c == ' ' && n == 0)
			continue;
		out[n++] = (char)c;
	}
	out[n] = '\0';
}

static void elapsed(char *buf, size_t size, const struct pvm *v, uint64_t now)
{
	uint64_t s = v->since_ms ? (now - v->since_ms) / 1000 : 0;

	if (!v->since_ms)
		snprintf(buf, size, "-");
	else if (s < 60)
		snprintf(buf, size, "%us", (unsigned)s);
	else
		snprintf(buf, size, "%um%02us", (unsigned)(s / 60), (unsigned)(s % 60));
}

/* Append to a frame, cut at its end. */
static void put(char *f, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(char *f, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= FRAME_MAX - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(f + *len, FRAME_MAX - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n < FRAME_MAX - *len ? (size_t)n : FRAME_MAX - 1 - *len;
}

/* One VM's line: "NAME STATE ELAPSED [IP] [ready] | console", cut to w - 1
 * columns so the terminal never wraps it (a wrapped line would throw off
 * the count of lines to go up).  The IP and ready columns take room only
 * once some VM has one, leaving it to the console line until then. */
static void vm_line(char *f, size_t *len, const struct pvm *v, int ipw, bool readyw, int w, uint64_t now)
{
	char line[COL_MAX + 1], t[16];
	int n, cut = w - 1 < (int)sizeof(line) - 1 ? w - 1 : (int)sizeof(line) - 1;

	elapsed(t, sizeof(t), v, now);
	n = snprintf(line, sizeof(line), "%-*s %-9s %6s", pr.namew, v->name, v->state, t);
	if (n > 0 && ipw)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "  %-*s", ipw, *v->ip ? v->ip : "-");
	if (n > 0 && readyw)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "  %-5s", v->ready ? "ready" : "");
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	if (*v->console)
		snprintf(line + n, sizeof(line) - (size_t)n, "  | %.*s", (int)(sizeof(line) - 5 - (size_t)n),
			 v->console);
	line[cut] = '\0';
	for (n = (int)strlen(line); n > 0 && line[n - 1] == ' '; n--)
		line[n - 1] = '\0';
	put(f, len, "\033[2K%s\n", line);
}

/* Where the block was: up to its first line (the lines above stay). */
static void home(char *f, size_t *len)
{
	if (pr.drawn)
		put(f, len, "\033[%dA\r", pr.drawn);
}

/* The lines waiting above the block, then the block itself. */
static void draw(void)
{
	static char f[FRAME_MAX];
	uint64_t now = loop_now_ms();
	size_t len = 0, off = 0;
	int rows, w = width(&rows), ipw = 0, shown = pr.n, lines;
	bool readyw = false;

	/* The cursor cannot go up past the top of the screen: a block taller
	 * than the terminal shows what fits and counts the rest. */
	if (shown > rows - 2 && rows - 3 >= 1)
		shown = rows - 3;
	lines = shown < pr.n ? shown + 1 : shown;

	for (int i = 0; i < pr.n; i++) {
		if ((int)strlen(pr.vms[i].ip) > ipw)
			ipw = (int)strlen(pr.vms[i].ip);
		readyw |= pr.vms[i].ready;
	}

	if (!pr.live) {
		if (emit(pr.above, pr.alen))
			pr.alen = 0;
		return;
	}
	home(f, &len);
	while (off < pr.alen) {
		const char *nl = memchr(pr.above + off, '\n', pr.alen - off);
		size_t n = nl ? (size_t)(nl - (pr.above + off)) + 1 : pr.alen - off;

		put(f, &len, "\033[2K%.*s", (int)n, pr.above + off);
		off += n;
	}
	if (pr.above_lost)
		put(f, &len, "\033[2K%u lines not shown: the terminal is not keeping up\n", pr.above_lost);
	for (int i = 0; i < shown; i++)
		vm_line(f, &len, &pr.vms[i], ipw, readyw, w, now);
	if (shown < pr.n) {
		int ready = 0;

		for (int i = shown; i < pr.n; i++)
			ready += pr.vms[i].ready;
		put(f, &len, "\033[2K... and %d more VMs, %d of them ready\n", pr.n - shown, ready);
	}
	put(f, &len, "\033[J"); /* a shorter block than the last leaves no rest */
	if (!emit(f, len)) {
		pr.dirty = true; /* the next tick tries again; the lines wait */
		return;
	}
	pr.alen = 0;
	pr.above_lost = 0;
	pr.drawn = lines;
	pr.dirty = false;
	pr.drawn_s = now / 1000;
}

static void tick(struct loop_timer *t)
{
	if (pr.dirty || pr.alen || loop_now_ms() / 1000 != pr.drawn_s)
		draw();
	pr.ticking = pr.on && loop_timer_arm(t, TICK_MS) == 0;
}

/* Queue a line (with its newline) for the next frame. */
static void above(const char *line, size_t len)
{
	if (pr.alen + len > sizeof(pr.above))
		draw();
	if (pr.alen + len > sizeof(pr.above)) {
		pr.above_lost++;
		return;
	}
	memcpy(pr.above + pr.alen, line, len);
	pr.alen += len;
	if (!pr.ticking)
		draw(); /* no timer: at once rather than never */
}

/* The log's lines while progress is on.  Foreground (out -1): routine
 * status lines are the block's to show, the others go above it (a crash
 * too: the block has no room for why).  --daemon: the log goes to
 * launcher.log, which keeps everything; the parent sees the warnings above
 * the block, or, without a terminal, every line. */
static bool tap(enum log_level level, bool status, const char *line, size_t len, void *opaque)
{
	(void)opaque;
	if (!pr.on)
		return false;
	if (pr.out < 0) {
		if (!status || level == LOG_WARN)
			above(line, len);
		return true;
	}
	if (!pr.live || level == LOG_WARN)
		above(line, len);
	return false;
}

/* ---- the VMs ---- */

static struct pvm *find(const char *name)
{
	for (int i = 0; name && i < pr.n; i++)
		if (strcmp(pr.vms[i].name, name) == 0)
			return &pr.vms[i];
	return NULL;
}

int progress_open(int out, int tty, const json_t *vms, const bool *autostart)
{
	size_t i;
	json_t *vm;
	pr.live = tty >= 0 && isatty(tty);
	if (out < 0 && !pr.live)
		return 0; /* the log's own timestamped lines say it all */
	pr.n = (int)json_array_size(vms);
	pr.vms = calloc(pr.n ? (size_t)pr.n : 1, sizeof(*pr.vms));
	if (!pr.vms)
		return -ENOMEM;
	json_array_foreach(vms, i, vm) {
		struct pvm *v = &pr.vms[i];
		size_t j;
		json_t *nic;

		snprintf(v->name, sizeof(v->name), "%s", json_string_value(json_object_get(vm, "name")));
		snprintf(v->state, sizeof(v->state), "%s", json_string_value(json_object_get(vm, "state")));
		/* A leased address only: before the lease "ip" is the one the
		 * topology reserves, which the guest does not have yet. */
		json_array_foreach(json_object_get(vm, "nics"), j, nic)
			if (!*v->ip && json_is_true(json_object_get(nic, "lease")) &&
			    json_is_string(json_object_get(nic, "ip")))
				snprintf(v->ip, sizeof(v->ip), "%s", json_string_value(json_object_get(nic, "ip")));
		v->autostart = autostart[i];
		if ((int)strlen(v->name) > pr.namew)
			pr.namew = (int)strlen(v->name);
		/* Started before we watched (--daemon, adopted): its uptime says when. */
		if (strcmp(v->state, "starting") == 0 || json_is_integer(json_object_get(vm, "pid")))
			v->since_ms = loop_now_ms() -
				      (uint64_t)(json_number_value(json_object_get(vm, "uptime_s")) * 1000);
	}
	pr.out = out;
	pr.tty = tty;
	pr.on = true;
	pr.dirty = true;
	log_set_tap(tap, NULL);
	loop_timer_init(&pr.tick, tick);
	pr.ticking = loop_timer_arm(&pr.tick, TICK_MS) == 0;
	if (pr.live)
		draw();
	return 0;
}

void progress_event(const char *vm, const char *kind, const json_t *data)
{
	struct pvm *v = pr.on ? find(vm) : NULL;
	const char *s;

	if (!v)
		return;
	if (strcmp(kind, "state") == 0 && (s = json_string_value(json_object_get(data, "to")))) {
		snprintf(v->state, sizeof(v->state), "%s", s);
		if (strcmp(s, "starting") == 0) {
			v->since_ms = loop_now_ms();
			v->ready = false;
			v->console[0] = '\0';
		} else if (strcmp(s, "stopped") == 0 || strcmp(s, "crashed") == 0) {
			v->ready = false;
		}
	} else if (strcmp(kind, "lease") == 0 && (s = json_string_value(json_object_get(data, "ip")))) {
		snprintf(v->ip, sizeof(v->ip), "%s", s);
	} else if (strcmp(kind, "ready") == 0) {
		v->ready = true;
	} else {
		return;
	}
	pr.dirty = true;
}

void progress_console(const char *vm, const char *line)
{
	struct pvm *v = pr.on && pr.live ? find(vm) : NULL;
	char c[COL_MAX];

	if (!v)
		return;
	clean(c, sizeof(c), line, sizeof(c) - 1);
	if (!*c || strcmp(c, v->console) == 0)
		return; /* a blank line keeps the last one worth reading */
	memcpy(v->console, c, sizeof(c));
	pr.dirty = true;
}

bool progress_owns(int fd)
{
	return pr.on && fd >= 0 && fd == pr.out;
}

void progress_print(const char *line)
{
	char buf[COL_MAX * 4];
	int n = snprintf(buf, sizeof(buf), "%s\n", line);

	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf)) {
		n = (int)sizeof(buf) - 1;
		buf[n - 1] = '\n';
	}
	if (pr.on)
		above(buf, (size_t)n);
}

/* The final table: what `n3x-ctl status` says of each VM, in one piece. */
static void table(char *f, size_t *len, const json_t *vms)
{
	int w = pr.namew > 4 ? pr.namew : 4;
	size_t i;
	json_t *vm;

	put(f, len, "%-*s %-9s %-7s %-5s %-8s %-7s %-5s %s\n", w, "NAME", "STATE", "ARCH", "ACCEL",
	    "PID", "UPTIME", "READY", "IP");
	json_array_foreach(vms, i, vm) {
		const char *name = json_string_value(json_object_get(vm, "name"));
		const json_t *pid = json_object_get(vm, "pid");
		struct pvm *v = find(name);
		char p[16] = "-", up[16] = "-";

		if (json_is_integer(pid)) {
			double s = json_number_value(json_object_get(vm, "uptime_s"));

			snprintf(p, sizeof(p), "%lld", (long long)json_integer_value(pid));
			if (s < 60)
				snprintf(up, sizeof(up), "%.0fs", s);
			else
				snprintf(up, sizeof(up), "%dm%02ds", (int)s / 60, (int)s % 60);
		}
		put(f, len, "%-*s %-9s %-7s %-5s %-8s %-7s %-5s %s\n", w, name ? name : "-",
		    json_string_value(json_object_get(vm, "state")),
		    json_string_value(json_object_get(vm, "arch")),
		    json_string_value(json_object_get(vm, "accel")), p, up,
		    json_is_true(json_object_get(vm, "ready")) ? "yes" : "no", v && *v->ip ? v->ip : "-");
	}
}

void progress_settle(const json_t *vms)
{
	static char f[FRAME_MAX];
	size_t len = 0;

	if (!pr.on)
		return;
	pr.on = pr.ticking = false;
	loop_timer_close(&pr.tick);
	log_set_tap(NULL, NULL);
	if (pr.live) {
		home(f, &len);
		put(f, &len, "\033[J");
	}
	for (size_t off = 0; off < pr.alen;) {
		const char *nl = memchr(pr.above + off, '\n', pr.alen - off);
		size_t n = nl ? (size_t)(nl - (pr.above + off)) + 1 : pr.alen - off;

		put(f, &len, "%.*s", (int)n, pr.above + off);
		off += n;
	}
	pr.alen = 0;
	if (vms && pr.live)
		table(f, &len, vms);
	/* The last frame may not wait for a tick: take the time it needs. */
	if (pr.out >= 0) {
		for (size_t off = 0; off < len;) {
			ssize_t n = write(pr.out, f + off, len - off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		if (pr.tty >= 0)
			close(pr.tty);
		pr.out = pr.tty = -1;
	} else if (!log_raw(f, len)) {
		log_lost(1);
	}
	pr.drawn = 0;
}

void progress_close(void)
{
	progress_settle(NULL);
	free(pr.vms);
	pr.vms = NULL;
	pr.n = pr.namew = 0;
	pr.out = pr.tty = -1;
}
