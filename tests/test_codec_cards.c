/*
 * test_codec_cards.c: the card events' data maps (events/codec_cards.c, ids 6-18).
 *
 * Samples of every card event type with every field set (strings at their maximum, lists full,
 * booleans both ways) round-trip, re-encode to the same bytes and chain. Records hand-edited as
 * msgpack trees (msgpack-c's unpacker and packer, hash recomputed with OpenSSL EVP) probe every
 * rejection: missing, extra, reordered and renamed keys, wrong types, over-long strings and lists,
 * unknown enum names, bad expiry / last four / response code, out-of-range amounts; with the
 * boundary values that must still be accepted. The encoder refuses the same values. JSON output
 * is parsed back with jansson.
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

#define HASH_TAIL_LEN 39     /* a4 "hash" c4 20 <32 bytes> */
#define CALLER_JSON_CAP 4096 /* what api/routes.c, tools/verify.c and the fuzz target pass */
#define CORRUPTED_INPUTS 3000

enum sample {
    S_ISSUED_FULL,
    S_ISSUED_MIN,
    S_ACTIVATED,
    S_BLOCKED,
    S_UNBLOCKED,
    S_LIMITS,
    S_REPLACED,
    S_DESTROYED,
    S_AUTHORIZED,
    S_DECLINED,
    S_CAPTURED,
    S_REVERSED,
    S_HOLD_EXPIRED,
    S_REFUNDED,
    CARD_SAMPLES,
};

/* ---- helpers ------------------------------------------------------------------------------- */

static const char countries_a[LEDGER_CARD_LIST_MAX][3] = {"FR", "DE", "ES", "IT", "NL", "BE", "LU", "PT",
                                                          "IE", "AT", "FI", "GR", "SK", "SI", "EE", "LV"};
static const char countries_b[LEDGER_CARD_LIST_MAX][3] = {"US", "GB", "CH", "NO", "SE", "DK", "PL", "CZ",
                                                          "HU", "RO", "BG", "HR", "CY", "MT", "LT", "IS"};

/* n bytes of c then a NUL; when n >= 2 the first two bytes are U+00E9 (UTF-8 passes through). */
static void fill(char *dst, size_t n, char c)
{
    memset(dst, c, n);
    dst[n] = '\0';
    if (n >= 2)
        memcpy(dst, "\xc3\xa9", 2);
}

/* n control characters 0x01..0x1f (each becomes 6 bytes of JSON) then a NUL. */
static void fill_control(char *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)(1 + i % 31);
    dst[n] = '\0';
}

#define id_of fixture_id

static void envelope(struct event *ev, uint64_t seq, uint16_t type)
{
    fixture_envelope(ev, seq, type, "api:public");
}

/* Every list full, extreme amounts and counts; flip swaps the booleans and the lists. */
static void full_limits(struct card_limits *l, bool flip)
{
    l->per_auth_max = INT64_MAX;
    l->day_amount = 1;
    l->week_amount = 0;
    l->month_amount = 123456789012;
    l->day_count = UINT32_MAX;
    l->week_count = 0;
    l->month_count = 1;
    l->atm_day_amount = INT64_MAX - 1;
    l->atm_month_amount = 0;
    l->allowed_mcc_n = l->blocked_mcc_n = LEDGER_CARD_LIST_MAX;
    l->allowed_country_n = l->blocked_country_n = LEDGER_CARD_LIST_MAX;
    for (int i = 0; i < LEDGER_CARD_LIST_MAX; i++) {
        uint16_t a = (uint16_t)(i == 0 ? 0 : i == LEDGER_CARD_LIST_MAX - 1 ? 9999 : 5411 + i * 7);
        uint16_t b = (uint16_t)(7995 - i * 3);
        l->allowed_mcc[i] = flip ? b : a;
        l->blocked_mcc[i] = flip ? a : b;
        memcpy(l->allowed_country[i], flip ? countries_b[i] : countries_a[i], 3);
        memcpy(l->blocked_country[i], flip ? countries_a[i] : countries_b[i], 3);
    }
    l->ecom = !flip;
    l->contactless = flip;
    l->atm = !flip;
}

static void full_merchant(struct merchant *m)
{
    fill(m->name, LEDGER_MERCHANT_NAME_MAX, 'm');
    m->mcc = 9999;
    memcpy(m->country, "FR", 3);
    fill(m->id, LEDGER_MERCHANT_ID_MAX, 'i');
}

static void sample_issued(struct event *ev, bool full)
{
    struct ev_card_issued *d = &ev->data.card_issued;
    d->card_id = id_of(40);
    d->account_id = id_of(10);
    if (full) {
        fill(ev->actor, LEDGER_ACTOR_MAX, 'a');
        ev->seq = UINT64_MAX;
        ev->ts_ns = INT64_MIN;
        ev->stream_ver = UINT64_MAX;
        d->type = CARD_TYPE_PHYSICAL;
        fill(d->brand, LEDGER_CARD_BRAND_MAX, 'b');
        memcpy(d->last_four, "0987", 5);
        fill(d->token, LEDGER_CARD_TOKEN_MAX, 't');
        memcpy(d->expiry, "1299", 5);
        fill(d->name_on_card, LEDGER_NAME_ON_CARD_MAX, 'N');
        d->replaces = id_of(41);
        full_limits(&d->limits, false);
    } else { /* a new virtual card: empty strings, empty lists, zero replaces, booleans flipped */
        d->type = CARD_TYPE_VIRTUAL;
        memcpy(d->last_four, "0000", 5);
        memcpy(d->expiry, "0100", 5);
        d->limits.ecom = false;
        d->limits.contactless = true;
        d->limits.atm = false;
    }
}

static void sample_decision(struct event *ev, bool approved)
{
    struct ev_card_decision *d = &ev->data.card_decision;
    d->hold_id = id_of(50);
    fill(d->authorization_id, LEDGER_AUTH_ID_MAX, 'x');
    d->card_id = id_of(40);
    memcpy(d->currency, "EUR", 4);
    if (approved) {
        fill(d->original_authorization_id, LEDGER_AUTH_ID_MAX, 'o');
        d->account_id = id_of(10);
        d->amount_requested = INT64_MAX;
        d->amount_approved = INT64_MAX - 1;
        full_merchant(&d->merchant);
        d->channel = CHANNEL_CONTACTLESS;
        d->category = AUTH_PRE;
        memcpy(d->response_code, "10", 3);
        memcpy(d->approval_code, "A1B2C3", 7);
        d->available_after = INT64_MIN;
        d->expires_at_ns = INT64_MAX;
        d->stand_in = true;
    } else { /* a decline for an unknown card: zero account, empty merchant strings */
        d->amount_requested = 1;
        d->amount_approved = 0;
        d->merchant.mcc = 0;
        d->channel = CHANNEL_POS;
        d->category = AUTH_FINAL;
        memcpy(d->response_code, "51", 3);
        d->available_after = -1;
        d->expires_at_ns = 0;
        d->stand_in = false;
    }
}

static void sample_hold(struct event *ev, int64_t amount, int64_t released, bool final, bool with_op)
{
    fixture_hold_change(ev, amount, released, final, with_op, "JPY");
}

static void sample_card(int i, struct event *ev)
{
    static const uint16_t types[CARD_SAMPLES] = {
        EVENT_CARD_ISSUED,     EVENT_CARD_ISSUED,     EVENT_CARD_ACTIVATED, EVENT_CARD_BLOCKED,
        EVENT_CARD_UNBLOCKED,  EVENT_CARD_LIMITS_CHANGED, EVENT_CARD_REPLACED, EVENT_CARD_DESTROYED,
        EVENT_CARD_AUTHORIZED, EVENT_CARD_DECLINED,   EVENT_CARD_CAPTURED,  EVENT_CARD_REVERSED,
        EVENT_CARD_HOLD_EXPIRED, EVENT_CARD_REFUNDED,
    };
    cr_assert(i >= 0 && i < CARD_SAMPLES);
    envelope(ev, (uint64_t)i + 100, types[i]);
    switch ((enum sample)i) {
    case S_ISSUED_FULL: sample_issued(ev, true); break;
    case S_ISSUED_MIN: sample_issued(ev, false); break;
    case S_ACTIVATED:
    case S_DESTROYED: ev->data.card_action.card_id = id_of(40); break;
    case S_BLOCKED:
        ev->data.card_action.card_id = id_of(40);
        ev->data.card_action.reason = CARD_BLOCK_STOLEN;
        break;
    case S_UNBLOCKED:
        ev->data.card_action.card_id = id_of(40);
        ev->data.card_action.reason = CARD_BLOCK_USER;
        break;
    case S_LIMITS:
        ev->data.card_limits.card_id = id_of(40);
        full_limits(&ev->data.card_limits.limits, true);
        break;
    case S_REPLACED:
        ev->data.card_replaced.card_id = id_of(40);
        ev->data.card_replaced.new_card_id = id_of(42);
        break;
    case S_AUTHORIZED: sample_decision(ev, true); break;
    case S_DECLINED: sample_decision(ev, false); break;
    case S_CAPTURED: sample_hold(ev, INT64_MAX, 1, true, true); break;
    case S_REVERSED: sample_hold(ev, 0, INT64_MAX, false, true); break;
    case S_HOLD_EXPIRED: sample_hold(ev, 0, 0, true, false); break;
    case S_REFUNDED: {
        struct ev_card_refunded *d = &ev->data.card_refund;
        d->refund_id = id_of(70);
        d->card_id = id_of(40);
        d->account_id = id_of(10);
        d->amount = INT64_MAX;
        memcpy(d->currency, "KWD", 4);
        fill(d->authorization_id, LEDGER_AUTH_ID_MAX, 'x');
        full_merchant(&d->merchant);
        break;
    }
    case CARD_SAMPLES: break;
    }
}

static size_t encode_card(int i, struct event *ev, uint8_t *buf, size_t cap)
{
    sample_card(i, ev);
    size_t len = event_encode(ev, buf, cap);
    cr_assert_gt(len, 0, "sample %d does not encode", i);
    cr_assert_lt(len, LEDGER_RECORD_BYTES_MAX, "sample %d: %zu bytes", i, len);
    return len;
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

/* The whole event, field by field through its bytes: both sides start from memset 0 (envelope()
 * and event_decode()), so any field the decoder missed or altered shows up. */
static void assert_same_event(const struct event *a, const struct event *b, int i)
{
    cr_assert_eq(a->seq, b->seq, "sample %d: seq", i);
    cr_assert_eq(a->ts_ns, b->ts_ns, "sample %d: ts_ns", i);
    cr_assert_eq(a->type, b->type, "sample %d: type", i);
    cr_assert_eq(a->stream_ver, b->stream_ver, "sample %d: stream_ver", i);
    cr_assert_str_eq(a->actor, b->actor, "sample %d: actor", i);
    cr_assert_arr_eq(a->hash, b->hash, LEDGER_HASH_LEN, "sample %d: hash", i);
    cr_assert_arr_eq(&a->data, &b->data, sizeof a->data, "sample %d: data differs", i);
}

/* ---- round trips, size, hash ------------------------------------------------------------------ */

Test(cards, round_trip_every_card_type)
{
    /* Proves every card event type (13 types, 14 samples: every field set, strings at their
     * maximum, lists full, booleans both ways, extreme amounts) decodes to the same fields,
     * re-encodes to the same bytes, and its hash is SHA-256(prev || record with 0x8a, hash cut). */
    for (int i = 0; i < CARD_SAMPLES; i++) {
        struct event ev, back;
        uint8_t buf[LEDGER_RECORD_BYTES_MAX], again[LEDGER_RECORD_BYTES_MAX], input[LEDGER_RECORD_BYTES_MAX];
        size_t len = encode_card(i, &ev, buf, sizeof buf);
        cr_assert_eq(buf[0], 0x8b, "sample %d: map header", i);
        cr_assert_eq(decode_exact(buf, len, &back), LEDGER_ERR_OK, "sample %d does not decode", i);
        assert_same_event(&ev, &back, i);
        cr_assert_eq(event_encode(&back, again, sizeof again), len, "sample %d: re-encoded length", i);
        cr_assert_arr_eq(again, buf, len, "sample %d: re-encoded bytes differ", i);
        cr_assert(event_hash_check(buf, len, ev.prev_hash), "sample %d: hash check", i);
        uint8_t want[32];
        memcpy(input, buf, len - HASH_TAIL_LEN);
        input[0] = 0x8a;
        sha256_evp(ev.prev_hash, 32, input, len - HASH_TAIL_LEN, want);
        cr_assert_arr_eq(buf + len - 32, want, 32, "sample %d: stored hash", i);
        uint8_t wrong[LEDGER_HASH_LEN];
        memcpy(wrong, ev.prev_hash, sizeof wrong);
        wrong[0] ^= 1;
        cr_assert_not(event_hash_check(buf, len, wrong), "sample %d: wrong prev accepted", i);
    }
}

Test(cards, largest_card_issued_fits_a_record)
{
    /* Proves a card.issued with every string full (actor included), every list full and every
     * integer at its widest encoding stays below LEDGER_RECORD_BYTES_MAX, and is the largest sample. */
    struct event ev;
    uint8_t buf[LEDGER_RECORD_BYTES_MAX];
    size_t largest = encode_card(S_ISSUED_FULL, &ev, buf, sizeof buf);
    cr_log_info("largest card.issued: %zu bytes of %d", largest, LEDGER_RECORD_BYTES_MAX);
    cr_assert_lt(largest, LEDGER_RECORD_BYTES_MAX);
    for (int i = 0; i < CARD_SAMPLES; i++) {
        size_t len = encode_card(i, &ev, buf, sizeof buf);
        cr_assert_leq(len, largest, "sample %d (%zu bytes) is larger than the full card.issued", i, len);
    }
}

Test(cards, every_enum_value_round_trips)
{
    /* Proves each card type, card block reason (blocked and unblocked), channel and category
     * survives encode -> decode with its value, and the record carries its name. */
    static const uint8_t reasons[] = {CARD_BLOCK_USER, CARD_BLOCK_SYSTEM, CARD_BLOCK_LOST, CARD_BLOCK_STOLEN};
    static const uint8_t channels[] = {CHANNEL_POS, CHANNEL_ECOM, CHANNEL_ATM, CHANNEL_CONTACTLESS};
    struct event ev, back;
    uint8_t buf[LEDGER_RECORD_BYTES_MAX];
    for (uint8_t t = CARD_TYPE_VIRTUAL; t <= CARD_TYPE_PHYSICAL; t++) {
        sample_card(S_ISSUED_MIN, &ev);
        ev.data.card_issued.type = t;
        size_t len = event_encode(&ev, buf, sizeof buf);
        cr_assert_not_null(memmem(buf, len, card_type_name(t), strlen(card_type_name(t))));
        cr_assert_eq(event_decode(buf, len, &back), LEDGER_ERR_OK);
        cr_assert_eq(back.data.card_issued.type, t);
    }
    for (size_t r = 0; r < sizeof reasons; r++) {
        for (int s = S_BLOCKED; s <= S_UNBLOCKED; s++) {
            sample_card(s, &ev);
            ev.data.card_action.reason = reasons[r];
            size_t len = event_encode(&ev, buf, sizeof buf);
            cr_assert_eq(event_decode(buf, len, &back), LEDGER_ERR_OK);
            cr_assert_eq(back.data.card_action.reason, reasons[r]);
        }
    }
    for (size_t c = 0; c < sizeof channels; c++) {
        for (uint8_t cat = AUTH_FINAL; cat <= AUTH_PRE; cat++) {
            sample_card(S_DECLINED, &ev);
            ev.data.card_decision.channel = channels[c];
            ev.data.card_decision.category = cat;
            size_t len = event_encode(&ev, buf, sizeof buf);
            cr_assert_eq(event_decode(buf, len, &back), LEDGER_ERR_OK);
            cr_assert_eq(back.data.card_decision.channel, channels[c]);
            cr_assert_eq(back.data.card_decision.category, cat);
        }
    }
}

Test(cards, every_boolean_both_ways)
{
    /* Proves the three channel switches (all 8 combinations), stand_in and final each decode to
     * the value encoded, as msgpack true (0xc3) / false (0xc2). */
    struct event ev, back;
    uint8_t buf[LEDGER_RECORD_BYTES_MAX];
    for (int bits = 0; bits < 8; bits++) {
        sample_card(S_LIMITS, &ev);
        struct card_limits *l = &ev.data.card_limits.limits;
        l->ecom = bits & 1;
        l->contactless = (bits >> 1) & 1;
        l->atm = (bits >> 2) & 1;
        size_t len = event_encode(&ev, buf, sizeof buf);
        cr_assert_eq(event_decode(buf, len, &back), LEDGER_ERR_OK);
        const struct card_limits *m = &back.data.card_limits.limits;
        cr_assert(m->ecom == l->ecom && m->contactless == l->contactless && m->atm == l->atm, "bits %d", bits);
        static const uint8_t atm_key[] = {0xa3, 'a', 't', 'm'};
        uint8_t *at = memmem(buf, len, atm_key, sizeof atm_key);
        cr_assert_not_null(at);
        cr_assert_eq(at[sizeof atm_key], l->atm ? 0xc3 : 0xc2);
    }
    for (int v = 0; v < 2; v++) {
        sample_card(S_DECLINED, &ev);
        ev.data.card_decision.stand_in = v;
        size_t len = event_encode(&ev, buf, sizeof buf);
        cr_assert_eq(event_decode(buf, len, &back), LEDGER_ERR_OK);
        cr_assert_eq(back.data.card_decision.stand_in, (bool)v);
        sample_card(S_REVERSED, &ev);
        ev.data.card_hold.final = v;
        len = event_encode(&ev, buf, sizeof buf);
        cr_assert_eq(event_decode(buf, len, &back), LEDGER_ERR_OK);
        cr_assert_eq(back.data.card_hold.final, (bool)v);
    }
}

Test(cards, encode_returns_zero_when_cap_too_small)
{
    /* Proves event_encode returns 0 for every cap below a card record's length, never writing past
     * cap (exact-size heap buffer), and succeeds at exactly the length. */
    for (int i = 0; i < CARD_SAMPLES; i++) {
        struct event ev;
        uint8_t full[LEDGER_RECORD_BYTES_MAX];
        size_t len = encode_card(i, &ev, full, sizeof full);
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

/* ---- decoder robustness ------------------------------------------------------------------------ */

Test(cards, every_truncation_is_refused)
{
    /* Proves each prefix (0 .. len-1 bytes) of every card sample is LEDGER_ERR_DECODE, each in an
     * exact-size heap buffer (ASan catches over-reads), and one trailing byte is refused too. */
    for (int i = 0; i < CARD_SAMPLES; i++) {
        struct event ev, back;
        uint8_t buf[LEDGER_RECORD_BYTES_MAX + 1];
        size_t len = encode_card(i, &ev, buf, LEDGER_RECORD_BYTES_MAX);
        for (size_t n = 0; n < len; n++)
            cr_assert_eq(decode_exact(buf, n, &back), LEDGER_ERR_DECODE, "sample %d cut to %zu", i, n);
        buf[len] = 0xc0;
        cr_assert_eq(decode_exact(buf, len + 1, &back), LEDGER_ERR_DECODE, "sample %d + 1 byte", i);
    }
}

Test(cards, any_single_byte_flip_is_detected)
{
    /* Proves that changing any one byte of a card record (every position, three xor masks) never
     * leaves both event_decode and event_hash_check succeeding. */
    static const uint8_t masks[] = {0x01, 0x80, 0xff};
    for (int i = 0; i < CARD_SAMPLES; i++) {
        struct event ev, back;
        uint8_t buf[LEDGER_RECORD_BYTES_MAX];
        size_t len = encode_card(i, &ev, buf, sizeof buf);
        for (size_t pos = 0; pos < len; pos++) {
            for (size_t m = 0; m < sizeof masks; m++) {
                buf[pos] ^= masks[m];
                bool decoded = event_decode(buf, len, &back) == LEDGER_ERR_OK;
                cr_assert_not(decoded && event_hash_check(buf, len, NULL), "sample %d: byte %zu ^ 0x%02x", i,
                              pos, masks[m]);
                buf[pos] ^= masks[m];
            }
        }
    }
}

Test(cards, corrupted_records_decode_or_refuse_and_what_decodes_reencodes)
{
    /* Proves 3000 randomly corrupted card records are OK or DECODE (never a crash under ASan), and
     * any that decodes re-encodes (the encoder accepts everything the decoder accepts) to a record
     * that decodes, and renders as JSON within the callers' 4096 bytes. */
    uint64_t seed = 0x2545f4914f6cdd1dull;
    int decoded = 0;
    for (int k = 0; k < CORRUPTED_INPUTS; k++) {
        struct event ev, back, again;
        uint8_t rec[LEDGER_RECORD_BYTES_MAX], out[LEDGER_RECORD_BYTES_MAX];
        char json[CALLER_JSON_CAP];
        size_t len = encode_card(k % CARD_SAMPLES, &ev, rec, sizeof rec);
        int changes = 1 + (int)(rng_next(&seed) % 3);
        for (int c = 0; c < changes; c++)
            rec[rng_next(&seed) % len] = (uint8_t)rng_next(&seed);
        enum ledger_err rc = decode_exact(rec, len, &back);
        cr_assert(rc == LEDGER_ERR_OK || rc == LEDGER_ERR_DECODE);
        if (rc != LEDGER_ERR_OK)
            continue;
        decoded++;
        size_t n = event_encode(&back, out, sizeof out);
        cr_assert_gt(n, 0, "input %d decodes but does not re-encode", k);
        cr_assert_eq(event_decode(out, n, &again), LEDGER_ERR_OK, "input %d", k);
        cr_assert_gt(event_to_json(&back, json, sizeof json), 0, "input %d: JSON", k);
    }
    cr_assert_gt(decoded, 0, "no corrupted record decoded: the loop tests nothing");
}

/*
 * Hand-edited records: a sample is unpacked into a msgpack-c object tree, one key or value is
 * changed, and the tree is packed again with msgpack_pack_object() and a fresh chain hash, so the
 * decoder sees a well-formed, correctly hashed record whose only fault is the edit.
 */
struct tree {
    msgpack_zone zone;
    msgpack_object root;
};

static void tree_load(struct tree *t, const uint8_t *buf, size_t len)
{
    cr_assert(msgpack_zone_init(&t->zone, 4096));
    size_t off = 0;
    cr_assert_eq(msgpack_unpack((const char *)buf, len, &off, &t->zone, &t->root), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, len);
    cr_assert(t->root.type == MSGPACK_OBJECT_MAP && t->root.via.map.size == 11);
}

static msgpack_object *tree_data(struct tree *t)
{
    return &t->root.via.map.ptr[8].val;
}

/* Packs the tree as a record: entries 0..9 under a map-of-10 header are hashed after prev_hash
 * (entry 9), then the header becomes map of 11 and "hash" is appended. */
static size_t tree_pack(const struct tree *t, uint8_t *out, size_t cap)
{
    const msgpack_object_kv *kv = t->root.via.map.ptr;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 10);
    for (int i = 0; i < 10; i++) {
        msgpack_pack_object(&pk, kv[i].key);
        msgpack_pack_object(&pk, kv[i].val);
    }
    cr_assert(kv[9].val.type == MSGPACK_OBJECT_BIN && kv[9].val.via.bin.size == 32);
    uint8_t hash[32];
    sha256_evp((const uint8_t *)kv[9].val.via.bin.ptr, 32, (const uint8_t *)sb.data, sb.size, hash);
    static const uint8_t tail_key[7] = {0xa4, 'h', 'a', 's', 'h', 0xc4, 0x20};
    size_t len = sb.size + HASH_TAIL_LEN;
    cr_assert_leq(len, cap);
    memcpy(out, sb.data, sb.size);
    out[0] = 0x8b;
    memcpy(out + sb.size, tail_key, sizeof tail_key);
    memcpy(out + sb.size + sizeof tail_key, hash, 32);
    msgpack_sbuffer_destroy(&sb);
    return len;
}

static bool key_eq(const msgpack_object *k, const char *name, size_t n)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, name, n) == 0;
}

/* The map holding the last segment of path ("merchant.mcc": the merchant map) and that key's index
 * in it. "@type" looks in the envelope instead of data. */
static msgpack_object *tree_locate(struct tree *t, const char *path, uint32_t *index)
{
    msgpack_object *map = path[0] == '@' ? &t->root : tree_data(t);
    const char *seg = path[0] == '@' ? path + 1 : path;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
        cr_assert_eq(map->type, MSGPACK_OBJECT_MAP, "%s: not a map", path);
        uint32_t i = 0;
        while (i < map->via.map.size && !key_eq(&map->via.map.ptr[i].key, seg, n))
            i++;
        cr_assert_lt(i, map->via.map.size, "%s: no such key", path);
        if (dot == NULL) {
            *index = i;
            return map;
        }
        map = &map->via.map.ptr[i].val;
        seg = dot + 1;
    }
}

enum edit { E_SET, E_DROP, E_EXTRA, E_SWAP_NEXT, E_RENAME };
enum value_kind { V_NIL, V_TRUE, V_UINT, V_NEG, V_FLOAT, V_STR, V_LONG_STR, V_BIN, V_UINT_ARRAY, V_STR_ARRAY, V_MAP };

struct card_case {
    char name[56];
    int sample;
    enum edit edit;
    char path[40];       /* key edited (E_EXTRA: the map that gets "extra"; "" = data) */
    enum value_kind v;   /* E_SET */
    uint64_t u;          /* V_UINT, V_UINT_ARRAY elements */
    int64_t i;           /* V_NEG */
    char text[24];       /* V_STR, V_STR_ARRAY elements, E_RENAME's new key */
    size_t n;            /* V_STR: length (0 = strlen), V_LONG_STR / V_BIN: bytes, arrays: elements */
    bool ok;             /* a boundary that must still decode */
};

static msgpack_object make_value(struct tree *t, const struct card_case *c)
{
    msgpack_object v;
    memset(&v, 0, sizeof v);
    switch (c->v) {
    case V_NIL: v.type = MSGPACK_OBJECT_NIL; break;
    case V_TRUE: v.type = MSGPACK_OBJECT_BOOLEAN, v.via.boolean = true; break;
    case V_UINT: v.type = MSGPACK_OBJECT_POSITIVE_INTEGER, v.via.u64 = c->u; break;
    case V_NEG: v.type = MSGPACK_OBJECT_NEGATIVE_INTEGER, v.via.i64 = c->i; break;
    case V_FLOAT: v.type = MSGPACK_OBJECT_FLOAT64, v.via.f64 = 1.5; break;
    case V_STR:
        v.type = MSGPACK_OBJECT_STR;
        v.via.str.ptr = c->text;
        v.via.str.size = (uint32_t)(c->n ? c->n : strlen(c->text));
        break;
    case V_LONG_STR:
    case V_BIN: {
        char *p = msgpack_zone_malloc(&t->zone, c->n + 1);
        cr_assert_not_null(p);
        memset(p, c->v == V_BIN ? 0 : 'x', c->n);
        v.type = c->v == V_BIN ? MSGPACK_OBJECT_BIN : MSGPACK_OBJECT_STR;
        v.via.str.ptr = p; /* str and bin share the layout */
        v.via.str.size = (uint32_t)c->n;
        break;
    }
    case V_UINT_ARRAY:
    case V_STR_ARRAY: {
        msgpack_object *e = msgpack_zone_malloc(&t->zone, (c->n + 1) * sizeof *e);
        cr_assert_not_null(e);
        for (size_t k = 0; k < c->n; k++) {
            memset(&e[k], 0, sizeof e[k]);
            if (c->v == V_UINT_ARRAY) {
                e[k].type = MSGPACK_OBJECT_POSITIVE_INTEGER;
                e[k].via.u64 = c->u;
            } else {
                e[k].type = MSGPACK_OBJECT_STR;
                e[k].via.str.ptr = c->text;
                e[k].via.str.size = (uint32_t)strlen(c->text);
            }
        }
        v.type = MSGPACK_OBJECT_ARRAY;
        v.via.array.ptr = e;
        v.via.array.size = (uint32_t)c->n;
        break;
    }
    case V_MAP: v.type = MSGPACK_OBJECT_MAP; break;
    }
    return v;
}

static void apply_edit(struct tree *t, const struct card_case *c)
{
    uint32_t i = 0;
    if (c->edit == E_EXTRA) {
        msgpack_object *map = tree_data(t);
        if (c->path[0] != '\0') {
            msgpack_object *parent = tree_locate(t, c->path, &i);
            map = &parent->via.map.ptr[i].val;
        }
        uint32_t n = map->via.map.size;
        msgpack_object_kv *kv = msgpack_zone_malloc(&t->zone, (n + 1) * sizeof *kv);
        cr_assert_not_null(kv);
        memcpy(kv, map->via.map.ptr, n * sizeof *kv);
        memset(&kv[n], 0, sizeof kv[n]);
        kv[n].key.type = MSGPACK_OBJECT_STR;
        kv[n].key.via.str.ptr = "extra";
        kv[n].key.via.str.size = 5;
        kv[n].val.type = MSGPACK_OBJECT_NIL;
        map->via.map.ptr = kv;
        map->via.map.size = n + 1;
        return;
    }
    msgpack_object *map = tree_locate(t, c->path, &i);
    msgpack_object_kv *kv = map->via.map.ptr;
    switch (c->edit) {
    case E_SET: kv[i].val = make_value(t, c); break;
    case E_DROP:
        memmove(&kv[i], &kv[i + 1], (map->via.map.size - i - 1) * sizeof *kv);
        map->via.map.size--;
        break;
    case E_SWAP_NEXT: {
        cr_assert_lt(i + 1, map->via.map.size, "%s is the last key", c->path);
        msgpack_object_kv tmp = kv[i];
        kv[i] = kv[i + 1];
        kv[i + 1] = tmp;
        break;
    }
    case E_RENAME:
        kv[i].key.via.str.ptr = c->text;
        kv[i].key.via.str.size = (uint32_t)strlen(c->text);
        break;
    case E_EXTRA: break;
    }
}

Test(cards, stock_msgpack_repack_is_byte_identical)
{
    /* Proves the documented property for card records: a stock msgpack library (msgpack-c's
     * unpack + msgpack_pack_object) re-encodes every card sample to the same bytes, hash included
     * (the encoder writes every value in its smallest form, nested maps and arrays too). */
    for (int i = 0; i < CARD_SAMPLES; i++) {
        struct event ev;
        uint8_t buf[LEDGER_RECORD_BYTES_MAX], out[2 * LEDGER_RECORD_BYTES_MAX];
        size_t len = encode_card(i, &ev, buf, sizeof buf);
        struct tree t;
        tree_load(&t, buf, len);
        size_t n = tree_pack(&t, out, sizeof out);
        msgpack_zone_destroy(&t.zone);
        cr_assert_eq(n, len, "sample %d: repacked length", i);
        cr_assert_arr_eq(out, buf, len, "sample %d: repacked bytes differ", i);
    }
}

#define SET(name_, s_, path_, ...) {.name = name_, .sample = s_, .edit = E_SET, .path = path_, __VA_ARGS__}
#define EDIT(name_, s_, edit_, path_, ...) {.name = name_, .sample = s_, .edit = edit_, .path = path_, __VA_ARGS__}

ParameterizedTestParameters(cards, hand_edited_record)
{
    static struct card_case cases[] = {
        /* boundaries that must still decode (and re-encode to the same bytes) */
        SET("16 MCCs of 9999", S_LIMITS, "limits.allowed_mcc", .v = V_UINT_ARRAY, .u = 9999, .n = 16, .ok = true),
        SET("16 countries", S_LIMITS, "limits.blocked_countries", .v = V_STR_ARRAY, .text = "ZZ", .n = 16, .ok = true),
        SET("empty country list", S_ISSUED_FULL, "limits.allowed_countries", .v = V_STR_ARRAY, .n = 0, .ok = true),
        SET("expiry 0199", S_ISSUED_FULL, "expiry", .v = V_STR, .text = "0199", .ok = true),
        SET("expiry 1200", S_ISSUED_FULL, "expiry", .v = V_STR, .text = "1200", .ok = true),
        SET("response code 00", S_AUTHORIZED, "response_code", .v = V_STR, .text = "00", .ok = true),
        SET("response code 99", S_DECLINED, "response_code", .v = V_STR, .text = "99", .ok = true),
        SET("amount_requested 1", S_AUTHORIZED, "amount_requested", .v = V_UINT, .u = 1, .ok = true),
        SET("amount_approved 0", S_AUTHORIZED, "amount_approved", .v = V_UINT, .u = 0, .ok = true),
        SET("available_after negative", S_AUTHORIZED, "available_after", .v = V_NEG, .i = -5, .ok = true),
        SET("refund amount 1", S_REFUNDED, "amount", .v = V_UINT, .u = 1, .ok = true),
        SET("released 0", S_CAPTURED, "released", .v = V_UINT, .u = 0, .ok = true),
        SET("merchant country empty", S_REFUNDED, "merchant.country", .v = V_STR, .text = "", .ok = true),
        SET("merchant mcc 0", S_AUTHORIZED, "merchant.mcc", .v = V_UINT, .u = 0, .ok = true),
        SET("day_count UINT32_MAX", S_LIMITS, "limits.week_count", .v = V_UINT, .u = UINT32_MAX, .ok = true),
        SET("token at its maximum", S_ISSUED_MIN, "token", .v = V_LONG_STR, .n = LEDGER_CARD_TOKEN_MAX, .ok = true),
        SET("type activated -> destroyed", S_ACTIVATED, "@type", .v = V_UINT, .u = EVENT_CARD_DESTROYED, .ok = true),
        /* missing keys */
        EDIT("card_id missing", S_ISSUED_FULL, E_DROP, "card_id"),
        EDIT("limits missing", S_ISSUED_FULL, E_DROP, "limits"),
        EDIT("limits.atm missing", S_ISSUED_FULL, E_DROP, "limits.atm"),
        EDIT("limits.allowed_mcc missing", S_LIMITS, E_DROP, "limits.allowed_mcc"),
        EDIT("reason missing", S_BLOCKED, E_DROP, "reason"),
        EDIT("new_card_id missing", S_REPLACED, E_DROP, "new_card_id"),
        EDIT("stand_in missing", S_AUTHORIZED, E_DROP, "stand_in"),
        EDIT("merchant.id missing", S_AUTHORIZED, E_DROP, "merchant.id"),
        EDIT("final missing", S_CAPTURED, E_DROP, "final"),
        EDIT("merchant missing", S_REFUNDED, E_DROP, "merchant"),
        /* extra keys */
        EDIT("extra key in card.issued", S_ISSUED_FULL, E_EXTRA, ""),
        EDIT("extra key in limits", S_LIMITS, E_EXTRA, "limits"),
        EDIT("extra key in merchant", S_DECLINED, E_EXTRA, "merchant"),
        EDIT("extra key in card.activated", S_ACTIVATED, E_EXTRA, ""),
        EDIT("extra key in card.destroyed", S_DESTROYED, E_EXTRA, ""),
        EDIT("extra key in card.hold_expired", S_HOLD_EXPIRED, E_EXTRA, ""),
        EDIT("extra key in card.refunded", S_REFUNDED, E_EXTRA, ""),
        /* keys out of order, renamed */
        EDIT("card_id after account_id", S_ISSUED_FULL, E_SWAP_NEXT, "card_id"),
        EDIT("limits ecom after contactless", S_LIMITS, E_SWAP_NEXT, "limits.ecom"),
        EDIT("merchant name after mcc", S_AUTHORIZED, E_SWAP_NEXT, "merchant.name"),
        EDIT("amount after released", S_CAPTURED, E_SWAP_NEXT, "amount"),
        EDIT("currency after authorization_id", S_REFUNDED, E_SWAP_NEXT, "currency"),
        EDIT("hold_id after authorization_id", S_DECLINED, E_SWAP_NEXT, "hold_id"),
        EDIT("allowed_countries renamed", S_LIMITS, E_RENAME, "limits.allowed_countries", .text = "allowed_country"),
        EDIT("expires_at renamed", S_AUTHORIZED, E_RENAME, "expires_at", .text = "expires_at_ns"),
        EDIT("reason renamed", S_UNBLOCKED, E_RENAME, "reason", .text = "Reason"),
        /* another type's layout */
        SET("type issued -> activated", S_ISSUED_FULL, "@type", .v = V_UINT, .u = EVENT_CARD_ACTIVATED),
        SET("type activated -> replaced", S_ACTIVATED, "@type", .v = V_UINT, .u = EVENT_CARD_REPLACED),
        SET("type captured -> refunded", S_CAPTURED, "@type", .v = V_UINT, .u = EVENT_CARD_REFUNDED),
        SET("type authorized -> captured", S_AUTHORIZED, "@type", .v = V_UINT, .u = EVENT_CARD_CAPTURED),
        SET("type 19", S_REFUNDED, "@type", .v = V_UINT, .u = 19),
        /* wrong types and sizes */
        SET("card_id as str", S_ISSUED_FULL, "card_id", .v = V_LONG_STR, .n = 16),
        SET("card_id as 15-byte bin", S_ACTIVATED, "card_id", .v = V_BIN, .n = 15),
        SET("new_card_id as 17-byte bin", S_REPLACED, "new_card_id", .v = V_BIN, .n = 17),
        SET("replaces nil", S_ISSUED_MIN, "replaces", .v = V_NIL),
        SET("type as uint", S_ISSUED_FULL, "type", .v = V_UINT, .u = CARD_TYPE_PHYSICAL),
        SET("last_four as uint", S_ISSUED_FULL, "last_four", .v = V_UINT, .u = 1234),
        SET("limits as array", S_ISSUED_FULL, "limits", .v = V_UINT_ARRAY, .n = 0),
        SET("limits as empty map", S_LIMITS, "limits", .v = V_MAP),
        SET("merchant as array", S_REFUNDED, "merchant", .v = V_STR_ARRAY, .text = "x", .n = 4),
        SET("per_auth_max as float", S_LIMITS, "limits.per_auth_max", .v = V_FLOAT),
        SET("day_amount as str", S_LIMITS, "limits.day_amount", .v = V_STR, .text = "1"),
        SET("day_amount 2^63", S_LIMITS, "limits.day_amount", .v = V_UINT, .u = (uint64_t)INT64_MAX + 1),
        SET("day_count negative", S_LIMITS, "limits.day_count", .v = V_NEG, .i = -1),
        SET("month_count 2^32", S_LIMITS, "limits.month_count", .v = V_UINT, .u = (uint64_t)UINT32_MAX + 1),
        SET("ecom as uint 1", S_LIMITS, "limits.ecom", .v = V_UINT, .u = 1),
        SET("atm nil", S_ISSUED_FULL, "limits.atm", .v = V_NIL),
        SET("stand_in as uint 0", S_DECLINED, "stand_in", .v = V_UINT, .u = 0),
        SET("final as str", S_HOLD_EXPIRED, "final", .v = V_STR, .text = "true"),
        SET("allowed_mcc as map", S_LIMITS, "limits.allowed_mcc", .v = V_MAP),
        SET("MCCs as strings", S_LIMITS, "limits.blocked_mcc", .v = V_STR_ARRAY, .text = "5411", .n = 2),
        SET("countries as uints", S_LIMITS, "limits.allowed_countries", .v = V_UINT_ARRAY, .u = 70, .n = 1),
        SET("amount as float", S_CAPTURED, "amount", .v = V_FLOAT),
        SET("expires_at as str", S_AUTHORIZED, "expires_at", .v = V_STR, .text = "0"),
        SET("merchant.mcc as str", S_REFUNDED, "merchant.mcc", .v = V_STR, .text = "5411"),
        /* lists too long, values out of range */
        SET("17 allowed MCCs", S_LIMITS, "limits.allowed_mcc", .v = V_UINT_ARRAY, .u = 5411, .n = 17),
        SET("17 blocked MCCs", S_ISSUED_MIN, "limits.blocked_mcc", .v = V_UINT_ARRAY, .u = 5411, .n = 17),
        SET("17 allowed countries", S_LIMITS, "limits.allowed_countries", .v = V_STR_ARRAY, .text = "FR", .n = 17),
        SET("17 blocked countries", S_ISSUED_MIN, "limits.blocked_countries", .v = V_STR_ARRAY, .text = "FR", .n = 17),
        SET("MCC 10000", S_LIMITS, "limits.allowed_mcc", .v = V_UINT_ARRAY, .u = 10000, .n = 1),
        SET("MCC 65536", S_LIMITS, "limits.blocked_mcc", .v = V_UINT_ARRAY, .u = 65536, .n = 1),
        SET("country lower-case", S_LIMITS, "limits.allowed_countries", .v = V_STR_ARRAY, .text = "fr", .n = 1),
        SET("country of 3 letters", S_LIMITS, "limits.blocked_countries", .v = V_STR_ARRAY, .text = "FRA", .n = 1),
        SET("country of 1 letter", S_LIMITS, "limits.blocked_countries", .v = V_STR_ARRAY, .text = "F", .n = 1),
        SET("country with a digit", S_LIMITS, "limits.blocked_countries", .v = V_STR_ARRAY, .text = "F1", .n = 1),
        SET("merchant.mcc 10000", S_AUTHORIZED, "merchant.mcc", .v = V_UINT, .u = 10000),
        SET("merchant.country lower-case", S_AUTHORIZED, "merchant.country", .v = V_STR, .text = "fr"),
        SET("merchant.country of 1 letter", S_REFUNDED, "merchant.country", .v = V_STR, .text = "F"),
        SET("merchant.country of 3 letters", S_REFUNDED, "merchant.country", .v = V_STR, .text = "FRA"),
        SET("per_auth_max negative", S_LIMITS, "limits.per_auth_max", .v = V_NEG, .i = -1),
        SET("atm_month_amount negative", S_ISSUED_FULL, "limits.atm_month_amount", .v = V_NEG, .i = -1),
        SET("amount_requested 0", S_AUTHORIZED, "amount_requested", .v = V_UINT, .u = 0),
        SET("amount_requested negative", S_DECLINED, "amount_requested", .v = V_NEG, .i = -1),
        SET("amount_approved negative", S_DECLINED, "amount_approved", .v = V_NEG, .i = -1),
        SET("captured amount negative", S_CAPTURED, "amount", .v = V_NEG, .i = -1),
        SET("released negative", S_REVERSED, "released", .v = V_NEG, .i = INT64_MIN),
        SET("refund amount 0", S_REFUNDED, "amount", .v = V_UINT, .u = 0),
        SET("refund amount negative", S_REFUNDED, "amount", .v = V_NEG, .i = -100),
        /* unknown enum names (names are exact) */
        SET("type plastic", S_ISSUED_FULL, "type", .v = V_STR, .text = "plastic"),
        SET("type Virtual", S_ISSUED_MIN, "type", .v = V_STR, .text = "Virtual"),
        SET("type unknown", S_ISSUED_MIN, "type", .v = V_STR, .text = "unknown"),
        SET("reason lost", S_BLOCKED, "reason", .v = V_STR, .text = "lost"),
        SET("reason COMPLIANCE (accounts only)", S_BLOCKED, "reason", .v = V_STR, .text = "COMPLIANCE"),
        SET("reason UNKNOWN", S_UNBLOCKED, "reason", .v = V_STR, .text = "UNKNOWN"),
        SET("channel MOTO", S_AUTHORIZED, "channel", .v = V_STR, .text = "MOTO"),
        SET("channel pos", S_DECLINED, "channel", .v = V_STR, .text = "pos"),
        SET("category FINAL", S_AUTHORIZED, "category", .v = V_STR, .text = "FINAL"),
        SET("category with NUL", S_DECLINED, "category", .v = V_STR, .text = "PRE_AUTH\0", .n = 9),
        /* expiry, last four, response code */
        SET("expiry month 13", S_ISSUED_FULL, "expiry", .v = V_STR, .text = "1327"),
        SET("expiry month 00", S_ISSUED_FULL, "expiry", .v = V_STR, .text = "0027"),
        SET("expiry 12/7", S_ISSUED_FULL, "expiry", .v = V_STR, .text = "12/7"),
        SET("expiry of 3 digits", S_ISSUED_MIN, "expiry", .v = V_STR, .text = "127"),
        SET("expiry of 5 digits", S_ISSUED_MIN, "expiry", .v = V_STR, .text = "12271"),
        SET("expiry empty", S_ISSUED_MIN, "expiry", .v = V_STR, .text = ""),
        SET("last_four of 3 digits", S_ISSUED_FULL, "last_four", .v = V_STR, .text = "123"),
        SET("last_four of 5 digits", S_ISSUED_FULL, "last_four", .v = V_STR, .text = "12345"),
        SET("last_four with a letter", S_ISSUED_FULL, "last_four", .v = V_STR, .text = "12a4"),
        SET("last_four fullwidth digit", S_ISSUED_MIN, "last_four", .v = V_STR, .text = "1\xef\xbc\x91"),
        SET("response code of 1 digit", S_AUTHORIZED, "response_code", .v = V_STR, .text = "0"),
        SET("response code of 3 digits", S_AUTHORIZED, "response_code", .v = V_STR, .text = "000"),
        SET("response code alphanumeric", S_DECLINED, "response_code", .v = V_STR, .text = "N7"),
        SET("response code with a space", S_DECLINED, "response_code", .v = V_STR, .text = "5 "),
        SET("response code empty", S_DECLINED, "response_code", .v = V_STR, .text = ""),
        /* strings one byte too long, NULs, invalid UTF-8 */
        SET("brand 17 bytes", S_ISSUED_FULL, "brand", .v = V_LONG_STR, .n = LEDGER_CARD_BRAND_MAX + 1),
        SET("token 65 bytes", S_ISSUED_FULL, "token", .v = V_LONG_STR, .n = LEDGER_CARD_TOKEN_MAX + 1),
        SET("name_on_card 27 bytes", S_ISSUED_FULL, "name_on_card", .v = V_LONG_STR, .n = LEDGER_NAME_ON_CARD_MAX + 1),
        SET("authorization_id 65 bytes", S_AUTHORIZED, "authorization_id", .v = V_LONG_STR, .n = LEDGER_AUTH_ID_MAX + 1),
        SET("original_authorization_id 65", S_AUTHORIZED, "original_authorization_id", .v = V_LONG_STR, .n = LEDGER_AUTH_ID_MAX + 1),
        SET("refund authorization_id 65", S_REFUNDED, "authorization_id", .v = V_LONG_STR, .n = LEDGER_AUTH_ID_MAX + 1),
        SET("merchant.name 65 bytes", S_AUTHORIZED, "merchant.name", .v = V_LONG_STR, .n = LEDGER_MERCHANT_NAME_MAX + 1),
        SET("merchant.id 33 bytes", S_REFUNDED, "merchant.id", .v = V_LONG_STR, .n = LEDGER_MERCHANT_ID_MAX + 1),
        SET("approval_code 7 bytes", S_AUTHORIZED, "approval_code", .v = V_LONG_STR, .n = 7),
        SET("currency 4 bytes", S_CAPTURED, "currency", .v = V_STR, .text = "EURO"),
        SET("token with NUL", S_ISSUED_FULL, "token", .v = V_STR, .text = "ab\0cd", .n = 5),
        SET("name_on_card invalid UTF-8", S_ISSUED_FULL, "name_on_card", .v = V_STR, .text = "\xff"),
        SET("merchant.name overlong UTF-8", S_REFUNDED, "merchant.name", .v = V_STR, .text = "\xc0\xaf"),
        SET("brand as bin", S_ISSUED_FULL, "brand", .v = V_BIN, .n = 4),
    };
    return cr_make_param_array(struct card_case, cases, sizeof cases / sizeof cases[0]);
}

#undef SET
#undef EDIT

ParameterizedTest(struct card_case *c, cards, hand_edited_record)
{
    /* Proves each hand-edited card record (correctly hashed, well-formed msgpack) is refused with
     * LEDGER_ERR_DECODE when the edit breaks the layout or a value rule, and that each boundary
     * edit (.ok) decodes and re-encodes to exactly the edited bytes. */
    struct event ev, back;
    uint8_t buf[LEDGER_RECORD_BYTES_MAX], out[2 * LEDGER_RECORD_BYTES_MAX], again[LEDGER_RECORD_BYTES_MAX];
    size_t len = encode_card(c->sample, &ev, buf, sizeof buf);
    struct tree t;
    tree_load(&t, buf, len);
    apply_edit(&t, c);
    size_t n = tree_pack(&t, out, sizeof out);
    msgpack_zone_destroy(&t.zone);
    cr_assert(event_hash_check(out, n, ev.prev_hash), "%s: the edited record's hash is wrong", c->name);
    enum ledger_err rc = decode_exact(out, n, &back);
    if (!c->ok) {
        cr_assert_eq(rc, LEDGER_ERR_DECODE, "%s: accepted", c->name);
        return;
    }
    cr_assert_eq(rc, LEDGER_ERR_OK, "%s: refused", c->name);
    cr_assert_eq(event_encode(&back, again, sizeof again), n, "%s: re-encoded length", c->name);
    cr_assert_arr_eq(again, out, n, "%s: re-encoded bytes differ", c->name);
}

/* ---- the encoder refuses what the decoder refuses ---------------------------------------------- */

/* Fills ev with sample k's one broken value and returns its name; NULL past the last one. */
static const char *break_value(int k, struct event *ev)
{
    struct ev_card_issued *is = &ev->data.card_issued;
    struct card_limits *lim = &ev->data.card_limits.limits;
    struct ev_card_decision *de = &ev->data.card_decision;
    struct ev_card_refunded *re = &ev->data.card_refund;
    switch (k) {
    case 0: sample_card(S_ISSUED_FULL, ev); memset(is->brand, 'b', sizeof is->brand); return "brand unterminated";
    case 1: sample_card(S_ISSUED_FULL, ev); memset(is->token, 't', sizeof is->token); return "token unterminated";
    case 2: sample_card(S_ISSUED_FULL, ev); memset(is->name_on_card, 'n', sizeof is->name_on_card); return "name unterminated";
    case 3: sample_card(S_ISSUED_FULL, ev); memcpy(is->last_four, "123", 4); return "last_four of 3";
    case 4: sample_card(S_ISSUED_FULL, ev); memcpy(is->last_four, "12a4", 5); return "last_four with a letter";
    case 5: sample_card(S_ISSUED_FULL, ev); memset(is->last_four, '1', 5); return "last_four unterminated";
    case 6: sample_card(S_ISSUED_FULL, ev); memcpy(is->expiry, "1327", 5); return "expiry month 13";
    case 7: sample_card(S_ISSUED_FULL, ev); memcpy(is->expiry, "0027", 5); return "expiry month 00";
    case 8: sample_card(S_ISSUED_FULL, ev); memset(is->expiry, '1', 5); return "expiry unterminated";
    case 9: sample_card(S_ISSUED_FULL, ev); is->type = 0; return "card type 0";
    case 10: sample_card(S_ISSUED_FULL, ev); is->type = 3; return "card type 3";
    case 11: sample_card(S_ISSUED_FULL, ev); is->limits.allowed_mcc_n = LEDGER_CARD_LIST_MAX + 1; return "17 MCCs";
    case 12: sample_card(S_ISSUED_FULL, ev); is->limits.blocked_country_n = 255; return "255 countries";
    case 13: sample_card(S_LIMITS, ev); lim->blocked_mcc[3] = 10000; return "MCC 10000";
    case 14: sample_card(S_LIMITS, ev); memcpy(lim->allowed_country[15], "fr", 3); return "country lower-case";
    case 15: sample_card(S_LIMITS, ev); memset(lim->allowed_country[0], 'F', 3); return "country unterminated";
    case 16: sample_card(S_LIMITS, ev); lim->week_amount = -1; return "week_amount negative";
    case 17: sample_card(S_BLOCKED, ev); ev->data.card_action.reason = 0; return "block reason 0";
    case 18: sample_card(S_UNBLOCKED, ev); ev->data.card_action.reason = CARD_BLOCK_USER | CARD_BLOCK_LOST; return "two reasons";
    case 19: sample_card(S_AUTHORIZED, ev); memset(de->authorization_id, 'x', sizeof de->authorization_id); return "authorization_id unterminated";
    case 20: sample_card(S_AUTHORIZED, ev); memcpy(de->response_code, "0", 2); return "response code of 1 digit";
    case 21: sample_card(S_AUTHORIZED, ev); memcpy(de->response_code, "N7", 3); return "response code N7";
    case 22: sample_card(S_AUTHORIZED, ev); memset(de->response_code, '0', 3); return "response code unterminated";
    case 23: sample_card(S_AUTHORIZED, ev); memset(de->approval_code, 'A', 7); return "approval code unterminated";
    case 24: sample_card(S_AUTHORIZED, ev); de->channel = 0; return "channel 0";
    case 25: sample_card(S_DECLINED, ev); de->channel = 5; return "channel 5";
    case 26: sample_card(S_DECLINED, ev); de->category = 3; return "category 3";
    case 27: sample_card(S_AUTHORIZED, ev); de->amount_requested = 0; return "amount_requested 0";
    case 28: sample_card(S_DECLINED, ev); de->amount_approved = -1; return "amount_approved negative";
    case 29: sample_card(S_AUTHORIZED, ev); memset(de->merchant.name, 'm', sizeof de->merchant.name); return "merchant name unterminated";
    case 30: sample_card(S_AUTHORIZED, ev); de->merchant.mcc = 10000; return "merchant mcc 10000";
    case 31: sample_card(S_AUTHORIZED, ev); memcpy(de->merchant.country, "F", 2); return "merchant country of 1";
    case 32: sample_card(S_AUTHORIZED, ev); memset(de->currency, 'E', 4); return "currency unterminated";
    case 33: sample_card(S_CAPTURED, ev); ev->data.card_hold.amount = -1; return "captured amount negative";
    case 34: sample_card(S_REVERSED, ev); ev->data.card_hold.released = -1; return "released negative";
    case 35: sample_card(S_REFUNDED, ev); re->amount = 0; return "refund amount 0";
    case 36: sample_card(S_REFUNDED, ev); memset(re->merchant.id, 'i', sizeof re->merchant.id); return "merchant id unterminated";
    case 37: sample_card(S_REFUNDED, ev); memset(re->authorization_id, 'x', sizeof re->authorization_id); return "refund auth id unterminated";
    case 38: sample_card(S_ACTIVATED, ev); ev->data.card_action.reason = CARD_BLOCK_USER; return "activated with a reason";
    case 39: sample_card(S_DESTROYED, ev); ev->data.card_action.reason = CARD_BLOCK_LOST; return "destroyed with a reason";
    default: return NULL;
    }
}

Test(cards, encoder_refuses_invalid_values)
{
    /* Proves event_encode returns 0 (instead of writing a record its decoder refuses) for every
     * invalid card value: unterminated strings, unknown enum values, over-full list counts, bad
     * MCCs, countries, expiry, last four and response codes, out-of-range amounts, and a reason on
     * card.activated / card.destroyed (which the record cannot carry). */
    int k = 0;
    for (;; k++) {
        struct event ev;
        uint8_t buf[LEDGER_RECORD_BYTES_MAX];
        const char *what = break_value(k, &ev);
        if (what == NULL)
            break;
        cr_assert_eq(event_encode(&ev, buf, sizeof buf), 0, "%s: encoded", what);
    }
    cr_assert_eq(k, 40);
}

/* ---- the documented layout ------------------------------------------------------------------- */

static const char *const issued_keys[] = {"card_id", "account_id", "type", "brand", "last_four", "token",
                                          "expiry", "name_on_card", "replaces", "limits", NULL};
static const char *const card_keys[] = {"card_id", NULL};
static const char *const block_keys[] = {"card_id", "reason", NULL};
static const char *const limits_changed_keys[] = {"card_id", "limits", NULL};
static const char *const replaced_keys[] = {"card_id", "new_card_id", NULL};
static const char *const decision_keys[] = {
    "hold_id", "authorization_id", "original_authorization_id", "card_id", "account_id", "amount_requested",
    "amount_approved", "currency", "merchant", "channel", "category", "response_code", "approval_code",
    "available_after", "expires_at", "stand_in", NULL};
static const char *const hold_keys[] = {"hold_id", "card_id", "account_id", "operation_id", "amount", "released",
                                        "currency", "final", NULL};
static const char *const refund_keys[] = {"refund_id", "card_id", "account_id", "amount", "currency",
                                          "authorization_id", "merchant", NULL};
static const char *const limits_keys[] = {
    "per_auth_max", "day_amount", "week_amount", "month_amount", "day_count", "week_count", "month_count",
    "atm_day_amount", "atm_month_amount", "allowed_mcc", "blocked_mcc", "allowed_countries", "blocked_countries",
    "ecom", "contactless", "atm", NULL};
static const char *const merchant_keys[] = {"name", "mcc", "country", "id", NULL};

static const char *const *keys_of(uint16_t type)
{
    switch (type) {
    case EVENT_CARD_ISSUED: return issued_keys;
    case EVENT_CARD_ACTIVATED:
    case EVENT_CARD_DESTROYED: return card_keys;
    case EVENT_CARD_BLOCKED:
    case EVENT_CARD_UNBLOCKED: return block_keys;
    case EVENT_CARD_LIMITS_CHANGED: return limits_changed_keys;
    case EVENT_CARD_REPLACED: return replaced_keys;
    case EVENT_CARD_AUTHORIZED:
    case EVENT_CARD_DECLINED: return decision_keys;
    case EVENT_CARD_CAPTURED:
    case EVENT_CARD_REVERSED:
    case EVENT_CARD_HOLD_EXPIRED: return hold_keys;
    case EVENT_CARD_REFUNDED: return refund_keys;
    }
    cr_assert_fail("type %u", type);
    return NULL;
}

static bool is_id_key(const char *key)
{
    size_t n = strlen(key);
    return strcmp(key, "replaces") == 0 || (n > 3 && strcmp(key + n - 3, "_id") == 0 && strcmp(key, "authorization_id") != 0 &&
                                            strcmp(key, "original_authorization_id") != 0);
}

/* The msgpack map o has exactly keys, in order; ids are bin 16, nested maps recurse. */
static void assert_msgpack_keys(const msgpack_object *o, const char *const *keys, const char *where)
{
    size_t n = 0;
    while (keys[n] != NULL)
        n++;
    cr_assert_eq(o->type, MSGPACK_OBJECT_MAP, "%s", where);
    cr_assert_eq(o->via.map.size, n, "%s: %u keys", where, o->via.map.size);
    for (size_t i = 0; i < n; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        cr_assert(key_eq(&kv->key, keys[i], strlen(keys[i])), "%s: key %zu is not %s", where, i, keys[i]);
        if (is_id_key(keys[i]))
            cr_assert(kv->val.type == MSGPACK_OBJECT_BIN && kv->val.via.bin.size == 16, "%s.%s", where, keys[i]);
        if (strcmp(keys[i], "limits") == 0)
            assert_msgpack_keys(&kv->val, limits_keys, "limits");
        if (strcmp(keys[i], "merchant") == 0)
            assert_msgpack_keys(&kv->val, merchant_keys, "merchant");
    }
}

Test(cards, data_keys_are_the_documented_ones)
{
    /* Proves each card record's data map (unpacked with stock msgpack-c) has exactly the keys of
     * docs/EVENT-FORMAT.md in that order, ids as bin 16, limits and merchant as nested maps with
     * their documented keys, lists as arrays. */
    for (int i = 0; i < CARD_SAMPLES; i++) {
        struct event ev;
        uint8_t buf[LEDGER_RECORD_BYTES_MAX];
        size_t len = encode_card(i, &ev, buf, sizeof buf);
        struct tree t;
        tree_load(&t, buf, len);
        char where[32];
        snprintf(where, sizeof where, "sample %d", i);
        assert_msgpack_keys(tree_data(&t), keys_of(ev.type), where);
        if (ev.type == EVENT_CARD_ISSUED || ev.type == EVENT_CARD_LIMITS_CHANGED) {
            uint32_t k = 0;
            msgpack_object *limits = tree_locate(&t, "limits.allowed_mcc", &k);
            for (uint32_t j = 9; j < 13; j++)
                cr_assert_eq(limits->via.map.ptr[j].val.type, MSGPACK_OBJECT_ARRAY);
        }
        msgpack_zone_destroy(&t.zone);
    }
}

/* ---- JSON ------------------------------------------------------------------------------------- */

static json_t *render(const struct event *ev, size_t cap, size_t *len_out)
{
    static char out[2 * CALLER_JSON_CAP];
    cr_assert_leq(cap, sizeof out);
    size_t len = event_to_json(ev, out, cap);
    cr_assert_gt(len, 0, "JSON does not fit %zu bytes", cap);
    cr_assert_eq(strlen(out), len);
    json_error_t jerr;
    json_t *root = json_loads(out, 0, &jerr);
    cr_assert_not_null(root, "invalid JSON (%s) at %d: %s", jerr.text, jerr.position, out);
    if (len_out != NULL)
        *len_out = len;
    return root;
}

static void assert_json_keys(json_t *obj, const char *const *keys, const char *where)
{
    cr_assert(json_is_object(obj), "%s", where);
    size_t i = 0;
    for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it), i++) {
        cr_assert_not_null(keys[i], "%s: extra key %s", where, json_object_iter_key(it));
        cr_assert_str_eq(json_object_iter_key(it), keys[i], "%s: key %zu", where, i);
    }
    cr_assert_null(keys[i], "%s: missing %s", where, keys[i]);
}

static void assert_json_str(json_t *obj, const char *key, const char *want)
{
    json_t *v = json_object_get(obj, key);
    cr_assert(json_is_string(v), "%s is not a string", key);
    cr_assert_str_eq(json_string_value(v), want, "%s", key);
}

static void assert_json_int(json_t *obj, const char *key, int64_t want)
{
    json_t *v = json_object_get(obj, key);
    cr_assert(json_is_integer(v), "%s is not an integer", key);
    cr_assert_eq(json_integer_value(v), want, "%s", key);
}

static void assert_json_bool(json_t *obj, const char *key, bool want)
{
    json_t *v = json_object_get(obj, key);
    cr_assert(json_is_boolean(v), "%s is not a boolean", key);
    cr_assert_eq(json_is_true(v), want, "%s", key);
}

static void assert_json_id(json_t *obj, const char *key, const struct ledger_id *id)
{
    char text[LEDGER_ID_TEXT_LEN + 1];
    ledger_id_format(id, text);
    assert_json_str(obj, key, text);
}

static void assert_json_merchant(json_t *data, const struct merchant *m)
{
    json_t *o = json_object_get(data, "merchant");
    assert_json_keys(o, merchant_keys, "merchant");
    assert_json_str(o, "name", m->name);
    assert_json_int(o, "mcc", m->mcc);
    assert_json_str(o, "country", m->country);
    assert_json_str(o, "id", m->id);
}

static void assert_json_limits(json_t *data, const struct card_limits *l)
{
    json_t *o = json_object_get(data, "limits");
    assert_json_keys(o, limits_keys, "limits");
    assert_json_int(o, "per_auth_max", l->per_auth_max);
    assert_json_int(o, "day_amount", l->day_amount);
    assert_json_int(o, "week_amount", l->week_amount);
    assert_json_int(o, "month_amount", l->month_amount);
    assert_json_int(o, "day_count", l->day_count);
    assert_json_int(o, "week_count", l->week_count);
    assert_json_int(o, "month_count", l->month_count);
    assert_json_int(o, "atm_day_amount", l->atm_day_amount);
    assert_json_int(o, "atm_month_amount", l->atm_month_amount);
    const struct {
        const char *key;
        const uint16_t *mcc;
        const char (*country)[3];
        uint8_t n;
    } lists[] = {
        {"allowed_mcc", l->allowed_mcc, NULL, l->allowed_mcc_n},
        {"blocked_mcc", l->blocked_mcc, NULL, l->blocked_mcc_n},
        {"allowed_countries", NULL, l->allowed_country, l->allowed_country_n},
        {"blocked_countries", NULL, l->blocked_country, l->blocked_country_n},
    };
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
        json_t *a = json_object_get(o, lists[k].key);
        cr_assert(json_is_array(a), "%s", lists[k].key);
        cr_assert_eq(json_array_size(a), lists[k].n, "%s", lists[k].key);
        for (size_t j = 0; j < lists[k].n; j++) {
            json_t *e = json_array_get(a, j);
            if (lists[k].mcc != NULL)
                cr_assert(json_is_integer(e) && json_integer_value(e) == lists[k].mcc[j], "%s[%zu]", lists[k].key, j);
            else
                cr_assert(json_is_string(e) && strcmp(json_string_value(e), lists[k].country[j]) == 0, "%s[%zu]",
                          lists[k].key, j);
        }
    }
    assert_json_bool(o, "ecom", l->ecom);
    assert_json_bool(o, "contactless", l->contactless);
    assert_json_bool(o, "atm", l->atm);
}

static void assert_json_data(json_t *data, const struct event *ev)
{
    switch (ev->type) {
    case EVENT_CARD_ISSUED: {
        const struct ev_card_issued *d = &ev->data.card_issued;
        assert_json_id(data, "card_id", &d->card_id);
        assert_json_id(data, "account_id", &d->account_id);
        assert_json_str(data, "type", card_type_name(d->type));
        assert_json_str(data, "brand", d->brand);
        assert_json_str(data, "last_four", d->last_four);
        assert_json_str(data, "token", d->token);
        assert_json_str(data, "expiry", d->expiry);
        assert_json_str(data, "name_on_card", d->name_on_card);
        assert_json_id(data, "replaces", &d->replaces);
        assert_json_limits(data, &d->limits);
        break;
    }
    case EVENT_CARD_ACTIVATED:
    case EVENT_CARD_DESTROYED: assert_json_id(data, "card_id", &ev->data.card_action.card_id); break;
    case EVENT_CARD_BLOCKED:
    case EVENT_CARD_UNBLOCKED:
        assert_json_id(data, "card_id", &ev->data.card_action.card_id);
        assert_json_str(data, "reason", card_block_name(ev->data.card_action.reason));
        break;
    case EVENT_CARD_LIMITS_CHANGED:
        assert_json_id(data, "card_id", &ev->data.card_limits.card_id);
        assert_json_limits(data, &ev->data.card_limits.limits);
        break;
    case EVENT_CARD_REPLACED:
        assert_json_id(data, "card_id", &ev->data.card_replaced.card_id);
        assert_json_id(data, "new_card_id", &ev->data.card_replaced.new_card_id);
        break;
    case EVENT_CARD_AUTHORIZED:
    case EVENT_CARD_DECLINED: {
        const struct ev_card_decision *d = &ev->data.card_decision;
        assert_json_id(data, "hold_id", &d->hold_id);
        assert_json_str(data, "authorization_id", d->authorization_id);
        assert_json_str(data, "original_authorization_id", d->original_authorization_id);
        assert_json_id(data, "card_id", &d->card_id);
        assert_json_id(data, "account_id", &d->account_id);
        assert_json_int(data, "amount_requested", d->amount_requested);
        assert_json_int(data, "amount_approved", d->amount_approved);
        assert_json_str(data, "currency", d->currency);
        assert_json_merchant(data, &d->merchant);
        assert_json_str(data, "channel", card_channel_name(d->channel));
        assert_json_str(data, "category", auth_category_name(d->category));
        assert_json_str(data, "response_code", d->response_code);
        assert_json_str(data, "approval_code", d->approval_code);
        assert_json_int(data, "available_after", d->available_after);
        assert_json_int(data, "expires_at", d->expires_at_ns);
        assert_json_bool(data, "stand_in", d->stand_in);
        break;
    }
    case EVENT_CARD_CAPTURED:
    case EVENT_CARD_REVERSED:
    case EVENT_CARD_HOLD_EXPIRED: {
        const struct ev_card_hold_change *d = &ev->data.card_hold;
        assert_json_id(data, "hold_id", &d->hold_id);
        assert_json_id(data, "card_id", &d->card_id);
        assert_json_id(data, "account_id", &d->account_id);
        assert_json_id(data, "operation_id", &d->operation_id);
        assert_json_int(data, "amount", d->amount);
        assert_json_int(data, "released", d->released);
        assert_json_str(data, "currency", d->currency);
        assert_json_bool(data, "final", d->final);
        break;
    }
    case EVENT_CARD_REFUNDED: {
        const struct ev_card_refunded *d = &ev->data.card_refund;
        assert_json_id(data, "refund_id", &d->refund_id);
        assert_json_id(data, "card_id", &d->card_id);
        assert_json_id(data, "account_id", &d->account_id);
        assert_json_int(data, "amount", d->amount);
        assert_json_str(data, "currency", d->currency);
        assert_json_str(data, "authorization_id", d->authorization_id);
        assert_json_merchant(data, &d->merchant);
        break;
    }
    default: cr_assert_fail("type %u", ev->type);
    }
}

Test(cards, json_renders_every_card_type)
{
    /* Proves event_to_json of every card sample (decoded from its record) parses with jansson,
     * names the type, has the documented data keys in order with the right values (ids as UUID
     * text, enums as names, lists as arrays, merchant and limits as objects, booleans as
     * true/false), and returns 0 for every cap too small. */
    for (int i = S_ISSUED_MIN; i < CARD_SAMPLES; i++) { /* S_ISSUED_FULL's seq is beyond jansson's ints */
        struct event ev, back;
        uint8_t buf[LEDGER_RECORD_BYTES_MAX];
        size_t len = encode_card(i, &ev, buf, sizeof buf);
        cr_assert_eq(decode_exact(buf, len, &back), LEDGER_ERR_OK);
        size_t jlen = 0;
        json_t *root = render(&back, CALLER_JSON_CAP, &jlen);
        assert_json_str(root, "type", event_type_name(ev.type));
        assert_json_int(root, "type_id", ev.type);
        assert_json_int(root, "seq", (int64_t)ev.seq);
        json_t *data = json_object_get(root, "data");
        assert_json_keys(data, keys_of(ev.type), event_type_name(ev.type));
        assert_json_data(data, &ev);
        json_decref(root);
        char *small = malloc(jlen + 1);
        cr_assert_not_null(small);
        for (size_t cap = 0; cap <= jlen; cap++)
            cr_assert_eq(event_to_json(&back, small, cap), 0, "sample %d: cap %zu", i, cap);
        cr_assert_eq(event_to_json(&back, small, jlen + 1), jlen);
        free(small);
    }
    struct event ev;
    sample_card(S_ISSUED_FULL, &ev);
    ev.seq = ev.stream_ver = 1;
    json_t *root = render(&ev, CALLER_JSON_CAP, NULL);
    assert_json_data(json_object_get(root, "data"), &ev);
    json_decref(root);
}

Test(cards, worst_case_json_fits_callers_buffers)
{
    /* Proves the largest card events with every string made of control characters (each escaped
     * to 6 bytes) still render within the 4096 bytes that api/, tools/ and the fuzz target pass,
     * and parse back to the same strings. */
    static const int samples[] = {S_ISSUED_FULL, S_AUTHORIZED, S_REFUNDED};
    for (size_t k = 0; k < sizeof samples / sizeof samples[0]; k++) {
        struct event ev;
        uint8_t buf[LEDGER_RECORD_BYTES_MAX];
        sample_card(samples[k], &ev);
        ev.seq = ev.stream_ver = 1; /* UINT64_MAX is beyond jansson's integers */
        fill_control(ev.actor, LEDGER_ACTOR_MAX);
        if (ev.type == EVENT_CARD_ISSUED) {
            fill_control(ev.data.card_issued.brand, LEDGER_CARD_BRAND_MAX);
            fill_control(ev.data.card_issued.token, LEDGER_CARD_TOKEN_MAX);
            fill_control(ev.data.card_issued.name_on_card, LEDGER_NAME_ON_CARD_MAX);
            ev.data.card_issued.limits.day_amount = INT64_MAX;
            ev.data.card_issued.limits.week_count = UINT32_MAX;
        } else if (ev.type == EVENT_CARD_AUTHORIZED) {
            struct ev_card_decision *d = &ev.data.card_decision;
            fill_control(d->authorization_id, LEDGER_AUTH_ID_MAX);
            fill_control(d->original_authorization_id, LEDGER_AUTH_ID_MAX);
            fill_control(d->approval_code, 6);
            fill_control(d->merchant.name, LEDGER_MERCHANT_NAME_MAX);
            fill_control(d->merchant.id, LEDGER_MERCHANT_ID_MAX);
            fill_control(d->currency, 3);
        } else {
            struct ev_card_refunded *d = &ev.data.card_refund;
            fill_control(d->authorization_id, LEDGER_AUTH_ID_MAX);
            fill_control(d->merchant.name, LEDGER_MERCHANT_NAME_MAX);
            fill_control(d->merchant.id, LEDGER_MERCHANT_ID_MAX);
            fill_control(d->currency, 3);
        }
        cr_assert_gt(event_encode(&ev, buf, sizeof buf), 0, "sample %d", samples[k]);
        size_t len = 0;
        json_t *root = render(&ev, CALLER_JSON_CAP, &len);
        cr_log_info("%s worst-case JSON: %zu bytes", event_type_name(ev.type), len);
        assert_json_str(root, "actor", ev.actor);
        assert_json_data(json_object_get(root, "data"), &ev);
        json_decref(root);
    }
}

/* ---- event_touches_account ------------------------------------------------------------------- */

Test(cards, touches_account)
{
    /* Proves event_touches_account is true for the account_id of card.issued, decisions, hold
     * changes and refunds (and false for any other id, the card's included), and false for
     * card.activated/blocked/unblocked/limits_changed/replaced/destroyed, which carry no account. */
    const struct ledger_id account = id_of(10), card = id_of(40), other = id_of(99);
    for (int i = 0; i < CARD_SAMPLES; i++) {
        struct event ev;
        sample_card(i, &ev);
        bool has_account = ev.type == EVENT_CARD_ISSUED || ev.type == EVENT_CARD_AUTHORIZED ||
                           ev.type == EVENT_CARD_CAPTURED || ev.type == EVENT_CARD_REVERSED ||
                           ev.type == EVENT_CARD_HOLD_EXPIRED || ev.type == EVENT_CARD_REFUNDED;
        cr_assert_eq(event_touches_account(&ev, &account), has_account, "sample %d", i);
        cr_assert_not(event_touches_account(&ev, &card), "sample %d: the card id", i);
        cr_assert_not(event_touches_account(&ev, &other), "sample %d", i);
    }
    struct event ev;
    sample_card(S_DECLINED, &ev); /* unknown card: zero account */
    struct ledger_id zero = {{0}};
    cr_assert(event_touches_account(&ev, &zero));
    cr_assert_not(event_touches_account(&ev, &account));
    ev.data.card_decision.account_id = account;
    cr_assert(event_touches_account(&ev, &account));
    sample_card(S_ACTIVATED, &ev);
    ev.data.card_action.card_id = account;
    cr_assert_not(event_touches_account(&ev, &account), "card.activated names no account");
    sample_card(S_REFUNDED, &ev);
    ev.type = EVENT_CARD_REFUNDED + 1;
    cr_assert_not(event_touches_account(&ev, &account), "unknown type");
}
