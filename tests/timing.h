/* timing.h - what the tc drivers' benchmarks time with: a monotonic clock
 * in milliseconds and a qsort comparison for the samples (medians). */
#ifndef N3X_TESTS_TIMING_H
#define N3X_TESTS_TIMING_H

#include <time.h>

static inline double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static inline int cmp_ms(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#endif
