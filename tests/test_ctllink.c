/* test_ctllink.c - n3x-ctl send's escape decoder (ctl/linkcmds.h): what
 * each escape types, and the one-line error for a bad one. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/linkcmds.h"

/* Decode text and compare with want (n bytes). */
static void decodes(const char *text, const char *want, size_t n)
{
	struct err e = { 0 };
	size_t len = 12345;
	char *got = ctl_unescape(text, &len, &e);

	cr_assert_not_null(got, "%s: %s", text, e.msg);
	cr_assert_eq(len, n, "%s: %zu bytes, want %zu", text, len, n);
	cr_assert_eq(memcmp(got, want, n), 0, "%s: wrong bytes", text);
	cr_assert_eq(got[n], '\0', "%s: no NUL after the bytes", text);
	free(got);
}

/* Refused, with a message that contains each of the fragments. */
static void refused(const char *text, const char *frag1, const char *frag2)
{
	struct err e = { 0 };
	size_t len = 0;

	errno = 0;
	cr_assert_null(ctl_unescape(text, &len, &e), "%s: decoded", text);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(e.code, EINVAL);
	cr_assert_null(strchr(e.msg, '\n'), "one line: %s", e.msg);
	cr_assert(strstr(e.msg, frag1), "%s: message '%s' lacks '%s'", text, e.msg, frag1);
	if (frag2)
		cr_assert(strstr(e.msg, frag2), "%s: message '%s' lacks '%s'", text, e.msg, frag2);
}

#define DECODES(text, want) decodes(text, want, sizeof(want) - 1)

Test(ctllink, plain_text_is_itself)
{
	DECODES("", "");
	DECODES("root", "root");
	DECODES("echo $((6 * 7)) 'x' \"y\"", "echo $((6 * 7)) 'x' \"y\"");
	DECODES("grüße", "grüße");
}

Test(ctllink, simple_escapes)
{
	DECODES("root\\n", "root\n");
	DECODES("a\\rb\\tc", "a\rb\tc");
	DECODES("\\\\", "\\");
	DECODES("\\e[A", "\033[A");
	DECODES("\\a\\b\\f\\v", "\a\b\f\v");
	DECODES("\\'\\\"\\?", "'\"?");
	DECODES("ls\\n\\n", "ls\n\n");
}

Test(ctllink, hex_escapes)
{
	DECODES("\\x03", "\003");          /* Ctrl-C, as the NixOS driver sends it */
	DECODES("\\x4", "\004");           /* one digit */
	DECODES("\\x41BC", "ABC");         /* at most two digits */
	DECODES("\\xfF\\xFf", "\377\377");
	DECODES("\\x0g", "\000g");
	DECODES("x\\x00y", "x\0y");        /* a NUL inside */
}

Test(ctllink, octal_escapes)
{
	DECODES("\\0", "\0");
	DECODES("a\\0b", "a\0b");
	DECODES("\\101\\102", "AB");
	DECODES("\\0101", "\0101");        /* at most three digits: \010 then '1' */
	DECODES("\\33[0m", "\033[0m");
	DECODES("\\377", "\377");
}

Test(ctllink, bad_escapes_are_named_with_their_place)
{
	refused("ab\\q", "bad escape \\q at character 3", "known are \\n");
	refused("\\8", "bad escape \\8 at character 1", NULL);
	refused("x\\xg", "bad escape \\x at character 2", "hex digits");
	refused("\\x", "bad escape \\x at character 1", NULL);
	refused("\\400", "\\400 at character 1", "at most \\377");
	refused("end\\", "a lone \\ at the end (character 4)", "\\\\");
	refused("\\ü", "bad escape \\ü at character 1", NULL); /* the whole character */
	refused("\\N", "bad escape \\N", NULL);
}
