/* linkcmds.c - n3x-ctl's link (a cable pull) and send (typing into the
 * serial console) verbs, and the escape decoder send uses.
 */
#include "ctl/linkcmds.h"
#include "ctl/ctl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"

#define ESCAPES_KNOWN "\\n \\r \\t \\a \\b \\e \\f \\v \\\\ \\' \\\" \\? \\xHH \\NNN (octal, \\0)"

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

char *ctl_unescape(const char *text, size_t *len, struct err *e)
{
	static const char simple[] = "n\nr\rt\ta\ab\be\033f\fv\v\\\\''\"\"??";
	size_t n = 0, tl = strlen(text);
	char *out = malloc(tl + 1); /* an escape never decodes longer than it is */

	if (!out) {
		err_set(e, ENOMEM, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < tl; i++) {
		const char *s;
		unsigned v;
		size_t at = i + 1; /* 1-based, the backslash's */

		if (text[i] != '\\') {
			out[n++] = text[i];
			continue;
		}
		i++;
		if (i == tl) {
			err_set(e, EINVAL, "a lone \\ at the end (character %zu): write \\\\ for a backslash", at);
			goto bad;
		}
		for (s = simple; *s && *s != text[i]; s += 2)
			;
		if (*s) {
			out[n++] = s[1];
		} else if (text[i] == 'x') {
			int d1 = i + 1 < tl ? hexval(text[i + 1]) : -1, d2;

			if (d1 < 0) {
				err_set(e, EINVAL, "bad escape \\x at character %zu: \\x takes one or two hex digits",
					at);
				goto bad;
			}
			v = (unsigned)d1;
			i++;
			if (i + 1 < tl && (d2 = hexval(text[i + 1])) >= 0) {
				v = v * 16 + (unsigned)d2;
				i++;
			}
			out[n++] = (char)v;
		} else if (text[i] >= '0' && text[i] <= '7') {
			v = 0;
			for (int k = 0; k < 3 && i < tl && text[i] >= '0' && text[i] <= '7'; k++, i++)
				v = v * 8 + (unsigned)(text[i] - '0');
			i--; /* the loop's i++ steps past the last digit */
			if (v > 0377) {
				err_set(e, EINVAL, "bad escape \\%.3s at character %zu: an octal byte is at most \\377",
					text + at, at);
				goto bad;
			}
			out[n++] = (char)v;
		} else {
			/* One whole character, even a multibyte one, in the message. */
			size_t cl = 1;

			while (i + cl < tl && ((unsigned char)text[i + cl] & 0xC0) == 0x80)
				cl++;
			err_set(e, EINVAL, "bad escape \\%.*s at character %zu: known are " ESCAPES_KNOWN,
				(int)cl, text + i, at);
			goto bad;
		}
	}
	out[n] = '\0';
	*len = n;
	return out;
bad:
	free(out);
	errno = EINVAL;
	return NULL;
}

/* ---- link ---- */

int cmd_link(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	char name[64], *slash, *end;
	json_t *req, *reply, *nic;
	long idx = -1;
	bool up;
	size_t i;
	int r;

	if (argc != 3)
		return usage_error(cmd);
	if (strcmp(argv[2], "up") == 0)
		up = true;
	else if (strcmp(argv[2], "down") == 0)
		up = false;
	else
		return usage_error(cmd);
	if (snprintf(name, sizeof(name), "%s", argv[1]) >= (int)sizeof(name))
		return fail(EXIT_USAGE, "link: no VM has a name as long as '%s'", argv[1]);
	if ((slash = strchr(name, '/'))) {
		*slash = '\0';
		errno = 0;
		idx = strtol(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end || errno || idx < 0 || idx > INT_MAX)
			return fail(EXIT_USAGE, "link: '%s' is not VM/N with N a NIC's index (from 0)", argv[1]);
	}
	req = json_pack("{s:s, s:s, s:b}", "cmd", "link", "vm", name, "up", up);
	if (req && idx >= 0)
		json_object_set_new(req, "nic", json_integer(idx));
	if ((r = request(c, req, QUICK_TIMEOUT_MS, &reply)))
		return r;
	json_array_foreach(json_object_get(reply, "nics"), i, nic)
		printf("%s/%lld: %s\n", name, (long long)json_integer_value(json_object_get(nic, "index")),
		       json_string_value(json_object_get(nic, "link")) ?: "?");
	json_decref(reply);
	return 0;
}

/* ---- send ---- */

int cmd_send(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct err e = { 0 };
	char *text = NULL, *bytes, *b64;
	size_t tlen = 0, len;
	json_t *reply;
	FILE *f;
	int r;

	if (argc < 3)
		return usage_error(cmd);
	/* `send vm echo hi\n` and `send vm 'echo hi\n'` mean the same, as hmp. */
	if (!(f = open_memstream(&text, &tlen)))
		return fail(EXIT_FAIL, "out of memory");
	for (int i = 2; i < argc; i++)
		fprintf(f, "%s%s", i > 2 ? " " : "", argv[i]);
	if (fclose(f) != 0) {
		free(text);
		return fail(EXIT_FAIL, "out of memory");
	}
	bytes = ctl_unescape(text, &len, &e);
	free(text);
	if (!bytes)
		return fail(e.code == ENOMEM ? EXIT_FAIL : EXIT_USAGE, "send: %s", e.msg);
	b64 = b64_encode_alloc(bytes, len);
	free(bytes);
	if (!b64)
		return fail(EXIT_FAIL, "out of memory");
	r = request(c, json_pack("{s:s, s:s, s:s}", "cmd", "send", "vm", argv[1], "data", b64),
		    QUICK_TIMEOUT_MS, &reply);
	free(b64);
	if (r == 0)
		json_decref(reply);
	return r;
}
