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

/* The 6-bit value of c, or -1. */
static int value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

long b64_decode(const char *src, size_t n, void *dst)
{
	unsigned char *d = dst;
	uint32_t acc = 0;
	size_t i, pad = 0, chars = 0;

	while (n > 0 && src[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	for (i = 0; i < n; i++) {
		int v = value((unsigned char)src[i]);

		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		if (++chars == 4) {
			*d++ = acc >> 16;
			*d++ = acc >> 8 & 0xff;
			*d++ = acc & 0xff;
			chars = 0;
			acc = 0;
		}
	}
	/* Padding, when present, completes the last group to 4 characters. */
	if (chars == 1 || (pad && chars + pad != 4))
		return -1;
	if (chars == 2) {
		*d++ = acc >> 4;
	} else if (chars == 3) {
		*d++ = acc >> 10;
		*d++ = acc >> 2 & 0xff;
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
