/*
 * test_codec_golden.c: the bytes of every kind of record and its JSON, pinned.
 *
 * A record's bytes are hashed into the chain and kept forever, so no change to the encoder may
 * move one byte: existing ledgers must still verify. Each case below builds one deterministic
 * event; event_encode() must write exactly the recorded bytes and event_to_json() exactly the
 * recorded text. Both were recorded from the encoder of commit e6c003b (before the field tables
 * drove the packers) and must never be re-recorded for a v1 event: a new layout is a new version
 * (events.h). The recorded records also decode, verify their hash and re-encode to themselves.
 *
 * The cases cover every event type of LEDGER_EVENT_MAP, every value of every enumeration in a
 * record, every rights set, strings empty and at their maximum (UTF-8, quotes, backslashes and
 * control characters), lists empty, partial and full, booleans both ways, an optional id zero and
 * set, and every msgpack integer width (positive and negative) in the envelope and the data.
 * On a mismatch the test prints what the encoder wrote, as hex, after the case's name.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"
#include "tests/codec_fixture.h"

#define HEX_MAX (2 * LEDGER_RECORD_BYTES_MAX + 1)

/* ---- builders ------------------------------------------------------------------------------ */

#define id_of fixture_id

/* n bytes of dst: the pattern repeated (cut at n), then the NUL. */
static void fill(char *dst, size_t n, const char *pattern)
{
    size_t p = strlen(pattern);
    for (size_t i = 0; i < n; i++)
        dst[i] = pattern[i % p];
    dst[n] = '\0';
}

/* A string that exercises the JSON escapes and UTF-8 (8 bytes a round, each round whole). */
#define TRICKY "\"\\\x01\x1f\xc3\xa9" "a/"

static void envelope(struct event *ev, uint64_t seq, uint16_t type)
{
    fixture_envelope(ev, seq, type, "user:alice");
}

/* Envelopes on account.closed: every integer width of seq, ts_ns and stream_ver, actor empty and
 * full, a genesis prev_hash. */
static void b_envelope(struct event *ev, int v)
{
    static const struct {
        uint64_t seq;
        int64_t ts_ns;
        uint64_t stream_ver;
    } e[] = {
        {1, 0, 1},
        {127, -1, 128},
        {128, -32, 255},
        {255, -33, 256},
        {256, -128, 65535},
        {65535, -129, 65536},
        {65536, -32768, UINT32_MAX},
        {UINT32_MAX, -32769, (uint64_t)UINT32_MAX + 1},
        {(uint64_t)UINT32_MAX + 1, INT32_MIN, INT64_MAX},
        {INT64_MAX, (int64_t)INT32_MIN - 1, UINT64_MAX},
        {UINT64_MAX, INT64_MIN, 1},
        {42, INT64_MAX, 2},
    };
    envelope(ev, e[v].seq, EVENT_ACCOUNT_CLOSED);
    ev->ts_ns = e[v].ts_ns;
    ev->stream_ver = e[v].stream_ver;
    ev->data.closed.account_id = id_of(10);
    if (v == 0) {
        memset(ev->prev_hash, 0, sizeof ev->prev_hash);
        memset(ev->actor, 0, sizeof ev->actor);
    }
    if (v == 1)
        fill(ev->actor, LEDGER_ACTOR_MAX, TRICKY);
}

static void b_opened(struct event *ev, int v)
{
    envelope(ev, 100, EVENT_ACCOUNT_OPENED);
    struct ev_account_opened *d = &ev->data.opened;
    d->account_id = id_of(10);
    if (v == 0) { /* customer, every string at its maximum */
        d->kind = ACCOUNT_KIND_CUSTOMER;
        fill(d->holder_id, LEDGER_HOLDER_ID_MAX, TRICKY);
        memcpy(d->currency, "EUR", 4);
        fill(d->friendly_name, LEDGER_FRIENDLY_NAME_MAX, "f\xe2\x82\xac");
        d->overdraft_limit_minor = INT64_MAX;
        fill(d->iban, LEDGER_IBAN_MAX, "MT84");
    } else if (v == 1) { /* internal, overdraft 0, empty friendly name and IBAN */
        d->kind = ACCOUNT_KIND_INTERNAL;
        snprintf(d->holder_id, sizeof d->holder_id, "bank");
        memcpy(d->currency, "JPY", 4);
    } else { /* a typical customer account */
        d->kind = ACCOUNT_KIND_CUSTOMER;
        snprintf(d->holder_id, sizeof d->holder_id, "holder-42");
        memcpy(d->currency, "EUR", 4);
        snprintf(d->friendly_name, sizeof d->friendly_name, "Courant \xf0\x9f\x92\xb6");
        d->overdraft_limit_minor = 128;
        snprintf(d->iban, sizeof d->iban, "FR7630006000011234567890189");
    }
}

static const uint8_t block_reasons[] = {BLOCK_USER, BLOCK_SYSTEM, BLOCK_COMPLIANCE, BLOCK_LOST};

static void b_blocked(struct event *ev, int v)
{
    envelope(ev, 101, EVENT_ACCOUNT_BLOCKED);
    ev->data.blocked.account_id = id_of(11);
    ev->data.blocked.reason = block_reasons[v];
}

static void b_unblocked(struct event *ev, int v)
{
    envelope(ev, 102, EVENT_ACCOUNT_UNBLOCKED);
    ev->data.blocked.account_id = id_of(12);
    ev->data.blocked.reason = block_reasons[v];
}

/* Every positive integer width of the amount; kinds alternate; references empty, full, typical. */
static void b_transfer(struct event *ev, int v)
{
    static const int64_t amounts[] = {1, 127, 128, 255, 256, 65535, 65536, UINT32_MAX, (int64_t)UINT32_MAX + 1,
                                      INT64_MAX};
    envelope(ev, 103, EVENT_TRANSFER_EXECUTED);
    struct ev_transfer_executed *d = &ev->data.transfer;
    d->transfer_id = id_of(20);
    d->debit_account_id = id_of(10);
    d->credit_account_id = id_of(11);
    d->amount_minor = amounts[v];
    memcpy(d->currency, v % 3 == 2 ? "KWD" : "EUR", 4);
    d->kind = v % 2 == 0 ? TRANSFER_KIND_TRANSFER : TRANSFER_KIND_DEPOSIT;
    if (v == 1)
        fill(d->reference, LEDGER_REFERENCE_MAX, TRICKY);
    else if (v > 1)
        snprintf(d->reference, sizeof d->reference, "invoice %d", v);
}

/* ---- card builders -------------------------------------------------------------------------- */

static const char countries[LEDGER_CARD_LIST_MAX][3] = {"FR", "DE", "ES", "IT", "NL", "BE", "LU", "PT",
                                                        "IE", "AT", "FI", "GR", "SK", "SI", "EE", "LV"};

/* v 0: every list full, extreme amounts and counts, switches on; 1: all zero and empty, switches
 * off; 2: partial lists with every MCC width, mid counts, switches mixed. */
static void limits(struct card_limits *l, int v)
{
    memset(l, 0, sizeof *l);
    if (v == 1)
        return;
    static const uint16_t mcc[] = {0, 127, 128, 255, 256, 9999};
    bool full = v == 0;
    l->per_auth_max = full ? INT64_MAX : 50000;
    l->day_amount = full ? 1 : 128;
    l->week_amount = full ? 65536 : 0;
    l->month_amount = full ? 123456789012 : 256;
    l->day_count = full ? UINT32_MAX : 127;
    l->week_count = full ? 65536 : 128;
    l->month_count = full ? 65535 : 256;
    l->atm_day_amount = full ? INT64_MAX - 1 : 0;
    l->atm_month_amount = full ? 4294967296 : 255;
    l->allowed_mcc_n = full ? LEDGER_CARD_LIST_MAX : 6;
    l->blocked_mcc_n = full ? LEDGER_CARD_LIST_MAX : 1;
    l->allowed_country_n = full ? LEDGER_CARD_LIST_MAX : 1;
    l->blocked_country_n = full ? LEDGER_CARD_LIST_MAX : 0;
    for (int i = 0; i < l->allowed_mcc_n; i++)
        l->allowed_mcc[i] = full ? (uint16_t)(5411 + i * 7) : mcc[i];
    for (int i = 0; i < l->blocked_mcc_n; i++)
        l->blocked_mcc[i] = (uint16_t)(7995 - i * 3);
    for (int i = 0; i < l->allowed_country_n; i++)
        memcpy(l->allowed_country[i], countries[i], 3);
    for (int i = 0; i < l->blocked_country_n; i++)
        memcpy(l->blocked_country[i], countries[LEDGER_CARD_LIST_MAX - 1 - i], 3);
    l->ecom = true;
    l->contactless = full;
    l->atm = full;
}

static void merchant(struct merchant *m, int v)
{
    if (v == 0) { /* every string at its maximum */
        fill(m->name, LEDGER_MERCHANT_NAME_MAX, TRICKY);
        m->mcc = 9999;
        memcpy(m->country, "FR", 3);
        fill(m->id, LEDGER_MERCHANT_ID_MAX, "id-");
    } else if (v == 1) { /* unknown country, MCC 0, empty strings */
        m->mcc = 0;
    } else {
        snprintf(m->name, sizeof m->name, "Boulangerie");
        m->mcc = 5462;
        memcpy(m->country, "DE", 3);
        snprintf(m->id, sizeof m->id, "M-128");
    }
}

static void b_card_issued(struct event *ev, int v)
{
    envelope(ev, 200, EVENT_CARD_ISSUED);
    struct ev_card_issued *d = &ev->data.card_issued;
    d->card_id = id_of(40);
    d->account_id = id_of(10);
    d->type = v == 1 ? CARD_TYPE_PHYSICAL : CARD_TYPE_VIRTUAL;
    memcpy(d->last_four, v == 0 ? "0987" : "0000", 5);
    memcpy(d->expiry, v == 0 ? "1299" : "0130", 5);
    if (v == 0) { /* strings full, replaces a card, limits full */
        fill(d->brand, LEDGER_CARD_BRAND_MAX, "visa");
        fill(d->token, LEDGER_CARD_TOKEN_MAX, "tok_");
        fill(d->name_on_card, LEDGER_NAME_ON_CARD_MAX, "\xc3\x89");
        d->replaces = id_of(41);
    } else if (v == 2) {
        snprintf(d->brand, sizeof d->brand, "mastercard");
        snprintf(d->token, sizeof d->token, "tok_123");
        snprintf(d->name_on_card, sizeof d->name_on_card, "ALICE MARTIN");
    }
    limits(&d->limits, v);
}

static void b_card_activated(struct event *ev, int v)
{
    (void)v;
    envelope(ev, 201, EVENT_CARD_ACTIVATED);
    ev->data.card_action.card_id = id_of(40);
}

static const uint8_t card_blocks[] = {CARD_BLOCK_USER, CARD_BLOCK_SYSTEM, CARD_BLOCK_LOST, CARD_BLOCK_STOLEN};

static void b_card_blocked(struct event *ev, int v)
{
    envelope(ev, 202, EVENT_CARD_BLOCKED);
    ev->data.card_action.card_id = id_of(40);
    ev->data.card_action.reason = card_blocks[v];
}

static void b_card_unblocked(struct event *ev, int v)
{
    envelope(ev, 203, EVENT_CARD_UNBLOCKED);
    ev->data.card_action.card_id = id_of(40);
    ev->data.card_action.reason = card_blocks[v];
}

static void b_card_limits(struct event *ev, int v)
{
    envelope(ev, 204, EVENT_CARD_LIMITS_CHANGED);
    ev->data.card_limits.card_id = id_of(40);
    limits(&ev->data.card_limits.limits, v);
}

static void b_card_replaced(struct event *ev, int v)
{
    (void)v;
    envelope(ev, 205, EVENT_CARD_REPLACED);
    ev->data.card_replaced.card_id = id_of(40);
    ev->data.card_replaced.new_card_id = id_of(42);
}

static void b_card_destroyed(struct event *ev, int v)
{
    (void)v;
    envelope(ev, 206, EVENT_CARD_DESTROYED);
    ev->data.card_action.card_id = id_of(42);
}

/* Approvals: every channel and category, an incremental one, stand-in, partial approval. */
static void b_card_authorized(struct event *ev, int v)
{
    static const uint8_t channels[] = {CHANNEL_POS, CHANNEL_ECOM, CHANNEL_ATM, CHANNEL_CONTACTLESS};
    envelope(ev, 207, EVENT_CARD_AUTHORIZED);
    struct ev_card_decision *d = &ev->data.card_decision;
    d->hold_id = id_of(50);
    d->card_id = id_of(40);
    d->account_id = id_of(10);
    memcpy(d->currency, "EUR", 4);
    d->channel = channels[v];
    d->category = v % 2 == 0 ? AUTH_FINAL : AUTH_PRE;
    d->amount_requested = v == 0 ? INT64_MAX : 12345;
    d->amount_approved = v == 3 ? 10000 : d->amount_requested;
    memcpy(d->response_code, v == 3 ? "10" : "00", 3);
    memcpy(d->approval_code, "A1B2C3", 7);
    d->available_after = v == 0 ? 0 : 987654321;
    d->expires_at_ns = v == 0 ? INT64_MAX : 1700604800000000000ll;
    d->stand_in = v == 2;
    merchant(&d->merchant, v == 0 ? 0 : 2);
    if (v == 0) {
        fill(d->authorization_id, LEDGER_AUTH_ID_MAX, TRICKY);
        fill(d->original_authorization_id, LEDGER_AUTH_ID_MAX, "orig");
    } else {
        snprintf(d->authorization_id, sizeof d->authorization_id, "auth-%d", v);
        if (v == 1) /* an increment of auth-0 */
            snprintf(d->original_authorization_id, sizeof d->original_authorization_id, "auth-0");
    }
}

/* Declines: every negative integer width of available_after; an unknown card (zero ids). */
static void b_card_declined(struct event *ev, int v)
{
    static const int64_t after[] = {-1, -32, -33, -128, -129, -32768, -32769, INT32_MIN, (int64_t)INT32_MIN - 1,
                                    INT64_MIN};
    envelope(ev, 208, EVENT_CARD_DECLINED);
    struct ev_card_decision *d = &ev->data.card_decision;
    d->hold_id = id_of(51);
    snprintf(d->authorization_id, sizeof d->authorization_id, "decl-%d", v);
    if (v != 0) {
        d->card_id = id_of(40);
        d->account_id = id_of(10);
    }
    d->amount_requested = 1 + v;
    memcpy(d->currency, "USD", 4);
    merchant(&d->merchant, 1 + v % 2);
    d->channel = (uint8_t)(CHANNEL_POS + v % 4);
    d->category = v % 2 == 0 ? AUTH_PRE : AUTH_FINAL;
    memcpy(d->response_code, v % 2 == 0 ? "51" : "05", 3);
    d->available_after = after[v];
}

static void hold_change(struct event *ev, uint16_t type, int64_t amount, int64_t released, bool final,
                        bool with_op)
{
    envelope(ev, 209, type);
    fixture_hold_change(ev, amount, released, final, with_op, "EUR");
}

static void b_card_captured(struct event *ev, int v)
{
    if (v == 0)
        hold_change(ev, EVENT_CARD_CAPTURED, 5000, 5000, false, true);
    else /* over-capture, closing the hold */
        hold_change(ev, EVENT_CARD_CAPTURED, INT64_MAX, 0, true, true);
}

static void b_card_reversed(struct event *ev, int v)
{
    (void)v;
    hold_change(ev, EVENT_CARD_REVERSED, 0, 7345, true, true);
}

static void b_card_hold_expired(struct event *ev, int v)
{
    (void)v;
    hold_change(ev, EVENT_CARD_HOLD_EXPIRED, 0, 128, true, false);
}

static void b_card_refunded(struct event *ev, int v)
{
    envelope(ev, 210, EVENT_CARD_REFUNDED);
    struct ev_card_refunded *d = &ev->data.card_refund;
    d->refund_id = id_of(70);
    d->card_id = id_of(40);
    d->account_id = id_of(10);
    d->amount = v == 0 ? 1 : 2500;
    memcpy(d->currency, "EUR", 4);
    if (v == 1)
        fill(d->authorization_id, LEDGER_AUTH_ID_MAX, "auth");
    merchant(&d->merchant, v == 0 ? 1 : 0);
}

/* ---- statement and access builders ---------------------------------------------------------- */

static void b_period_closed(struct event *ev, int v)
{
    static const struct {
        const char *period, *kind, *zone;
        int64_t start, end;
        uint64_t last_seq;
    } p[] = {
        {"2026-11", "monthly", "Europe/Paris", 1793487600000000000ll, 1796079600000000000ll, 41},
        {"2026-W47", "weekly", "America/Argentina/ComodRivadavia", -86400000000000ll, 0, 0},
        {"2026-11-21", "daily", "UTC", 1795215600000000000ll, 1795302000000000000ll, (uint64_t)UINT32_MAX + 1},
        {"1970-01-01", "daily", "Etc/GMT+12", INT64_MIN, INT64_MAX, INT64_MAX},
    };
    envelope(ev, 300, EVENT_STATEMENT_PERIOD_CLOSED);
    struct ev_period_closed *d = &ev->data.period_closed;
    snprintf(d->period, sizeof d->period, "%s", p[v].period);
    snprintf(d->kind, sizeof d->kind, "%s", p[v].kind);
    snprintf(d->time_zone, sizeof d->time_zone, "%s", p[v].zone);
    d->start_ns = p[v].start;
    d->end_ns = p[v].end;
    d->last_seq = p[v].last_seq;
}

static const uint8_t roles[] = {ROLE_ADMIN,   ROLE_COMPLIANCE,  ROLE_ANTIFRAUD,     ROLE_ACCOUNTANT,
                                ROLE_SUPPORT, ROLE_THIRD_PARTY, ROLE_CARD_PROCESSOR};

static void b_client_registered(struct event *ev, int v)
{
    envelope(ev, 400, EVENT_CLIENT_REGISTERED);
    struct ev_client_registered *d = &ev->data.client_registered;
    d->role = roles[v];
    if (v == 0) { /* id and name at their maximum */
        fill(d->client_id, LEDGER_CLIENT_ID_MAX, "aZ9._-");
        fill(d->name, LEDGER_CLIENT_NAME_MAX, TRICKY);
    } else {
        snprintf(d->client_id, sizeof d->client_id, "client-%d", v);
        snprintf(d->name, sizeof d->name, "Client %s", client_role_name((enum client_role)d->role));
    }
    if (d->role == ROLE_THIRD_PARTY)
        fill(d->third_party_id, LEDGER_THIRD_PARTY_ID_MAX, "tp.");
}

static void b_client_revoked(struct event *ev, int v)
{
    (void)v;
    envelope(ev, 401, EVENT_CLIENT_REVOKED);
    snprintf(ev->data.client_revoked.client_id, sizeof ev->data.client_revoked.client_id, "client-3");
}

/* Every non-empty set of rights: v + 1 as bits. */
static void b_third_party_declared(struct event *ev, int v)
{
    envelope(ev, 402, EVENT_THIRD_PARTY_DECLARED);
    ev->data.third_party.account_id = id_of(10);
    snprintf(ev->data.third_party.third_party_id, sizeof ev->data.third_party.third_party_id, "fintech-%d", v);
    ev->data.third_party.rights = (uint8_t)(v + 1);
}

static void b_third_party_removed(struct event *ev, int v)
{
    (void)v;
    envelope(ev, 403, EVENT_THIRD_PARTY_REMOVED);
    ev->data.third_party.account_id = id_of(10);
    fill(ev->data.third_party.third_party_id, LEDGER_THIRD_PARTY_ID_MAX, "x");
}

static void b_holder_identification(struct event *ev, int v)
{
    envelope(ev, 404, EVENT_HOLDER_IDENTIFICATION_CHANGED);
    if (v == 0)
        fill(ev->data.holder_identification.holder_id, LEDGER_HOLDER_ID_MAX, TRICKY);
    else
        snprintf(ev->data.holder_identification.holder_id, LEDGER_HOLDER_ID_MAX + 1, "holder-42");
    ev->data.holder_identification.identified = v == 0;
}

/* ---- the recorded cases ---------------------------------------------------------------------- */

struct golden {
    const char *name;
    void (*build)(struct event *ev, int variant);
    int variant;
    const char *hex;  /* what event_encode wrote */
    const char *json; /* what event_to_json wrote after it */
};

#include "tests/golden/codec_golden.inc"

#define CASES (sizeof golden / sizeof golden[0])

static size_t encode_case(const struct golden *g, struct event *ev, uint8_t *buf, size_t cap)
{
    g->build(ev, g->variant);
    size_t len = event_encode(ev, buf, cap);
    cr_assert_gt(len, 0, "%s: the encoder refused the event", g->name);
    return len;
}

/* On a mismatch, prints what was written (as hex: the JSON holds control characters) on one line. */
static void report(const struct golden *g, const char *what, const void *actual, size_t n)
{
    char hex[2 * LEDGER_EVENT_JSON_MAX + 1];
    ledger_hex(actual, n, hex);
    fprintf(stderr, "GOLDEN %s %s %s\n", g->name, what, hex);
}

/* ---- tests ----------------------------------------------------------------------------------- */

Test(codec_golden, record_bytes_are_the_recorded_ones)
{
    /* Proves event_encode writes, for every case, exactly the bytes the recorded encoder wrote. */
    for (size_t i = 0; i < CASES; i++) {
        struct event ev;
        uint8_t buf[LEDGER_RECORD_BYTES_MAX];
        char hex[HEX_MAX];
        size_t len = encode_case(&golden[i], &ev, buf, sizeof buf);
        ledger_hex(buf, len, hex);
        bool same = strcmp(hex, golden[i].hex) == 0;
        if (!same)
            report(&golden[i], "hex", buf, len);
        cr_expect(same, "%s: the record bytes changed", golden[i].name);
    }
}

Test(codec_golden, json_is_the_recorded_one)
{
    /* Proves event_to_json renders every case, after encoding (which sets the hash), as exactly the
     * recorded text. */
    for (size_t i = 0; i < CASES; i++) {
        struct event ev;
        uint8_t buf[LEDGER_RECORD_BYTES_MAX];
        static char json[LEDGER_EVENT_JSON_MAX];
        (void)encode_case(&golden[i], &ev, buf, sizeof buf);
        size_t n = event_to_json(&ev, json, sizeof json);
        cr_assert_gt(n, 0, "%s: no JSON", golden[i].name);
        bool same = n == strlen(golden[i].json) && memcmp(json, golden[i].json, n) == 0;
        if (!same)
            report(&golden[i], "json", json, n);
        cr_expect(same, "%s: the JSON changed", golden[i].name);
    }
}

static size_t from_hex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    cr_assert_leq(n, cap);
    for (size_t i = 0; i < n; i++) {
        char byte[3] = {hex[2 * i], hex[2 * i + 1], '\0'};
        out[i] = (uint8_t)strtoul(byte, NULL, 16);
    }
    return n;
}

Test(codec_golden, recorded_records_decode_verify_and_reencode)
{
    /* Proves every recorded record is a valid ledger record: it decodes to the event of its case,
     * its hash verifies against that event's prev_hash, it renders the recorded JSON, and it
     * re-encodes to the same bytes. */
    for (size_t i = 0; i < CASES; i++) {
        const struct golden *g = &golden[i];
        uint8_t rec[LEDGER_RECORD_BYTES_MAX], again[LEDGER_RECORD_BYTES_MAX];
        static char json[LEDGER_EVENT_JSON_MAX];
        struct event built, ev;
        size_t len = from_hex(g->hex, rec, sizeof rec);
        (void)encode_case(g, &built, again, sizeof again); /* sets built.hash */
        cr_assert_eq(event_decode(rec, len, &ev), LEDGER_ERR_OK, "%s: does not decode", g->name);
        cr_expect(memcmp(&ev, &built, sizeof ev) == 0, "%s: decodes to another event", g->name);
        cr_expect(event_hash_check(rec, len, built.prev_hash), "%s: hash", g->name);
        size_t n = event_to_json(&ev, json, sizeof json);
        cr_expect(n == strlen(g->json) && memcmp(json, g->json, n) == 0, "%s: JSON after decoding", g->name);
        cr_assert_eq(event_encode(&ev, again, sizeof again), len, "%s: re-encoded length", g->name);
        cr_expect(memcmp(again, rec, len) == 0, "%s: re-encoded bytes", g->name);
    }
}

Test(codec_golden, cases_cover_every_type_and_enum_value)
{
    /* Proves the cases hold every event type of the catalogue and, in a record, every value of
     * every enumeration: account kinds, block reasons, transfer kinds, card types, card blocks,
     * channels, categories, roles, the 7 rights sets and both identification statuses. */
    bool type_seen[UINT8_MAX + 1] = {false};
    unsigned kinds = 0, reasons = 0, transfer_kinds = 0, card_types = 0, card_blocks_seen = 0;
    unsigned channels = 0, categories = 0, roles_seen = 0, rights = 0, statuses = 0;
    for (size_t i = 0; i < CASES; i++) {
        struct event ev;
        golden[i].build(&ev, golden[i].variant);
        cr_assert_leq(ev.type, UINT8_MAX);
        type_seen[ev.type] = true;
        switch ((enum event_type)ev.type) {
        case EVENT_ACCOUNT_OPENED: kinds |= 1u << ev.data.opened.kind; break;
        case EVENT_ACCOUNT_BLOCKED:
        case EVENT_ACCOUNT_UNBLOCKED: reasons |= ev.data.blocked.reason; break;
        case EVENT_TRANSFER_EXECUTED: transfer_kinds |= 1u << ev.data.transfer.kind; break;
        case EVENT_CARD_ISSUED: card_types |= 1u << ev.data.card_issued.type; break;
        case EVENT_CARD_BLOCKED:
        case EVENT_CARD_UNBLOCKED: card_blocks_seen |= ev.data.card_action.reason; break;
        case EVENT_CARD_AUTHORIZED:
        case EVENT_CARD_DECLINED:
            channels |= 1u << ev.data.card_decision.channel;
            categories |= 1u << ev.data.card_decision.category;
            break;
        case EVENT_CLIENT_REGISTERED: roles_seen |= 1u << ev.data.client_registered.role; break;
        case EVENT_THIRD_PARTY_DECLARED: rights |= 1u << ev.data.third_party.rights; break;
        case EVENT_HOLDER_IDENTIFICATION_CHANGED: statuses |= 1u << ev.data.holder_identification.identified; break;
        default: break;
        }
    }
    for (unsigned t = 1; event_type_name((uint16_t)t) != NULL; t++)
        cr_expect(type_seen[t], "no case of %s", event_type_name((uint16_t)t));
    cr_expect_null(event_type_name(EVENT_HOLDER_IDENTIFICATION_CHANGED + 1), "a new type needs cases here");
    cr_expect_eq(kinds, 1u << ACCOUNT_KIND_CUSTOMER | 1u << ACCOUNT_KIND_INTERNAL);
    cr_expect_eq(reasons, (unsigned)(BLOCK_USER | BLOCK_SYSTEM | BLOCK_COMPLIANCE | BLOCK_LOST));
    cr_expect_eq(transfer_kinds, 1u << TRANSFER_KIND_TRANSFER | 1u << TRANSFER_KIND_DEPOSIT);
    cr_expect_eq(card_types, 1u << CARD_TYPE_VIRTUAL | 1u << CARD_TYPE_PHYSICAL);
    cr_expect_eq(card_blocks_seen, (unsigned)(CARD_BLOCK_USER | CARD_BLOCK_SYSTEM | CARD_BLOCK_LOST | CARD_BLOCK_STOLEN));
    cr_expect_eq(channels, 1u << CHANNEL_POS | 1u << CHANNEL_ECOM | 1u << CHANNEL_ATM | 1u << CHANNEL_CONTACTLESS);
    cr_expect_eq(categories, 1u << AUTH_FINAL | 1u << AUTH_PRE);
    cr_expect_eq(roles_seen, 0xfeu); /* roles 1..7 */
    cr_expect_eq(rights, 0xfeu);     /* sets 1..7 */
    cr_expect_eq(statuses, 3u);
}
