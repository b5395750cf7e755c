/* b64.c - base64 (RFC 4648 section 4). */
#include "base/b64.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64_encode(const void *src, size_t n, char *dst)
{
	const unsigned char *s = src;
	char *d = dst;

	for (; n >= 3; n -= 3, s += 3) {
		uint32_t v = (uint32_t)s[0] << 16 | (uint32_t)s[1] << 8 | s[2];

		*d++ = alphabet[v >> 18];
		*d++ = alphabet[v >> 12 & 63];
		*d++ = alphabet[v >> 6 & 63];
		*d++ = alphabet[v & 63];
	}
	if (n) {
		uint32_t v = (uint32_t)s[0] << 16 | (n == 2 ? (uint32_t)s[1] << 8 : 0);

		*d++ = alphabet[v >> 18];
		*d++ = alphabet[v >> 12 & 63];
		*d++ = n == 2 ? alphabet[v >> 6 & 63] : '=';
		*d++ = '=';
	}
	*d = '\0';
	return (size_t)(d - dst);
}

/* Each character's 6-bit value plus one; 0 for a character that is not in
 * the alphabet.  A table, not a chain of range tests: n3x-ctl cp decodes
 * every byte it copies out of a guest, and the tests cost a third of its
 * time there. */
static const unsigned char value1[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
	['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
	['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
	['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
	['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
	['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
	['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
	['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

long b64_decode(const char *src, size_t n, void *dst)
{
	const unsigned char *s = (const unsigned char *)src;
	unsigned char *d = dst;
	uint32_t a, b, c, e;
	size_t pad = 0, rest;

	while (n > 0 && src[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	rest = n % 4;
	/* Padding, when present, completes the last group to 4 characters. */
	if (rest == 1 || (pad && rest + pad != 4))
		return -1;
	for (; n >= 4; n -= 4, s += 4) {
		a = value1[s[0]];
		b = value1[s[1]];
		c = value1[s[2]];
		e = value1[s[3]];
		if (!a || !b || !c || !e)
			return -1;
		a = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (e - 1);
		*d++ = a >> 16;
		*d++ = a >> 8 & 0xff;
		*d++ = a & 0xff;
	}
	if (rest) {
		a = value1[s[0]];
		b = value1[s[1]];
		c = rest == 3 ? value1[s[2]] : 1;
		if (!a || !b || !c)
			return -1;
		a = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6;
		*d++ = a >> 16;
		if (rest == 3)
			*d++ = a >> 8 & 0xff;
	}
	return (long)(d - (unsigned char *)dst);
}

char *b64_encode_alloc(const void *src, size_t n)
{
	char *s = malloc(B64_ENCODED_LEN(n) + 1);

	if (s)
		b64_encode(src, n, s);
	return s;
}

void *b64_decode_alloc(const char *src, size_t n, size_t *len)
{
	unsigned char *d = malloc(B64_DECODED_MAX(n) + 1);
	long r;

	if (!d)
		return NULL;
	if ((r = b64_decode(src, n, d)) < 0) {
		free(d);
		errno = EINVAL;
		return NULL;
	}
	d[r] = '\0';
	*len = (size_t)r;
	return d;
}
