/*
 * ids.c: 16-byte ledger ids: UUIDv7 generation, name-based UUIDv8 ids, canonical text form.
 *
 * UUIDv7 layout (RFC 9562 section 5.7): bytes 0-5 Unix milliseconds big-endian; byte 6 high nibble
 * version 7, then 12 bits rand_a; byte 8 top two bits variant 10, then 62 bits rand_b.
 * Invariant: every id returned by ledger_id_new_v7() in this process compares strictly greater
 * (memcmp) than the previous one, even if the clock stalls or steps back. The generator keeps the
 * last (ms, rand_a, rand_b) under a mutex and treats rand_a:rand_b as one 74-bit counter: when the
 * clock has not moved past the last ms it adds a random step in [1, 2^32] to the counter (RFC 9562
 * section 6.2, method 2 "monotonic random"); if the counter overflows the ms is bumped by one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "events/events.h"

#define RAND_A_MASK 0xFFFu              /* 12 bits */
#define RAND_B_MASK ((1ull << 62) - 1)  /* 62 bits */
#define UNIX_MS_MASK ((1ull << 48) - 1) /* 48 bits */

struct v7_state {
    uint64_t unix_ms;
    uint64_t rand_a;
    uint64_t rand_b;
};

static pthread_mutex_t v7_lock = PTHREAD_MUTEX_INITIALIZER;
static struct v7_state v7_last; /* guarded by v7_lock; all zero before the first id */

/* Fills buf from the kernel's random source. The kernel never fails this for a few bytes once
 * the pool is initialised; if it does (no getrandom syscall, seccomp), ids cannot be made safely:
 * the process stops with a message for the operator. */
static void random_fill(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            fprintf(stderr,
                    "ledgerd: getrandom failed (%s); the kernel random source is required\n",
                    strerror(errno));
            abort();
        }
        p += got;
        n -= (size_t)got;
    }
}

static uint64_t random_u64(void)
{
    uint64_t v;
    random_fill(&v, sizeof v);
    return v;
}

static uint64_t clock_unix_ms(void)
{
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    LEDGER_ASSERT(rc == 0);
    LEDGER_ASSERT(ts.tv_sec >= 0);
    return ((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u) & UNIX_MS_MASK;
}

/* The state following last at time now_ms: fresh random bits in a later millisecond, otherwise
 * last's counter plus a random step (carrying into the millisecond on overflow). */
static struct v7_state v7_next(const struct v7_state *last, uint64_t now_ms)
{
    struct v7_state next;
    if (now_ms > last->unix_ms) {
        uint64_t r = random_u64();
        next.unix_ms = now_ms;
        next.rand_a = r & RAND_A_MASK;
        next.rand_b = random_u64() & RAND_B_MASK;
        return next;
    }
    next = *last;
    next.rand_b += 1 + (random_u64() & 0xFFFFFFFFu);
    if (next.rand_b > RAND_B_MASK) {
        next.rand_b &= RAND_B_MASK;
        next.rand_a++;
    }
    if (next.rand_a > RAND_A_MASK) {
        next.unix_ms = last->unix_ms + 1; /* borrow the next millisecond */
        next.rand_a = 0;
        next.rand_b = random_u64() & (RAND_B_MASK >> 1); /* room to grow before the next carry */
    }
    LEDGER_ASSERT(next.unix_ms > last->unix_ms || next.rand_a > last->rand_a ||
                  (next.rand_a == last->rand_a && next.rand_b > last->rand_b));
    return next;
}

struct ledger_id ledger_id_new_v7(void)
{
    uint64_t now_ms = clock_unix_ms();

    pthread_mutex_lock(&v7_lock);
    struct v7_state s = v7_next(&v7_last, now_ms);
    v7_last = s;
    pthread_mutex_unlock(&v7_lock);

    struct ledger_id id;
    for (int i = 0; i < 6; i++)
        id.b[i] = (uint8_t)(s.unix_ms >> (40 - 8 * i));
    id.b[6] = (uint8_t)(0x70u | (s.rand_a >> 8));
    id.b[7] = (uint8_t)s.rand_a;
    id.b[8] = (uint8_t)(0x80u | (s.rand_b >> 56));
    for (int i = 9; i < 16; i++)
        id.b[i] = (uint8_t)(s.rand_b >> (8 * (15 - i)));
    LEDGER_ASSERT((id.b[6] >> 4) == 7 && (id.b[8] >> 6) == 2);
    return id;
}

struct ledger_id ledger_id_from_name(const char *name)
{
    static const char prefix[] = "ledger:";
    uint8_t hash[LEDGER_HASH_LEN];
    ledger_sha256_2(prefix, sizeof prefix - 1, name, strlen(name), hash);

    struct ledger_id id;
    _Static_assert(sizeof id.b <= sizeof hash, "an id is a truncated SHA-256");
    memcpy(id.b, hash, sizeof id.b);
    id.b[6] = (uint8_t)((id.b[6] & 0x0Fu) | 0x80u); /* version 8 */
    id.b[8] = (uint8_t)((id.b[8] & 0x3Fu) | 0x80u); /* variant 10 */
    return id;
}

static bool id_text_is_hyphen_position(size_t i)
{
    return i == 8 || i == 13 || i == 18 || i == 23;
}

void ledger_id_format(const struct ledger_id *id, char out[LEDGER_ID_TEXT_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    size_t pos = 0;
    for (size_t i = 0; i < sizeof id->b; i++) {
        if (id_text_is_hyphen_position(pos))
            out[pos++] = '-';
        out[pos++] = digits[id->b[i] >> 4];
        out[pos++] = digits[id->b[i] & 0x0F];
    }
    LEDGER_ASSERT(pos == LEDGER_ID_TEXT_LEN);
    out[pos] = '\0';
}

/* The value of one hex digit, or -1. */
static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool ledger_id_parse(const char *text, size_t len, struct ledger_id *out)
{
    if (text == NULL || len != LEDGER_ID_TEXT_LEN)
        return false;

    struct ledger_id id;
    size_t nibbles = 0;
    for (size_t pos = 0; pos < LEDGER_ID_TEXT_LEN; pos++) {
        if (id_text_is_hyphen_position(pos)) {
            if (text[pos] != '-')
                return false;
            continue;
        }
        int v = hex_value(text[pos]);
        if (v < 0)
            return false;
        if (nibbles % 2 == 0)
            id.b[nibbles / 2] = (uint8_t)(v << 4);
        else
            id.b[nibbles / 2] |= (uint8_t)v;
        nibbles++;
    }
    LEDGER_ASSERT(nibbles == 2 * sizeof id.b);
    *out = id;
    return true;
}

bool ledger_id_is_zero(const struct ledger_id *id)
{
    static const struct ledger_id zero;
    return memcmp(id->b, zero.b, sizeof id->b) == 0;
}

bool ledger_id_equal(const struct ledger_id *a, const struct ledger_id *b)
{
    return memcmp(a->b, b->b, sizeof a->b) == 0;
}
