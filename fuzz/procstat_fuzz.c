/* procstat_fuzz.c - libFuzzer target for the /proc/PID/stat parser
 * (base/procstat.c, procstat_parse), which `top` runs on every QEMU's stat
 * line.  The kernel writes the line, but its second field is the process's
 * own name (any bytes but NUL, up to 15 of them, ')' and spaces included),
 * and an adopted QEMU's pid may by then belong to another process.
 *
 *   make fuzz-build && build/fuzz/procstat_fuzz -max_total_time=300 build/fuzz/corpus/procstat fuzz/corpus/procstat
 *
 * Checked: the parse returns 0 or -EINVAL, leaves *out alone on -EINVAL,
 * and on success reports what the fields after the last ')' say: the
 * state is that field's first character, and the same text with a
 * different command name in front parses to the same numbers.
 */
#include "base/procstat.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "procstat_fuzz: %s\n", #c); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *renamed;
	struct procstat a, b, untouched;
	const char *close;
	int r;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&a, 0xa5, sizeof(a));
	untouched = a;
	r = procstat_parse(text, 100, 4096, &a);
	CHECK(r == 0 || r == -EINVAL);
	if (r < 0) {
		CHECK(memcmp(&a, &untouched, sizeof(a)) == 0);
		free(text);
		return 0;
	}
	close = strrchr(text, ')');
	CHECK(close);
	CHECK(a.rss_bytes % 4096 == 0);
	/* The name before the last ')' does not matter. */
	if ((renamed = malloc(strlen(close) + 32))) {
		snprintf(renamed, strlen(close) + 32, "1 (qemu) x)%s", close + 1);
		r = procstat_parse(renamed, 100, 4096, &b);
		CHECK(r == 0);
		CHECK(a.cpu_ns == b.cpu_ns && a.rss_bytes == b.rss_bytes &&
		      a.start_time == b.start_time && a.state == b.state);
		free(renamed);
	}
	CHECK(procstat_parse(text, 0, 4096, &b) == -EINVAL);
	free(text);
	return 0;
}
