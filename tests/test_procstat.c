/* test_procstat.c - /proc/PID/stat as top reads it (base/procstat.h):
 * a command name with spaces and parentheses, CPU time that grows as the
 * kernel's own CPU clock does, the start time adoption also uses (base/proc.h), a gone process. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/proc.h"
#include "base/procstat.h"

Test(procstat, parse_fields_after_the_last_paren)
{
	/* fields 14 15 (utime stime) = 250 150, 22 (starttime) = 4242, 24 (rss) = 3 */
	const char *line = "1234 (qemu (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 "
			   "5 0 4242 1000000 3 18446744073709551615 0 0 0 0 0 0 0 4096\n";
	struct procstat ps;

	cr_assert_eq(procstat_parse(line, 100, 4096, &ps), 0);
	cr_expect_eq(ps.cpu_ns, 4000000000ULL); /* 400 ticks at 100 Hz */
	cr_expect_eq(ps.start_time, 4242);
	cr_expect_eq(ps.rss_bytes, 3 * 4096);
	cr_expect_eq(ps.state, 'S');
	cr_expect_eq(procstat_parse("1234 (cut) S 1 2 3", 100, 4096, &ps), -EINVAL);
	cr_expect_eq(procstat_parse("no parenthesis", 100, 4096, &ps), -EINVAL);
	cr_expect_eq(procstat_parse("1 (x) R 1 1 1 0 -1 0 0 0 0 0 a b", 100, 4096, &ps), -EINVAL);
}

Test(procstat, own_process)
{
	struct procstat a, b;
	uint64_t start;
	struct timespec t0, t;
	volatile unsigned long spin = 0;

	cr_assert_eq(procstat_read(getpid(), &a), 0);
	cr_assert_eq(proc_start_time(getpid(), &start), 0);
	cr_expect_eq(a.start_time, start);
	cr_expect_gt(a.rss_bytes, 0);
	/* Spin for 200 ms of our own CPU time (the clock the kernel keeps
	 * exactly; a loaded machine stretches the wall time, not this). */
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	do {
		for (int i = 0; i < 100000; i++)
			spin++;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 200);
	cr_assert_eq(procstat_read(getpid(), &b), 0);
	/* /proc counts in clock ticks: within a few of them */
	cr_expect_geq(b.cpu_ns - a.cpu_ns, 150000000ULL, "spun 200 ms of CPU, /proc counted %llu ns",
		      (unsigned long long)(b.cpu_ns - a.cpu_ns));
	cr_expect_leq(b.cpu_ns - a.cpu_ns, 260000000ULL, "spun 200 ms of CPU, /proc counted %llu ns",
		      (unsigned long long)(b.cpu_ns - a.cpu_ns));
}

Test(procstat, gone)
{
	struct procstat ps;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(0);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	cr_expect_eq(procstat_read(pid, &ps), -ESRCH);
}
