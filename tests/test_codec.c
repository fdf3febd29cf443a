/*
 * test_codec.c: the event record codec (events/codec.c) and the SHA-256 hash chain.
 *
 * Round trips for every event type, the hash recomputed independently with OpenSSL EVP, byte flips,
 * truncations, hand-built malformed msgpack (msgpack-c's own packer), seeded random input, the
 * encoder's capacity contract, the JSON rendering (parsed back with jansson) and the type catalogue.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <jansson.h>
#include <msgpack.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"
#include "tests/codec_fixture.h"

#define SAMPLES 8
#define HASH_TAIL_LEN 39 /* a4 "hash" c4 20 <32 bytes> */
#define RANDOM_INPUTS 4000
#define RANDOM_LEN_MAX 300
#define MUTATED_INPUTS 4000
#define JSON_CAP LEDGER_EVENT_JSON_MAX /* the bound readers size their buffers with */

/* ---- helpers ------------------------------------------------------------------------------- */

static void fill(char *dst, size_t n, char c)
{
    memset(dst, c, n);
    dst[n] = '\0';
}

#define id_of fixture_id

static void envelope(struct event *ev, uint64_t seq, uint16_t type)
{
    fixture_envelope(ev, seq, type, "user:alice");
}

/* Sample i of SAMPLES: every type of LEDGER_EVENT_MAP, both transfer kinds, boundary values. */
static void sample_event(int i, struct event *ev)
{
    switch (i) {
    case 0: { /* account.opened, every field set, every string at its maximum length */
        envelope(ev, 1, EVENT_ACCOUNT_OPENED);
        fill(ev->actor, LEDGER_ACTOR_MAX, 'a');
        struct ev_account_opened *d = &ev->data.opened;
        d->account_id = id_of(10);
        d->kind = ACCOUNT_KIND_CUSTOMER;
        fill(d->holder_id, LEDGER_HOLDER_ID_MAX, 'h');
        memcpy(d->currency, "EUR", 4);
        fill(d->friendly_name, LEDGER_FRIENDLY_NAME_MAX, 'f');
        d->overdraft_limit_minor = INT64_MAX;
        fill(d->iban, LEDGER_IBAN_MAX, '7');
        memcpy(d->iban, "MT", 2);
        break;
    }
    case 1: { /* account.opened, internal, overdraft 0, empty optional strings */
        envelope(ev, 2, EVENT_ACCOUNT_OPENED);
        struct ev_account_opened *d = &ev->data.opened;
        d->account_id = id_of(11);
        d->kind = ACCOUNT_KIND_INTERNAL;
        snprintf(d->holder_id, sizeof d->holder_id, "bank");
        memcpy(d->currency, "JPY", 4);
        d->overdraft_limit_minor = 0;
        break;
    }
    case 2:
        envelope(ev, 3, EVENT_ACCOUNT_BLOCKED);
        ev->data.blocked.account_id = id_of(10);
        ev->data.blocked.reason = BLOCK_COMPLIANCE;
        break;
    case 3:
        envelope(ev, 4, EVENT_ACCOUNT_UNBLOCKED);
        ev->data.blocked.account_id = id_of(10);
        ev->data.blocked.reason = BLOCK_LOST;
        break;
    case 4:
        envelope(ev, 5, EVENT_ACCOUNT_CLOSED);
        ev->data.closed.account_id = id_of(11);
        break;
    case 5: { /* transfer.executed, kind transfer, reference at its maximum */
        envelope(ev, 6, EVENT_TRANSFER_EXECUTED);
        struct ev_transfer_executed *d = &ev->data.transfer;
        d->transfer_id = id_of(20);
        d->debit_account_id = id_of(10);
        d->credit_account_id = id_of(11);
        d->amount_minor = 1;
        memcpy(d->currency, "EUR", 4);
        d->kind = TRANSFER_KIND_TRANSFER;
        fill(d->reference, LEDGER_REFERENCE_MAX, 'r');
        break;
    }
    case 6: { /* transfer.executed, kind deposit, amount INT64_MAX */
        envelope(ev, 7, EVENT_TRANSFER_EXECUTED);
        struct ev_transfer_executed *d = &ev->data.transfer;
        d->transfer_id = id_of(21);
        d->debit_account_id = id_of(12);
        d->credit_account_id = id_of(10);
        d->amount_minor = INT64_MAX;
        memcpy(d->currency, "EUR", 4);
        d->kind = TRANSFER_KIND_DEPOSIT;
        break;
    }
    default: { /* envelope extremes: seq and stream_ver UINT64_MAX, ts_ns INT64_MIN, zero prev */
        envelope(ev, UINT64_MAX, EVENT_TRANSFER_EXECUTED);
        ev->ts_ns = INT64_MIN;
        ev->stream_ver = UINT64_MAX;
        memset(ev->prev_hash, 0, LEDGER_HASH_LEN);
        ev->actor[0] = '\0';
        struct ev_transfer_executed *d = &ev->data.transfer;
        d->transfer_id = id_of(22);
        d->debit_account_id = id_of(10);
        d->credit_account_id = id_of(12);
        d->amount_minor = 128;
        memcpy(d->currency, "KWD", 4);
        d->kind = TRANSFER_KIND_DEPOSIT;
        snprintf(d->reference, sizeof d->reference, "caf\xc3\xa9 \xe2\x82\xac");
        break;
    }
    }
}

static size_t encode_sample(int i, struct event *ev, uint8_t *buf, size_t cap)
{
    sample_event(i, ev);
    size_t len = event_encode(ev, buf, cap);
    cr_assert_gt(len, 0, "sample %d does not encode", i);
    cr_assert_leq(len, LEDGER_RECORD_BYTES_MAX, "sample %d: %zu bytes", i, len);
    return len;
}

static void assert_id_eq(const struct ledger_id *a, const struct ledger_id *b, int i, const char *what)
{
    cr_assert(ledger_id_equal(a, b), "sample %d: %s differs", i, what);
}

static void assert_events_equal(const struct event *a, const struct event *b, int i)
{
    cr_assert_eq(a->seq, b->seq, "sample %d: seq", i);
    cr_assert_eq(a->ts_ns, b->ts_ns, "sample %d: ts_ns", i);
    cr_assert_eq(a->type, b->type, "sample %d: type", i);
    cr_assert_eq(a->v, b->v, "sample %d: v", i);
    assert_id_eq(&a->stream, &b->stream, i, "stream");
    cr_assert_eq(a->stream_ver, b->stream_ver, "sample %d: stream_ver", i);
    assert_id_eq(&a->cmd_id, &b->cmd_id, i, "cmd_id");
    cr_assert_str_eq(a->actor, b->actor, "sample %d: actor", i);
    cr_assert_arr_eq(a->prev_hash, b->prev_hash, LEDGER_HASH_LEN, "sample %d: prev_hash", i);
    cr_assert_arr_eq(a->hash, b->hash, LEDGER_HASH_LEN, "sample %d: hash", i);
    switch (a->type) {
    case EVENT_ACCOUNT_OPENED: {
        const struct ev_account_opened *x = &a->data.opened, *y = &b->data.opened;
        assert_id_eq(&x->account_id, &y->account_id, i, "account_id");
        cr_assert_eq(x->kind, y->kind, "sample %d: kind", i);
        cr_assert_str_eq(x->holder_id, y->holder_id, "sample %d: holder_id", i);
        cr_assert_str_eq(x->currency, y->currency, "sample %d: currency", i);
        cr_assert_str_eq(x->friendly_name, y->friendly_name, "sample %d: friendly_name", i);
        cr_assert_eq(x->overdraft_limit_minor, y->overdraft_limit_minor, "sample %d: overdraft", i);
        cr_assert_str_eq(x->iban, y->iban, "sample %d: iban", i);
        break;
    }
    case EVENT_ACCOUNT_BLOCKED:
    case EVENT_ACCOUNT_UNBLOCKED:
        assert_id_eq(&a->data.blocked.account_id, &b->data.blocked.account_id, i, "account_id");
        cr_assert_eq(a->data.blocked.reason, b->data.blocked.reason, "sample %d: reason", i);
        break;
    case EVENT_ACCOUNT_CLOSED:
        assert_id_eq(&a->data.closed.account_id, &b->data.closed.account_id, i, "account_id");
        break;
    case EVENT_TRANSFER_EXECUTED: {
        const struct ev_transfer_executed *x = &a->data.transfer, *y = &b->data.transfer;
        assert_id_eq(&x->transfer_id, &y->transfer_id, i, "transfer_id");
        assert_id_eq(&x->debit_account_id, &y->debit_account_id, i, "debit_account_id");
        assert_id_eq(&x->credit_account_id, &y->credit_account_id, i, "credit_account_id");
        cr_assert_eq(x->amount_minor, y->amount_minor, "sample %d: amount", i);
        cr_assert_str_eq(x->currency, y->currency, "sample %d: currency", i);
        cr_assert_eq(x->kind, y->kind, "sample %d: kind", i);
        cr_assert_str_eq(x->reference, y->reference, "sample %d: reference", i);
        break;
    }
    default:
        cr_assert_fail("sample %d: unexpected type %u", i, a->type);
    }
}

/* Decodes a copy of exactly len bytes on the heap, so that ASan sees any read past the end. */
static enum ledger_err decode_exact(const uint8_t *buf, size_t len, struct event *out)
{
    uint8_t *copy = malloc(len ? len : 1);
    cr_assert_not_null(copy);
    if (len)
        memcpy(copy, buf, len);
    enum ledger_err rc = event_decode(copy, len, out);
    free(copy);
    return rc;
}

static void sha256_evp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len, uint8_t out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    cr_assert_not_null(ctx);
    cr_assert(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL));
    cr_assert(EVP_DigestUpdate(ctx, a, a_len));
    cr_assert(EVP_DigestUpdate(ctx, b, b_len));
    cr_assert(EVP_DigestFinal_ex(ctx, out, &n));
    cr_assert_eq(n, 32);
    EVP_MD_CTX_free(ctx);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* ---- round trips and the hash ---------------------------------------------------------------- */

Test(codec, round_trip_every_type)
{
    /* Proves every event type (and both transfer kinds, maximum strings, INT64_MAX amounts, extreme
     * envelope values) decodes to the same fields, re-encodes to the same bytes and chains. */
    for (int i = 0; i < SAMPLES; i++) {
        struct event ev, back;
        uint8_t buf[LEDGER_RECORD_BYTES_MAX], again[LEDGER_RECORD_BYTES_MAX];
        size_t len = encode_sample(i, &ev, buf, sizeof buf);
        cr_assert_eq(buf[0], 0x8b, "sample %d: map header", i);
        cr_assert_eq(decode_exact(buf, len, &back), LEDGER_ERR_OK, "sample %d does not decode", i);
        assert_events_equal(&ev, &back, i);
        size_t len2 = event_encode(&back, again, sizeof again);
        cr_assert_eq(len2, len, "sample %d: re-encoded length", i);
        cr_assert_arr_eq(again, buf, len, "sample %d: re-encoded bytes differ", i);
        cr_assert(event_hash_check(buf, len, ev.prev_hash), "sample %d: hash check", i);
        cr_assert(event_hash_check(buf, len, NULL), "sample %d: hash check without prev", i);
    }
}

Test(codec, round_trip_every_block_reason)
{
    /* Proves each of the four block reasons survives encode -> decode for blocked and unblocked. */
    static const uint8_t reasons[] = {BLOCK_USER, BLOCK_SYSTEM, BLOCK_COMPLIANCE, BLOCK_LOST};
    for (size_t r = 0; r < sizeof reasons; r++) {
        for (uint16_t type = EVENT_ACCOUNT_BLOCKED; type <= EVENT_ACCOUNT_UNBLOCKED; type++) {
            struct event ev, back;
            uint8_t buf[LEDGER_RECORD_BYTES_MAX];
            envelope(&ev, 9, type);
            ev.data.blocked.account_id = id_of(30);
            ev.data.blocked.reason = reasons[r];
            size_t len = event_encode(&ev, buf, sizeof buf);
            cr_assert_gt(len, 0);
            cr_assert_eq(event_decode(buf, len, &back), LEDGER_ERR_OK);
            cr_assert_eq(back.type, type);
            cr_assert_eq(back.data.blocked.reason, reasons[r]);
        }
    }
}

Test(codec, hash_is_sha256_of_prev_and_record_without_hash)
{
    /* Proves hash == SHA-256(prev_hash || record with 0x8b -> 0x8a and the last 39 bytes cut),
     * computed here with OpenSSL EVP, both in ev->hash and in the record's trailing bin 32. */
    for (int i = 0; i < SAMPLES; i++) {
        struct event ev;
        uint8_t buf[LEDGER_RECORD_BYTES_MAX], input[LEDGER_RECORD_BYTES_MAX], want[32];
        size_t len = encode_sample(i, &ev, buf, sizeof buf);
        static const uint8_t tail_key[7] = {0xa4, 'h', 'a', 's', 'h', 0xc4, 0x20};
        cr_assert_arr_eq(buf + len - HASH_TAIL_LEN, tail_key, sizeof tail_key, "sample %d: tail", i);
        memcpy(input, buf, len - HASH_TAIL_LEN);
        cr_assert_eq(input[0], 0x8b);
        input[0] = 0x8a;
        sha256_evp(ev.prev_hash, 32, input, len - HASH_TAIL_LEN, want);
        cr_assert_arr_eq(ev.hash, want, 32, "sample %d: ev->hash", i);
        cr_assert_arr_eq(buf + len - 32, want, 32, "sample %d: stored hash", i);
    }
}

Test(codec, chain_links_consecutive_events)
{
    /* Proves a chain of events built with prev = previous hash checks link by link, and a record
     * checked against any other prev_hash (zero, or a neighbour's) fails. */
    uint8_t recs[SAMPLES][LEDGER_RECORD_BYTES_MAX];
    size_t lens[SAMPLES];
    uint8_t prev[LEDGER_HASH_LEN] = {0};
    uint8_t prevs[SAMPLES][LEDGER_HASH_LEN];
    for (int i = 0; i < SAMPLES; i++) {
        struct event ev;
        sample_event(i, &ev);
        memcpy(ev.prev_hash, prev, LEDGER_HASH_LEN);
        memcpy(prevs[i], prev, LEDGER_HASH_LEN);
        lens[i] = event_encode(&ev, recs[i], sizeof recs[i]);
        cr_assert_gt(lens[i], 0);
        memcpy(prev, ev.hash, LEDGER_HASH_LEN);
    }
    for (int i = 0; i < SAMPLES; i++) {
        cr_assert(event_hash_check(recs[i], lens[i], prevs[i]), "link %d", i);
        uint8_t wrong[LEDGER_HASH_LEN];
        memcpy(wrong, prevs[i], LEDGER_HASH_LEN);
        wrong[LEDGER_HASH_LEN - 1] ^= 1;
        cr_assert_not(event_hash_check(recs[i], lens[i], wrong), "link %d with a wrong prev", i);
        if (i > 1)
            cr_assert_not(event_hash_check(recs[i], lens[i], prevs[i - 1]), "link %d with prev of %d", i,
                          i - 1);
    }
}

Test(codec, any_single_byte_flip_is_detected)
{
    /* Proves that changing any one byte of a record (every position, nine xor masks) never leaves
     * both event_decode and event_hash_check succeeding. */
    static const uint8_t masks[] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff};
    for (int i = 0; i < SAMPLES; i++) {
        struct event ev, back;
        uint8_t buf[LEDGER_RECORD_BYTES_MAX];
        size_t len = encode_sample(i, &ev, buf, sizeof buf);
        for (size_t pos = 0; pos < len; pos++) {
            for (size_t m = 0; m < sizeof masks; m++) {
                buf[pos] ^= masks[m];
                bool decoded = event_decode(buf, len, &back) == LEDGER_ERR_OK;
                bool hashed = event_hash_check(buf, len, NULL);
                cr_assert_not(decoded && hashed, "sample %d: byte %zu ^ 0x%02x undetected", i, pos, masks[m]);
                buf[pos] ^= masks[m];
            }
        }
        cr_assert(event_hash_check(buf, len, ev.prev_hash), "sample %d restored", i);
    }
}

Test(codec, hash_check_rejects_short_and_reshaped_input)
{
    /* Proves event_hash_check is false (and reads in bounds) for every truncation of a record and
     * for a record with one trailing byte. */
    struct event ev;
    uint8_t buf[LEDGER_RECORD_BYTES_MAX + 1];
    size_t len = encode_sample(5, &ev, buf, LEDGER_RECORD_BYTES_MAX);
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        cr_assert_not_null(copy);
        memcpy(copy, buf, n);
        cr_assert_not(event_hash_check(copy, n, NULL), "truncated to %zu", n);
        free(copy);
    }
    buf[len] = 0xc0;
    cr_assert_not(event_hash_check(buf, len + 1, NULL));
}

/* ---- decoder robustness ------------------------------------------------------------------------ */

Test(codec, every_truncation_is_decode_error)
{
    /* Proves each prefix of a valid record (length 0 .. len-1) is LEDGER_ERR_DECODE, for every
     * sample, with the prefix in an exact-size heap buffer (ASan catches over-reads). */
    for (int i = 0; i < SAMPLES; i++) {
        struct event ev, back;
        uint8_t buf[LEDGER_RECORD_BYTES_MAX];
        size_t len = encode_sample(i, &ev, buf, sizeof buf);
        for (size_t n = 0; n < len; n++)
            cr_assert_eq(decode_exact(buf, n, &back), LEDGER_ERR_DECODE, "sample %d cut to %zu", i, n);
    }
    struct event out;
    cr_assert_eq(event_decode(NULL, 0, &out), LEDGER_ERR_DECODE);
}

Test(codec, trailing_bytes_are_decode_error)
{
    /* Proves a valid record followed by one more byte (nil, 0x00, or a second record) is rejected. */
    struct event ev, back;
    uint8_t buf[2 * LEDGER_RECORD_BYTES_MAX];
    size_t len = encode_sample(2, &ev, buf, LEDGER_RECORD_BYTES_MAX);
    static const uint8_t extra[] = {0xc0, 0x00, 0x8b};
    for (size_t k = 0; k < sizeof extra; k++) {
        buf[len] = extra[k];
        cr_assert_eq(decode_exact(buf, len + 1, &back), LEDGER_ERR_DECODE, "trailing 0x%02x", extra[k]);
    }
    memcpy(buf + len, buf, len);
    cr_assert_eq(decode_exact(buf, 2 * len, &back), LEDGER_ERR_DECODE, "two records");
    cr_assert_eq(decode_exact(buf, len, &back), LEDGER_ERR_OK);
}

Test(codec, oversized_input_is_decode_error)
{
    /* Proves len > LEDGER_RECORD_BYTES_MAX is rejected even when a valid record starts the buffer,
     * and len == LEDGER_RECORD_BYTES_MAX of garbage is rejected too. */
    static uint8_t buf[LEDGER_RECORD_BYTES_MAX + 1];
    struct event ev, back;
    size_t len = encode_sample(0, &ev, buf, LEDGER_RECORD_BYTES_MAX);
    cr_assert_lt(len, sizeof buf);
    memset(buf + len, 0xc0, sizeof buf - len);
    cr_assert_eq(event_decode(buf, LEDGER_RECORD_BYTES_MAX + 1, &back), LEDGER_ERR_DECODE);
    cr_assert_eq(event_decode(buf, LEDGER_RECORD_BYTES_MAX, &back), LEDGER_ERR_DECODE);
    cr_assert_eq(event_decode(buf, SIZE_MAX, &back), LEDGER_ERR_DECODE);
}

Test(codec, huge_container_counts_are_decode_errors)
{
    /* Proves a few bytes that announce an array or map of 2^32-1 elements (alone, as the seq value,
     * or made by one bit flip of ts_ns from uint64 0xcf to map32 0xdf) are DECODE, and that the
     * decoder does not first try to allocate count * element-size bytes (tens of GiB): under ASan
     * such an allocation aborts the process, so this test crashes there if it does. */
    static const uint8_t array32[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t in_seq[] = {0x8b, 0xa3, 's', 'e', 'q', 0xdd, 0xff, 0xff, 0xff, 0xff};
    struct event back;
    cr_assert_eq(decode_exact(array32, sizeof array32, &back), LEDGER_ERR_DECODE);
    cr_assert_eq(decode_exact(map32, sizeof map32, &back), LEDGER_ERR_DECODE);
    cr_assert_eq(decode_exact(in_seq, sizeof in_seq, &back), LEDGER_ERR_DECODE);

    struct event ev;
    uint8_t buf[LEDGER_RECORD_BYTES_MAX];
    size_t len = encode_sample(5, &ev, buf, sizeof buf);
    static const uint8_t ts_key[] = {0xa5, 't', 's', '_', 'n', 's', 0xcf};
    uint8_t *at = memmem(buf, len, ts_key, sizeof ts_key);
    cr_assert_not_null(at);
    at[sizeof ts_key - 1] ^= 0x10; /* uint64 -> map32 of 0x17979cfe... entries */
    cr_assert_eq(decode_exact(buf, len, &back), LEDGER_ERR_DECODE);
}

/*
 * Hand-built records: the transfer of sample 5 written entry by entry with msgpack-c's packer,
 * with one mutation each. MUT_NONE must reproduce event_encode's bytes exactly.
 */
enum mutation {
    MUT_NONE,
    MUT_SEQ_STR,
    MUT_SEQ_NEG,
    MUT_SEQ_NIL,
    MUT_TS_FLOAT,
    MUT_TYPE_99,
    MUT_TYPE_ZERO,
    MUT_TYPE_BIG,
    MUT_TYPE_OTHER_LAYOUT,
    MUT_V2,
    MUT_V0,
    MUT_STREAM_15,
    MUT_STREAM_STR,
    MUT_ACTOR_LONG,
    MUT_ACTOR_NUL,
    MUT_ACTOR_BIN,
    MUT_MISSING_KEY,
    MUT_EXTRA_KEY,
    MUT_KEYS_SWAPPED,
    MUT_KEY_RENAMED,
    MUT_KEY_AS_BIN,
    MUT_DATA_ARRAY,
    MUT_AMOUNT_FLOAT,
    MUT_AMOUNT_STR,
    MUT_AMOUNT_HUGE,
    MUT_DEBIT_15,
    MUT_DEBIT_17,
    MUT_CURRENCY_LONG,
    MUT_KIND_UNKNOWN,
    MUT_KIND_NUL,
    MUT_REFERENCE_NUL,
    MUT_REFERENCE_LONG,
    MUT_DATA_MISSING_KEY,
    MUT_DATA_EXTRA_KEY,
    MUT_DATA_KEYS_SWAPPED,
    MUT_PREV_31,
    MUT_HASH_33,
    MUT_HASH_STR,
    MUT_ROOT_ARRAY,
};

static void pk_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pk_key(msgpack_packer *pk, const char *key)
{
    pk_str(pk, key, strlen(key));
}

static void pk_bin(msgpack_packer *pk, const void *p, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, p, n);
}

static void pk_id(msgpack_packer *pk, const struct ledger_id *id, size_t n)
{
    uint8_t raw[17] = {0};
    memcpy(raw, id->b, 16);
    pk_bin(pk, raw, n);
}

static void pack_transfer_data(msgpack_packer *pk, const struct ev_transfer_executed *d, enum mutation m)
{
    msgpack_pack_map(pk, m == MUT_DATA_MISSING_KEY ? 6 : m == MUT_DATA_EXTRA_KEY ? 8 : 7);
    if (m == MUT_DATA_KEYS_SWAPPED) {
        pk_key(pk, "debit_account_id");
        pk_id(pk, &d->debit_account_id, 16);
        pk_key(pk, "transfer_id");
        pk_id(pk, &d->transfer_id, 16);
    } else {
        pk_key(pk, "transfer_id");
        pk_id(pk, &d->transfer_id, 16);
        pk_key(pk, "debit_account_id");
        pk_id(pk, &d->debit_account_id, m == MUT_DEBIT_15 ? 15 : m == MUT_DEBIT_17 ? 17 : 16);
    }
    pk_key(pk, "credit_account_id");
    pk_id(pk, &d->credit_account_id, 16);
    pk_key(pk, "amount");
    if (m == MUT_AMOUNT_FLOAT)
        msgpack_pack_double(pk, (double)d->amount_minor);
    else if (m == MUT_AMOUNT_STR)
        pk_key(pk, "1");
    else if (m == MUT_AMOUNT_HUGE)
        msgpack_pack_uint64(pk, (uint64_t)INT64_MAX + 1);
    else
        msgpack_pack_int64(pk, d->amount_minor);
    pk_key(pk, "currency");
    pk_key(pk, m == MUT_CURRENCY_LONG ? "EURO" : d->currency);
    pk_key(pk, "kind");
    if (m == MUT_KIND_UNKNOWN)
        pk_key(pk, "wire");
    else if (m == MUT_KIND_NUL)
        pk_str(pk, "transfer\0x", 10);
    else
        pk_key(pk, "transfer");
    if (m == MUT_DATA_MISSING_KEY)
        return;
    pk_key(pk, "reference");
    if (m == MUT_REFERENCE_NUL) {
        pk_str(pk, "ab\0cd", 5);
    } else if (m == MUT_REFERENCE_LONG) {
        char longer[LEDGER_REFERENCE_MAX + 2];
        fill(longer, LEDGER_REFERENCE_MAX + 1, 'r');
        pk_key(pk, longer);
    } else {
        pk_key(pk, d->reference);
    }
    if (m == MUT_DATA_EXTRA_KEY) {
        pk_key(pk, "memo");
        pk_key(pk, "x");
    }
}

/* Packs the entries of the record up to and including prev_hash; returns how many it packed. */
static uint32_t pack_entries(msgpack_packer *pk, const struct event *ev, enum mutation m)
{
    uint32_t n = 10;
    if (m == MUT_KEYS_SWAPPED) {
        pk_key(pk, "ts_ns");
        msgpack_pack_int64(pk, ev->ts_ns);
        pk_key(pk, "seq");
        msgpack_pack_uint64(pk, ev->seq);
    } else {
        pk_key(pk, "seq");
        if (m == MUT_SEQ_STR)
            pk_key(pk, "6");
        else if (m == MUT_SEQ_NEG)
            msgpack_pack_int64(pk, -6);
        else if (m == MUT_SEQ_NIL)
            msgpack_pack_nil(pk);
        else
            msgpack_pack_uint64(pk, ev->seq);
        pk_key(pk, "ts_ns");
        if (m == MUT_TS_FLOAT)
            msgpack_pack_double(pk, 1.5);
        else
            msgpack_pack_int64(pk, ev->ts_ns);
    }
    pk_key(pk, m == MUT_KEY_RENAMED ? "kind" : "type");
    uint64_t type = m == MUT_TYPE_99 ? 99 : m == MUT_TYPE_ZERO ? 0 : m == MUT_TYPE_BIG ? 65536 + 5
                  : m == MUT_TYPE_OTHER_LAYOUT ? EVENT_ACCOUNT_BLOCKED : ev->type;
    msgpack_pack_uint64(pk, type);
    pk_key(pk, "v");
    msgpack_pack_uint64(pk, m == MUT_V2 ? 2 : m == MUT_V0 ? 0 : ev->v);
    if (m == MUT_KEY_AS_BIN)
        pk_bin(pk, "stream", 6);
    else
        pk_key(pk, "stream");
    if (m == MUT_STREAM_STR)
        pk_str(pk, (const char *)ev->stream.b, 16);
    else
        pk_id(pk, &ev->stream, m == MUT_STREAM_15 ? 15 : 16);
    pk_key(pk, "stream_ver");
    msgpack_pack_uint64(pk, ev->stream_ver);
    if (m == MUT_MISSING_KEY) {
        n--;
    } else {
        pk_key(pk, "cmd_id");
        pk_id(pk, &ev->cmd_id, 16);
    }
    pk_key(pk, "actor");
    if (m == MUT_ACTOR_LONG) {
        char longer[LEDGER_ACTOR_MAX + 2];
        fill(longer, LEDGER_ACTOR_MAX + 1, 'a');
        pk_key(pk, longer);
    } else if (m == MUT_ACTOR_NUL) {
        pk_str(pk, "us\0er", 5);
    } else if (m == MUT_ACTOR_BIN) {
        pk_bin(pk, ev->actor, strlen(ev->actor));
    } else {
        pk_key(pk, ev->actor);
    }
    if (m == MUT_EXTRA_KEY) {
        pk_key(pk, "extra");
        msgpack_pack_uint64(pk, 1);
        n++;
    }
    pk_key(pk, "data");
    if (m == MUT_DATA_ARRAY)
        msgpack_pack_array(pk, 0);
    else
        pack_transfer_data(pk, &ev->data.transfer, m);
    pk_key(pk, "prev_hash");
    pk_bin(pk, ev->prev_hash, m == MUT_PREV_31 ? 31 : 32);
    return n;
}

/* Builds the whole record into out (cap bytes) with a correct chain hash; returns its length. */
static size_t build_record(const struct event *ev, enum mutation m, uint8_t *out, size_t cap)
{
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    uint32_t n = pack_entries(&pk, ev, m);
    cr_assert_lt(n, 15);

    uint8_t header = (uint8_t)(0x80 | n), hash[32];
    uint8_t *input = malloc(body.size + 1);
    cr_assert_not_null(input);
    input[0] = header;
    memcpy(input + 1, body.data, body.size);
    sha256_evp(ev->prev_hash, 32, input, body.size + 1, hash);
    free(input);

    msgpack_sbuffer whole;
    msgpack_sbuffer_init(&whole);
    msgpack_packer_init(&pk, &whole, msgpack_sbuffer_write);
    if (m == MUT_ROOT_ARRAY)
        msgpack_pack_array(&pk, n + 1);
    else
        msgpack_pack_map(&pk, n + 1);
    msgpack_sbuffer_write(&whole, body.data, body.size);
    pk_key(&pk, "hash");
    if (m == MUT_HASH_STR)
        pk_str(&pk, (const char *)hash, 32);
    else if (m == MUT_HASH_33)
        pk_bin(&pk, (const uint8_t[33]){0}, 33);
    else
        pk_bin(&pk, hash, 32);
    cr_assert_leq(whole.size, cap);
    memcpy(out, whole.data, whole.size);
    size_t len = whole.size;
    msgpack_sbuffer_destroy(&whole);
    msgpack_sbuffer_destroy(&body);
    return len;
}

Test(codec, hand_built_record_matches_encoder)
{
    /* Proves the format is what codec.c documents: a record packed entry by entry with msgpack-c
     * (hash over prev || 0x8a map) is byte-identical to event_encode's, decodes and chains. */
    struct event ev, back;
    uint8_t mine[LEDGER_RECORD_BYTES_MAX * 2], theirs[LEDGER_RECORD_BYTES_MAX];
    size_t len = encode_sample(5, &ev, theirs, sizeof theirs);
    size_t mlen = build_record(&ev, MUT_NONE, mine, sizeof mine);
    cr_assert_eq(mlen, len);
    cr_assert_arr_eq(mine, theirs, len);
    cr_assert_eq(decode_exact(mine, mlen, &back), LEDGER_ERR_OK);
    cr_assert(event_hash_check(mine, mlen, ev.prev_hash));
}

struct mutation_case {
    enum mutation m;
    char name[32];
};

ParameterizedTestParameters(codec, malformed_record_rejected)
{
    static struct mutation_case cases[] = {
        {MUT_SEQ_STR, "seq as a string"},
        {MUT_SEQ_NEG, "seq negative"},
        {MUT_SEQ_NIL, "seq nil"},
        {MUT_TS_FLOAT, "ts_ns as a float"},
        {MUT_TYPE_99, "unknown type 99"},
        {MUT_TYPE_ZERO, "type 0"},
        {MUT_TYPE_BIG, "type above uint16"},
        {MUT_TYPE_OTHER_LAYOUT, "type blocked, transfer data"},
        {MUT_V2, "v = 2"},
        {MUT_V0, "v = 0"},
        {MUT_STREAM_15, "stream as a 15-byte bin"},
        {MUT_STREAM_STR, "stream as a string"},
        {MUT_ACTOR_LONG, "actor one byte too long"},
        {MUT_ACTOR_NUL, "actor with embedded NUL"},
        {MUT_ACTOR_BIN, "actor as a bin"},
        {MUT_MISSING_KEY, "cmd_id missing"},
        {MUT_EXTRA_KEY, "extra envelope key"},
        {MUT_KEYS_SWAPPED, "seq and ts_ns swapped"},
        {MUT_KEY_RENAMED, "type key renamed"},
        {MUT_KEY_AS_BIN, "key packed as bin"},
        {MUT_DATA_ARRAY, "data as an array"},
        {MUT_AMOUNT_FLOAT, "amount as a float"},
        {MUT_AMOUNT_STR, "amount as a string"},
        {MUT_AMOUNT_HUGE, "amount 2^63"},
        {MUT_DEBIT_15, "account id as 15-byte bin"},
        {MUT_DEBIT_17, "account id as 17-byte bin"},
        {MUT_CURRENCY_LONG, "currency of 4 letters"},
        {MUT_KIND_UNKNOWN, "transfer kind unknown"},
        {MUT_KIND_NUL, "transfer kind with NUL"},
        {MUT_REFERENCE_NUL, "reference with embedded NUL"},
        {MUT_REFERENCE_LONG, "reference one byte too long"},
        {MUT_DATA_MISSING_KEY, "data key missing"},
        {MUT_DATA_EXTRA_KEY, "data extra key"},
        {MUT_DATA_KEYS_SWAPPED, "data keys out of order"},
        {MUT_PREV_31, "prev_hash of 31 bytes"},
        {MUT_HASH_33, "hash of 33 bytes"},
        {MUT_HASH_STR, "hash as a string"},
        {MUT_ROOT_ARRAY, "root is an array"},
    };
    return cr_make_param_array(struct mutation_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct mutation_case *c, codec, malformed_record_rejected)
{
    /* Proves each hand-built malformed record (wrong type, size, key set, key order, version,
     * embedded NUL...) is LEDGER_ERR_DECODE, where the unmutated record decodes. */
    struct event ev, back;
    uint8_t buf[LEDGER_RECORD_BYTES_MAX * 2];
    sample_event(5, &ev);
    size_t ok_len = build_record(&ev, MUT_NONE, buf, sizeof buf);
    cr_assert_eq(decode_exact(buf, ok_len, &back), LEDGER_ERR_OK);
    size_t len = build_record(&ev, c->m, buf, sizeof buf);
    cr_assert_eq(decode_exact(buf, len, &back), LEDGER_ERR_DECODE, "%s: accepted", c->name);
}

Test(codec, bad_enum_strings_rejected)
{
    /* Proves unknown account kind and block reason names in data are rejected (lower-case "user"
     * included: names are exact). */
    static const struct {
        uint16_t type;
        const char *from, *to;
    } cases[] = {
        {EVENT_ACCOUNT_OPENED, "customer", "company!"},
        {EVENT_ACCOUNT_OPENED, "customer", "Customer"},
        {EVENT_ACCOUNT_BLOCKED, "COMPLIANCE", "COMPLIANCX"},
        {EVENT_ACCOUNT_BLOCKED, "COMPLIANCE", "compliance"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct event ev, back;
        uint8_t buf[LEDGER_RECORD_BYTES_MAX];
        size_t len = encode_sample(cases[k].type == EVENT_ACCOUNT_OPENED ? 0 : 2, &ev, buf, sizeof buf);
        size_t n = strlen(cases[k].from);
        cr_assert_eq(strlen(cases[k].to), n);
        uint8_t *at = memmem(buf, len, cases[k].from, n);
        cr_assert_not_null(at, "case %zu", k);
        memcpy(at, cases[k].to, n);
        cr_assert_eq(event_decode(buf, len, &back), LEDGER_ERR_DECODE, "case %zu: %s", k, cases[k].to);
    }
}

Test(codec, random_bytes_never_crash)
{
    /* Proves 4000 seeded random byte strings and 4000 randomly corrupted valid records decode to
     * OK or DECODE only, never crash (ASan build), and what decodes also renders as JSON. */
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    uint8_t buf[RANDOM_LEN_MAX];
    char json[JSON_CAP];
    struct event back;
    for (int k = 0; k < RANDOM_INPUTS; k++) {
        size_t len = rng_next(&seed) % RANDOM_LEN_MAX;
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rng_next(&seed);
        if (len > 0 && k % 2 == 0)
            buf[0] = 0x8b; /* half of them look like a record map */
        enum ledger_err rc = decode_exact(buf, len, &back);
        cr_assert(rc == LEDGER_ERR_OK || rc == LEDGER_ERR_DECODE);
        (void)event_hash_check(buf, len, NULL);
    }
    int decoded = 0;
    for (int k = 0; k < MUTATED_INPUTS; k++) {
        struct event ev;
        uint8_t rec[LEDGER_RECORD_BYTES_MAX];
        size_t len = encode_sample(k % SAMPLES, &ev, rec, sizeof rec);
        int changes = 1 + (int)(rng_next(&seed) % 4);
        for (int c = 0; c < changes; c++)
            rec[rng_next(&seed) % len] = (uint8_t)rng_next(&seed);
        enum ledger_err rc = decode_exact(rec, len, &back);
        cr_assert(rc == LEDGER_ERR_OK || rc == LEDGER_ERR_DECODE);
        if (rc == LEDGER_ERR_OK) {
            decoded++;
            (void)event_to_json(&back, json, sizeof json);
        }
    }
    cr_assert_gt(decoded, 0, "no corrupted record decoded: the corruption loop tests nothing");
}

/* ---- encoder capacity and validity ------------------------------------------------------------- */

Test(codec, encode_returns_zero_when_cap_too_small)
{
    /* Proves event_encode returns 0 for every cap below the record length (0 included) without
     * writing past cap (exact-size heap buffer), and succeeds at exactly the record length. */
    for (int i = 0; i < SAMPLES; i++) {
        struct event ev;
        uint8_t full[LEDGER_RECORD_BYTES_MAX];
        size_t len = encode_sample(i, &ev, full, sizeof full);
        for (size_t cap = 0; cap < len; cap++) {
            uint8_t *out = malloc(cap ? cap : 1);
            cr_assert_not_null(out);
            cr_assert_eq(event_encode(&ev, out, cap), 0, "sample %d: cap %zu", i, cap);
            free(out);
        }
        uint8_t *exact = malloc(len);
        cr_assert_not_null(exact);
        cr_assert_eq(event_encode(&ev, exact, len), len);
        cr_assert_arr_eq(exact, full, len);
        free(exact);
    }
}

Test(codec, encode_rejects_unknown_type)
{
    /* Proves event_encode returns 0 for types 0, 19 (one past the last card event), 99 and 65535
     * (not in LEDGER_EVENT_MAP). */
    static const uint16_t types[] = {0, EVENT_CARD_REFUNDED + 1, 99, UINT16_MAX};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        struct event ev;
        uint8_t buf[LEDGER_RECORD_BYTES_MAX];
        sample_event(4, &ev);
        ev.type = types[k];
        cr_assert_eq(event_encode(&ev, buf, sizeof buf), 0, "type %u", types[k]);
    }
}

Test(codec, encode_rejects_over_long_string)
{
    /* Proves event_encode returns 0, as events.h promises, for an over-long string: holder_id filled
     * to its last byte without a terminating NUL (it then runs into currency). */
    struct event ev, back;
    uint8_t buf[LEDGER_RECORD_BYTES_MAX];
    sample_event(1, &ev);
    memset(ev.data.opened.holder_id, 'h', sizeof ev.data.opened.holder_id);
    size_t len = event_encode(&ev, buf, sizeof buf);
    cr_expect(len == 0 || event_decode(buf, len, &back) == LEDGER_ERR_OK,
              "the encoder wrote a %zu-byte record that its own decoder rejects", len);
    cr_assert_eq(len, 0, "an over-long holder_id was encoded instead of refused");
}

Test(codec, encode_rejects_unknown_enum_values)
{
    /* Proves event_encode returns 0 for an invalid account kind, block reason or transfer kind
     * instead of writing a record ("unknown"/"UNKNOWN") that event_decode rejects. */
    for (int k = 0; k < 3; k++) {
        struct event ev;
        uint8_t buf[LEDGER_RECORD_BYTES_MAX];
        sample_event(k == 0 ? 1 : k == 1 ? 2 : 5, &ev);
        if (k == 0)
            ev.data.opened.kind = 0;
        else if (k == 1)
            ev.data.blocked.reason = BLOCK_USER | BLOCK_LOST;
        else
            ev.data.transfer.kind = 7;
        cr_expect_eq(event_encode(&ev, buf, sizeof buf), 0, "invalid enum %d encoded", k);
    }
}

Test(codec, encode_rejects_what_the_decoder_refuses)
{
    /* Proves the encoder and the decoder apply the same value rules: a negative overdraft limit and
     * a transfer amount of 0 or below are refused by event_encode (0) instead of being written as a
     * record that replay could not read; the limits next to them (overdraft 0, amount 1) encode and
     * decode back. */
    struct {
        int sample;
        int64_t value;
        bool ok;
    } cases[] = {{1, -1, false}, {1, INT64_MIN, false}, {1, 0, true},
                 {5, 0, false},  {5, -1, false},        {5, 1, true}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct event ev, back;
        uint8_t buf[LEDGER_RECORD_BYTES_MAX];
        sample_event(cases[k].sample, &ev);
        if (cases[k].sample == 1)
            ev.data.opened.overdraft_limit_minor = cases[k].value;
        else
            ev.data.transfer.amount_minor = cases[k].value;
        size_t len = event_encode(&ev, buf, sizeof buf);
        if (!cases[k].ok) {
            cr_assert_eq(len, 0, "case %zu: value %lld encoded", k, (long long)cases[k].value);
            continue;
        }
        cr_assert_gt(len, 0, "case %zu", k);
        cr_assert_eq(event_decode(buf, len, &back), LEDGER_ERR_OK, "case %zu", k);
    }
}

/* ---- JSON ------------------------------------------------------------------------------------- */

static json_t *render(const struct event *ev, size_t *len_out)
{
    static char out[JSON_CAP];
    size_t len = event_to_json(ev, out, sizeof out);
    cr_assert_gt(len, 0);
    cr_assert_eq(strlen(out), len);
    for (size_t i = 0; i < len; i++)
        cr_assert_geq((unsigned char)out[i], 0x20, "raw control byte at %zu in %s", i, out);
    json_error_t jerr;
    json_t *root = json_loads(out, 0, &jerr);
    cr_assert_not_null(root, "invalid JSON (%s) at %d: %s", jerr.text, jerr.position, out);
    cr_assert(json_is_object(root));
    if (len_out != NULL)
        *len_out = len;
    return root;
}

static const char *json_str_at(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    cr_assert(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

Test(codec, json_renders_every_type)
{
    /* Proves event_to_json is valid JSON for every sample with the right seq, type, type_id, ids,
     * amounts, kinds, hashes, and that it returns 0 for every cap too small. */
    for (int i = 0; i < SAMPLES - 1; i++) { /* sample 7's seq is UINT64_MAX: beyond jansson's ints */
        struct event ev;
        uint8_t buf[LEDGER_RECORD_BYTES_MAX];
        encode_sample(i, &ev, buf, sizeof buf);
        size_t len = 0;
        json_t *root = render(&ev, &len);
        cr_assert_eq(json_integer_value(json_object_get(root, "seq")), (json_int_t)ev.seq);
        cr_assert_eq(json_integer_value(json_object_get(root, "ts_ns")), ev.ts_ns);
        cr_assert_eq(json_integer_value(json_object_get(root, "type_id")), ev.type);
        cr_assert_str_eq(json_str_at(root, "type"), event_type_name(ev.type));
        cr_assert_str_eq(json_str_at(root, "actor"), ev.actor);
        char hex[2 * LEDGER_HASH_LEN + 1], text[LEDGER_ID_TEXT_LEN + 1];
        ledger_hex(ev.hash, LEDGER_HASH_LEN, hex);
        cr_assert_str_eq(json_str_at(root, "hash"), hex);
        ledger_hex(ev.prev_hash, LEDGER_HASH_LEN, hex);
        cr_assert_str_eq(json_str_at(root, "prev_hash"), hex);
        ledger_id_format(&ev.stream, text);
        cr_assert_str_eq(json_str_at(root, "stream"), text);
        json_t *data = json_object_get(root, "data");
        cr_assert(json_is_object(data));
        if (ev.type == EVENT_TRANSFER_EXECUTED) {
            cr_assert_eq(json_integer_value(json_object_get(data, "amount")), ev.data.transfer.amount_minor);
            cr_assert_str_eq(json_str_at(data, "kind"), transfer_kind_name(ev.data.transfer.kind));
            cr_assert_str_eq(json_str_at(data, "reference"), ev.data.transfer.reference);
            ledger_id_format(&ev.data.transfer.debit_account_id, text);
            cr_assert_str_eq(json_str_at(data, "debit_account_id"), text);
        } else if (ev.type == EVENT_ACCOUNT_OPENED) {
            cr_assert_eq(json_integer_value(json_object_get(data, "overdraft_limit")),
                         ev.data.opened.overdraft_limit_minor);
            cr_assert_str_eq(json_str_at(data, "holder_id"), ev.data.opened.holder_id);
            cr_assert_str_eq(json_str_at(data, "iban"), ev.data.opened.iban);
            ledger_id_format(&ev.data.opened.account_id, text);
            cr_assert_str_eq(json_str_at(data, "account_id"), text);
        } else if (ev.type == EVENT_ACCOUNT_CLOSED) {
            cr_assert_eq(json_object_size(data), 1);
        } else {
            cr_assert_str_eq(json_str_at(data, "reason"), block_reason_name(ev.data.blocked.reason));
        }
        json_decref(root);
        char *small = malloc(len + 1);
        cr_assert_not_null(small);
        for (size_t cap = 0; cap <= len; cap++)
            cr_assert_eq(event_to_json(&ev, small, cap), 0, "sample %d: cap %zu", i, cap);
        cr_assert_eq(event_to_json(&ev, small, len + 1), len);
        free(small);
    }
}

Test(codec, json_escapes_quotes_and_control_characters)
{
    /* Proves quotes, backslashes and every control character 0x01..0x1f in actor and reference are
     * escaped: the output has no raw control byte and parses back to the exact strings. */
    struct event ev;
    uint8_t buf[LEDGER_RECORD_BYTES_MAX];
    sample_event(5, &ev);
    snprintf(ev.actor, sizeof ev.actor, "a\"b\\c/d\n\t\r\b\f\x01\x1f\x7f end");
    char *r = ev.data.transfer.reference;
    size_t n = 0;
    for (int c = 1; c < 0x20; c++)
        r[n++] = (char)c;
    memcpy(r + n, "\"q\" \\", 6);
    cr_assert_gt(event_encode(&ev, buf, sizeof buf), 0);
    json_t *root = render(&ev, NULL);
    cr_assert_str_eq(json_str_at(root, "actor"), ev.actor);
    cr_assert_str_eq(json_str_at(json_object_get(root, "data"), "reference"), ev.data.transfer.reference);
    json_decref(root);
}

/* ---- catalogue ------------------------------------------------------------------------------- */

Test(codec, type_names_cover_the_map)
{
    /* Proves every type of LEDGER_EVENT_MAP (ids 1-24) has its category, verb and "category.verb"
     * name, ids are 1..24 without a gap, and values outside the map (0, 25, 99, 65535) have none. */
    static const struct {
        uint16_t type;
        const char *cat, *verb;
    } rows[] = {
#define ROW(name, num, cat, verb) {num, cat, verb},
        LEDGER_EVENT_MAP(ROW)
#undef ROW
    };
    cr_assert_eq(sizeof rows / sizeof rows[0], 24);
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        char want[64];
        cr_assert_eq(rows[k].type, k + 1, "row %zu has id %u", k, rows[k].type);
        snprintf(want, sizeof want, "%s.%s", rows[k].cat, rows[k].verb);
        cr_assert_str_eq(event_type_category(rows[k].type), rows[k].cat);
        cr_assert_str_eq(event_type_verb(rows[k].type), rows[k].verb);
        cr_assert_str_eq(event_type_name(rows[k].type), want);
    }
    cr_assert_str_eq(event_type_name(EVENT_ACCOUNT_OPENED), "account.opened");
    cr_assert_str_eq(event_type_name(EVENT_TRANSFER_EXECUTED), "transfer.executed");
    cr_assert_str_eq(event_type_name(EVENT_CARD_ISSUED), "card.issued");
    cr_assert_str_eq(event_type_name(EVENT_CARD_LIMITS_CHANGED), "card.limits_changed");
    cr_assert_str_eq(event_type_name(EVENT_CARD_HOLD_EXPIRED), "card.hold_expired");
    cr_assert_str_eq(event_type_name(EVENT_CARD_REFUNDED), "card.refunded");
    cr_assert_str_eq(event_type_name(EVENT_HOLDER_IDENTIFICATION_CHANGED), "holder.identification_changed");
    static const uint16_t unknown[] = {0, 25, 99, UINT16_MAX};
    for (size_t k = 0; k < sizeof unknown / sizeof unknown[0]; k++) {
        cr_assert_null(event_type_category(unknown[k]), "type %u", unknown[k]);
        cr_assert_null(event_type_verb(unknown[k]), "type %u", unknown[k]);
        cr_assert_null(event_type_name(unknown[k]), "type %u", unknown[k]);
    }
}

Test(codec, touches_account)
{
    /* Proves event_touches_account names the account of account events and both sides of a
     * transfer, and nothing else. */
    struct event ev;
    struct ledger_id other = id_of(99);
    sample_event(0, &ev);
    cr_assert(event_touches_account(&ev, &ev.data.opened.account_id));
    cr_assert_not(event_touches_account(&ev, &other));
    sample_event(2, &ev);
    cr_assert(event_touches_account(&ev, &ev.data.blocked.account_id));
    sample_event(4, &ev);
    cr_assert(event_touches_account(&ev, &ev.data.closed.account_id));
    cr_assert_not(event_touches_account(&ev, &other));
    sample_event(5, &ev);
    cr_assert(event_touches_account(&ev, &ev.data.transfer.debit_account_id));
    cr_assert(event_touches_account(&ev, &ev.data.transfer.credit_account_id));
    cr_assert_not(event_touches_account(&ev, &ev.data.transfer.transfer_id));
}

/* statement.period_closed round-trips field by field, re-encodes to identical bytes, verifies its
 * hash, renders valid JSON; a negative last_seq is refused by the decoder; an empty period or
 * start >= end is refused by the encoder. */
Test(codec, period_closed_round_trip)
{
    struct event ev, back;
    memset(&ev, 0, sizeof ev);
    ev.seq = 42;
    ev.ts_ns = 1795996800000000000;
    ev.type = EVENT_STATEMENT_PERIOD_CLOSED;
    ev.v = 1;
    ev.stream = ledger_id_from_name("period:monthly:2026-11");
    ev.stream_ver = 1;
    memcpy(ev.actor, "scheduler", 10);
    struct ev_period_closed *d = &ev.data.period_closed;
    memcpy(d->period, "2026-11", 8);
    memcpy(d->kind, "monthly", 8);
    memcpy(d->time_zone, "Europe/Paris", 13);
    d->start_ns = 1793487600000000000;
    d->end_ns = 1795993200000000000;
    d->last_seq = 41;
    uint8_t buf[LEDGER_RECORD_BYTES_MAX], again[LEDGER_RECORD_BYTES_MAX];
    size_t n = event_encode(&ev, buf, sizeof buf);
    cr_assert_gt(n, 0);
    cr_assert_eq(event_decode(buf, n, &back), LEDGER_ERR_OK);
    cr_expect_str_eq(back.data.period_closed.period, "2026-11");
    cr_expect_str_eq(back.data.period_closed.kind, "monthly");
    cr_expect_str_eq(back.data.period_closed.time_zone, "Europe/Paris");
    cr_expect_eq(back.data.period_closed.start_ns, d->start_ns);
    cr_expect_eq(back.data.period_closed.end_ns, d->end_ns);
    cr_expect_eq(back.data.period_closed.last_seq, 41);
    cr_expect(event_hash_check(buf, n, ev.prev_hash));
    cr_assert_eq(event_encode(&back, again, sizeof again), n);
    cr_expect_eq(memcmp(buf, again, n), 0);
    char json[2048];
    cr_assert_gt(event_to_json(&back, json, sizeof json), 0);
    json_t *doc = json_loads(json, 0, NULL);
    cr_assert_not_null(doc, "%s", json);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(doc, "data"), "period")), "2026-11");
    json_decref(doc);
    static const char last_seq_41[] = "\xa8last_seq\x29";
    uint8_t *at = memmem(buf, n, last_seq_41, sizeof last_seq_41 - 1);
    cr_assert_not_null(at);
    at[sizeof last_seq_41 - 2] = 0xff; /* -1, which the encoder of a uint64_t never writes */
    cr_expect_eq(event_decode(buf, n, &back), LEDGER_ERR_DECODE, "a negative last_seq is refused");
    d->end_ns = d->start_ns;
    cr_expect_eq(event_encode(&ev, buf, sizeof buf), 0, "start >= end is refused");
}
