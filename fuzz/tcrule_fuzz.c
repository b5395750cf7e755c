/* tcrule_fuzz.c - libFuzzer target for the impairment rule parser
 * (tc/rule.c): the input is one profile line's RULE as a user writes it
 * in topology.conf or `n3x-ctl tc set`.
 *
 *   make fuzz-build && build/fuzz/tcrule_fuzz -max_total_time=300 build/fuzz/corpus/tcrule fuzz/corpus/tcrule
 *
 * Checked: a refused rule says why (a message) and leaves the output zeroed;
 * an accepted one shapes something, every value in its documented range, and
 * what tc_shape_format prints for each direction parses again (status shows
 * that text, and users paste it back).  ASan and UBSan do the rest (unit
 * arithmetic overflowing, a word read past the end).
 */
#include "tc/rule.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "tcrule_fuzz: %s\n", #c); abort(); } } while (0)

static void check_shape(const struct tc_shape *s)
{
	char buf[512];
	struct tc_rule again;
	struct err e = { 0 };

	CHECK(s->loss >= 0 && s->loss <= 100 && s->loss_corr >= 0 && s->loss_corr <= 100);
	CHECK(s->duplicate >= 0 && s->duplicate <= 100);
	CHECK(s->corrupt >= 0 && s->corrupt <= 100);
	CHECK(s->reorder >= 0 && s->reorder <= 100);
	CHECK(s->dist == TC_DIST_NONE || s->jitter_us);
	CHECK(s->reorder == 0 || s->delay_us);
	CHECK(!tc_shape_needs_netem(s) || tc_shape_netem_word(s)[0]);
	for (int i = 0; i < TC_LOSS_PARAMS; i++)
		CHECK(s->loss_p[i] >= 0 && s->loss_p[i] <= 100);
	CHECK(s->loss_model == TC_LOSS_RANDOM || s->loss == 0);
	CHECK(!s->ecn || s->loss > 0 || s->loss_model != TC_LOSS_RANDOM);
	CHECK(s->slot_min_us <= s->slot_max_us);
	CHECK(!(s->slot_packets || s->slot_bytes) || s->slot_max_us);
	CHECK(!(s->rate_bps && s->netem_rate_bps));
	CHECK(!s->cell_overhead || s->cell_size);
	CHECK(tc_shape_netem_limit(s) >= 1000);
	if (tc_shape_empty(s))
		return;
	tc_shape_format(s, buf, sizeof(buf));
	CHECK(strlen(buf) < sizeof(buf));
	if (tc_rule_parse(buf, &again, &e) != 0) {
		fprintf(stderr, "tcrule_fuzz: \"%s\" does not parse again: %s\n", buf, e.msg);
		abort();
	}
	/* A short buffer cuts the text but stays a string. */
	tc_shape_format(s, buf, 8);
	CHECK(strlen(buf) < 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct tc_rule r;
	struct err e = { 0 };
	int ret;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	ret = tc_rule_parse(text, &r, &e);
	CHECK(ret == 0 || ret == -EINVAL || ret == -ENOMEM);
	if (ret) {
		static const struct tc_rule zero;

		CHECK(e.msg[0] != '\0');
		CHECK(!memcmp(&r, &zero, sizeof(r)));
	} else {
		CHECK(!tc_shape_empty(&r.to_vm) || !tc_shape_empty(&r.from_vm));
		check_shape(&r.to_vm);
		check_shape(&r.from_vm);
	}
	free(text);
	return 0;
}
