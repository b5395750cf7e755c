/* tbf.c - tbf: derive, encode, read back.
 *
 * libnl builds the request's frame, but its tbf encoder (lib/route/qdisc/
 * tbf.c, 3.7) cannot be used for the options: it takes the rate as an int
 * of bytes (wrong past 17 Gbit/s), sends no TCA_TBF_RATE64 or TCA_TBF_BURST,
 * and leaves the rate's linklayer 0 ("unaware"), which makes the kernel
 * guess the link layer from the rate table; at 500 Mbit/s and more the
 * table's first entries round to equal values and the kernel takes the link
 * for ATM, charging 53 bytes per 48 (qdisc_get_rtab, __detect_linklayer).
 * So the options are encoded here with libmnl exactly as iproute2's
 * tc/q_tbf.c does: TCA_TBF_PARMS (linklayer ethernet), TCA_TBF_BURST,
 * TCA_TBF_RATE64 past 32 bits, TCA_TBF_RTAB.
 */
#include "tc/nl.h"

#include <errno.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>
#include <netlink/utils.h>

#define MIN_BURST 15000        /* ten full frames, as Mininet's "burst 15k" */
#define QUEUE_MS 50            /* a queue that holds 50 ms at the rate */
#define RTAB_SIZE 256
#define TC_MTU 2047            /* tc's default when no mtu is given */

void tc_tbf_defaults(const struct tc_shape *s, bool child, uint32_t *burst, uint32_t *limit)
{
	uint64_t bytes = s->rate_bps / 8, b, l;

	/* A bucket of 10 ms at the rate: tbf refills it continuously, so its
	 * size sets how bursty the output may be, not the average rate; it
	 * must hold whole frames (tbf splits larger GSO packets to fit). */
	b = s->burst_bytes ? s->burst_bytes : bytes / 100 > MIN_BURST ? bytes / 100 : MIN_BURST;
	if (b > UINT32_MAX)
		b = UINT32_MAX;
	/* tbf's queue in bytes.  Under netem, s->limit is netem's (packets). */
	l = !child && s->limit ? s->limit :
	    b + (bytes > UINT64_MAX / QUEUE_MS ? UINT32_MAX : bytes * QUEUE_MS / 1000);
	*burst = (uint32_t)b;
	*limit = l > UINT32_MAX ? UINT32_MAX : (uint32_t)l;
}

/* tc_calc_xmittime: whole microseconds first, then ticks (libnl converts
 * microseconds to ticks with the same /proc/net/psched factor as tc). */
static uint32_t xmittime(uint64_t rate, uint32_t size)
{
	return nl_us2ticks((uint32_t)(1000000 * ((double)size / (double)rate)));
}

int tc_tbf_build(struct tc_msg *m, int ifindex, uint32_t parent, uint32_t handle,
		 const struct tc_shape *s, bool child, int flags, struct err *e)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	struct tc_tbf_qopt opt = { 0 };
	uint64_t rate64 = s->rate_bps / 8;
	uint32_t rtab[RTAB_SIZE], burst, limit;
	struct nlattr *opts;
	int r, cell_log = 0;

	m->nlh = NULL;
	if (!q)
		return err_sys(e, ENOMEM, "%s", "");
	tc_tbf_defaults(s, child, &burst, &limit);
	opt.rate.rate = rate64 >= (1ULL << 32) ? ~0U : (uint32_t)rate64;
	/* The kernel keeps the bucket as time in 32-bit ticks of 64 ns. */
	if (!rate64 || (double)burst / opt.rate.rate > 274.0) {
		rtnl_qdisc_put(q);
		return err_set(e, EINVAL, "burst %u is too large for rate %llu bit/s",
			       burst, (unsigned long long)s->rate_bps);
	}
	/* No kind: libnl would encode the options with its own tbf code.
	 * The frame (tcmsg with ifindex, parent, handle) is all we take. */
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), parent);
	rtnl_tc_set_handle(TC_CAST(q), handle);
	r = tc_msg_qdisc(m, q, RTM_NEWQDISC, flags, 1280);
	rtnl_qdisc_put(q);
	if (r)
		goto out;

	/* tc_calc_rtable with tc's defaults: mtu 2047, cell_log from it,
	 * no mpu or overhead, ethernet. */
	while ((TC_MTU >> cell_log) > 255)
		cell_log++;
	for (int i = 0; i < RTAB_SIZE; i++)
		rtab[i] = xmittime(opt.rate.rate, (uint32_t)(i + 1) << cell_log);
	opt.rate.cell_align = -1;
	opt.rate.cell_log = (unsigned char)cell_log;
	opt.rate.linklayer = TC_LINKLAYER_ETHERNET;
	opt.limit = limit;
	opt.buffer = xmittime(opt.rate.rate, burst);

	r = mnl_attr_put_strz_check(m->nlh, m->cap, TCA_KIND, "tbf") ? 0 : -EMSGSIZE;
	opts = mnl_nlmsg_get_payload_tail(m->nlh);
	/* A plain TCA_OPTIONS, as tc's addattr_nest (no NLA_F_NESTED). */
	if (!r)
		r = tc_msg_put(m, TCA_OPTIONS, 0, NULL);
	if (!r)
		r = tc_msg_put(m, TCA_TBF_PARMS, sizeof(opt), &opt);
	if (!r)
		r = tc_msg_put(m, TCA_TBF_BURST, sizeof(burst), &burst);
	if (!r && rate64 >= (1ULL << 32))
		r = tc_msg_put(m, TCA_TBF_RATE64, sizeof(rate64), &rate64);
	if (!r)
		r = tc_msg_put(m, TCA_TBF_RTAB, sizeof(rtab), rtab);
	if (!r)
		tc_msg_extend(m, opts);
out:
	if (r) {
		tc_msg_free(m);
		err_sys(e, -r, "%s", "");
	}
	return r;
}

void tc_tbf_read(struct rtnl_qdisc *q, const struct nlattr *opts, struct tc_shape *s)
{
	const struct tc_tbf_qopt *opt = NULL;
	const struct nlattr *a;
	int rate = rtnl_qdisc_tbf_get_rate(q), limit = rtnl_qdisc_tbf_get_limit(q);
	uint64_t bytes = rate < 0 && rate > -64 ? 0 : (uint32_t)rate;
	double ns_per_tick;

	s->limit = limit < 0 && limit > -64 ? 0 : (uint32_t)limit;
	if (opts)
		mnl_attr_for_each_nested(a, opts) {
			if (mnl_attr_get_type(a) == TCA_TBF_RATE64 && mnl_attr_get_payload_len(a) == 8)
				bytes = mnl_attr_get_u64(a);
			if (mnl_attr_get_type(a) == TCA_TBF_PARMS &&
			    mnl_attr_get_payload_len(a) >= sizeof(*opt))
				opt = mnl_attr_get_payload(a);
		}
	s->rate_bps = bytes * 8;
	/* The kernel dumps the bucket as time (ticks of the full rate); libnl's
	 * bucket goes through whole microseconds and comes out a few bytes
	 * short, so convert from the ticks with the psched factor instead. */
	if (opt && bytes) {
		ns_per_tick = nl_ticks2us(1000000) / 1000.;
		s->burst_bytes = (uint32_t)(opt->buffer * ns_per_tick * (double)bytes / 1e9 + 0.5);
	}
}

json_t *tc_tbf_params(const struct tc_shape *s)
{
	return json_pack("{s:I,s:I,s:I}", "rate_bps", (json_int_t)s->rate_bps,
			 "burst_bytes", (json_int_t)s->burst_bytes, "limit_bytes", (json_int_t)s->limit);
}
