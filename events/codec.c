/*
 * codec.c: the event record, msgpack with string keys (docs/EVENT-FORMAT.md is the specification).
 *
 * A record is a msgpack map of 11 entries in this fixed order:
 *   seq, ts_ns, type, v, stream, stream_ver, cmd_id, actor, data, prev_hash, hash
 * and hash = SHA-256(prev_hash || the same map without its last entry), i.e. the record's bytes
 * with the map header 0x8b replaced by 0x8a and the trailing 39 bytes ("hash" key + bin 32) cut.
 * The encoder always writes the smallest msgpack form of every value, so a stock msgpack library
 * that re-encodes the decoded map minus "hash" (keeping key order) reproduces the hash input.
 *
 * The decoder accepts exactly this shape: unknown or missing keys, wrong types, truncated input,
 * trailing bytes and over-long strings are LEDGER_ERR_DECODE, never a crash.
 *
 * The access-control events (client.*, third_party.*) are encoded here with their own value rules
 * (access_data_valid), shared by encoder and decoder like the card events' rules.
 * The data maps of the card events live in codec_cards.c; the packers, the table-driven data-map
 * decoder (codec_decode_fields) and the JSON writer are shared with it through events/internal.h.
 */
#include <msgpack.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "events/events.h"
#include "events/internal.h"

#define RECORD_ENTRIES 11
#define HASH_TAIL_LEN 39 /* a4 "hash" c4 20 <32 bytes> */
#define PREV_TAIL_LEN 44 /* a9 "prev_hash" c4 20 <32 bytes> */

/* ---- encoding ------------------------------------------------------------------------------ */

struct fixed_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
    bool overflow;
    bool invalid; /* a field could not be encoded (over-long string, unknown enum) */
};

static int fixed_buf_write(void *data, const char *buf, size_t len)
{
    struct fixed_buf *fb = data;
    if (fb->overflow || len > fb->cap - fb->len) {
        fb->overflow = true;
        return -1;
    }
    memcpy(fb->p + fb->len, buf, len);
    fb->len += len;
    return 0;
}

void codec_pack_key(msgpack_packer *pk, const char *key)
{
    size_t n = strlen(key);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, key, n);
}

void codec_pack_field(msgpack_packer *pk, const char *key, const char *value, size_t cap, bool is_enum)
{
    struct fixed_buf *fb = pk->data;
    size_t n = strnlen(value, cap);
    if (n == cap || (is_enum && (strcmp(value, "unknown") == 0 || strcmp(value, "UNKNOWN") == 0))) {
        fb->invalid = true;
        return;
    }
    if (key != NULL)
        codec_pack_key(pk, key);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, value, n);
}

void codec_pack_bin(msgpack_packer *pk, const char *key, const void *value, size_t n)
{
    codec_pack_key(pk, key);
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, value, n);
}

void codec_pack_u64(msgpack_packer *pk, const char *key, uint64_t value)
{
    codec_pack_key(pk, key);
    msgpack_pack_uint64(pk, value);
}

void codec_pack_i64(msgpack_packer *pk, const char *key, int64_t value)
{
    codec_pack_key(pk, key);
    msgpack_pack_int64(pk, value);
}

void codec_pack_bool(msgpack_packer *pk, const char *key, bool value)
{
    codec_pack_key(pk, key);
    if (value)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

/* ---- access-control events (20-23) ------------------------------------------------------------
 * The same value rules for the encoder and the decoder: ids of [A-Za-z0-9._-], a known role, a
 * third party id exactly for role third_party, rights a non-empty set of known bits for a
 * declaration (written as an array of names in bit order, each once) and none for a removal. */

#define RIGHT_NAME_CAP 32 /* "initiate_transfers" and its NUL */

static bool access_data_valid(const struct event *ev)
{
    switch ((enum event_type)ev->type) {
    case EVENT_CLIENT_REGISTERED: {
        const struct ev_client_registered *d = &ev->data.client_registered;
        bool tp = d->role == ROLE_THIRD_PARTY;
        return access_id_valid(d->client_id, LEDGER_CLIENT_ID_MAX) && d->name[0] != '\0' &&
               strcmp(client_role_name(d->role), "unknown") != 0 &&
               (tp ? access_id_valid(d->third_party_id, LEDGER_THIRD_PARTY_ID_MAX) : d->third_party_id[0] == '\0');
    }
    case EVENT_CLIENT_REVOKED: return access_id_valid(ev->data.client_revoked.client_id, LEDGER_CLIENT_ID_MAX);
    case EVENT_THIRD_PARTY_DECLARED:
    case EVENT_THIRD_PARTY_REMOVED: {
        const struct ev_third_party *d = &ev->data.third_party;
        bool declared = ev->type == EVENT_THIRD_PARTY_DECLARED;
        return access_id_valid(d->third_party_id, LEDGER_THIRD_PARTY_ID_MAX) &&
               (declared ? d->rights != 0 && (d->rights & ~TP_RIGHTS_ALL) == 0 : d->rights == 0);
    }
    default: return false;
    }
}

static void pack_rights(msgpack_packer *pk, uint8_t rights)
{
    codec_pack_key(pk, "rights");
    msgpack_pack_array(pk, (size_t)__builtin_popcount(rights));
    for (unsigned bit = 1; bit <= TP_RIGHT_MANAGE_CARDS; bit <<= 1)
        if (rights & bit)
            codec_pack_field(pk, NULL, tp_right_name((enum tp_right)bit), RIGHT_NAME_CAP, true);
}

static bool pack_access_data(msgpack_packer *pk, const struct event *ev)
{
    if (!access_data_valid(ev))
        return false;
    switch ((enum event_type)ev->type) {
    case EVENT_CLIENT_REGISTERED: {
        const struct ev_client_registered *d = &ev->data.client_registered;
        msgpack_pack_map(pk, 4);
        codec_pack_str(pk, "client_id", d->client_id);
        codec_pack_str(pk, "name", d->name);
        codec_pack_enum(pk, "role", client_role_name(d->role));
        codec_pack_str(pk, "third_party_id", d->third_party_id);
        return true;
    }
    case EVENT_CLIENT_REVOKED:
        msgpack_pack_map(pk, 1);
        codec_pack_str(pk, "client_id", ev->data.client_revoked.client_id);
        return true;
    default: { /* third_party.declared / removed */
        const struct ev_third_party *d = &ev->data.third_party;
        bool declared = ev->type == EVENT_THIRD_PARTY_DECLARED;
        msgpack_pack_map(pk, declared ? 3 : 2);
        codec_pack_bin(pk, "account_id", d->account_id.b, 16);
        codec_pack_str(pk, "third_party_id", d->third_party_id);
        if (declared)
            pack_rights(pk, d->rights);
        return true;
    }
    }
}

static bool pack_data(msgpack_packer *pk, const struct event *ev)
{
    switch ((enum event_type)ev->type) {
    case EVENT_ACCOUNT_OPENED: {
        const struct ev_account_opened *d = &ev->data.opened;
        msgpack_pack_map(pk, 7);
        codec_pack_bin(pk, "account_id", d->account_id.b, 16);
        codec_pack_enum(pk, "kind", account_kind_name(d->kind));
        codec_pack_str(pk, "holder_id", d->holder_id);
        codec_pack_str(pk, "currency", d->currency);
        codec_pack_str(pk, "friendly_name", d->friendly_name);
        codec_pack_i64(pk, "overdraft_limit", d->overdraft_limit_minor);
        codec_pack_str(pk, "iban", d->iban);
        return true;
    }
    case EVENT_ACCOUNT_BLOCKED:
    case EVENT_ACCOUNT_UNBLOCKED:
        msgpack_pack_map(pk, 2);
        codec_pack_bin(pk, "account_id", ev->data.blocked.account_id.b, 16);
        codec_pack_enum(pk, "reason", block_reason_name(ev->data.blocked.reason));
        return true;
    case EVENT_ACCOUNT_CLOSED:
        msgpack_pack_map(pk, 1);
        codec_pack_bin(pk, "account_id", ev->data.closed.account_id.b, 16);
        return true;
    case EVENT_TRANSFER_EXECUTED: {
        const struct ev_transfer_executed *d = &ev->data.transfer;
        msgpack_pack_map(pk, 7);
        codec_pack_bin(pk, "transfer_id", d->transfer_id.b, 16);
        codec_pack_bin(pk, "debit_account_id", d->debit_account_id.b, 16);
        codec_pack_bin(pk, "credit_account_id", d->credit_account_id.b, 16);
        codec_pack_i64(pk, "amount", d->amount_minor);
        codec_pack_str(pk, "currency", d->currency);
        codec_pack_enum(pk, "kind", transfer_kind_name(d->kind));
        codec_pack_str(pk, "reference", d->reference);
        return true;
    }
    case EVENT_STATEMENT_PERIOD_CLOSED: {
        const struct ev_period_closed *d = &ev->data.period_closed;
        msgpack_pack_map(pk, 6);
        codec_pack_str(pk, "period", d->period);
        codec_pack_str(pk, "kind", d->kind);
        codec_pack_str(pk, "time_zone", d->time_zone);
        codec_pack_i64(pk, "start", d->start_ns);
        codec_pack_i64(pk, "end", d->end_ns);
        codec_pack_u64(pk, "last_seq", d->last_seq);
        return d->period[0] != '\0' && d->start_ns < d->end_ns;
    }
    case EVENT_CLIENT_REGISTERED:
    case EVENT_CLIENT_REVOKED:
    case EVENT_THIRD_PARTY_DECLARED:
    case EVENT_THIRD_PARTY_REMOVED: return pack_access_data(pk, ev);
    case EVENT_HOLDER_IDENTIFICATION_CHANGED: {
        const struct ev_holder_identification *d = &ev->data.holder_identification;
        msgpack_pack_map(pk, 2);
        codec_pack_str(pk, "holder_id", d->holder_id);
        codec_pack_enum(pk, "status", d->identified ? "identified" : "unidentified");
        return d->holder_id[0] != '\0';
    }
    default: /* card events: events/codec_cards.c */
        return pack_card_data(pk, ev);
    }
}

size_t event_encode(struct event *ev, uint8_t *out, size_t cap)
{
    struct fixed_buf fb = {.p = out, .len = 0, .cap = cap, .overflow = false, .invalid = false};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &fb, fixed_buf_write);

    msgpack_pack_map(&pk, RECORD_ENTRIES);
    codec_pack_u64(&pk, "seq", ev->seq);
    codec_pack_i64(&pk, "ts_ns", ev->ts_ns);
    codec_pack_u64(&pk, "type", ev->type);
    codec_pack_u64(&pk, "v", ev->v);
    codec_pack_bin(&pk, "stream", ev->stream.b, 16);
    codec_pack_u64(&pk, "stream_ver", ev->stream_ver);
    codec_pack_bin(&pk, "cmd_id", ev->cmd_id.b, 16);
    codec_pack_str(&pk, "actor", ev->actor);
    codec_pack_key(&pk, "data");
    if (!pack_data(&pk, ev))
        return 0;
    codec_pack_bin(&pk, "prev_hash", ev->prev_hash, LEDGER_HASH_LEN);
    if (fb.overflow || fb.invalid || fb.len + HASH_TAIL_LEN > cap)
        return 0;

    uint8_t head[LEDGER_HASH_LEN + 1];
    memcpy(head, ev->prev_hash, LEDGER_HASH_LEN);
    head[LEDGER_HASH_LEN] = 0x80 | (RECORD_ENTRIES - 1);
    ledger_sha256_2(head, sizeof head, out + 1, fb.len - 1, ev->hash);
    codec_pack_bin(&pk, "hash", ev->hash, LEDGER_HASH_LEN);
    LEDGER_ASSERT(!fb.overflow && out[0] == (0x80 | RECORD_ENTRIES));
    return fb.len;
}

bool event_hash_check(const uint8_t *buf, size_t len, const uint8_t *expected_prev)
{
    static const uint8_t hash_key[7] = {0xa4, 'h', 'a', 's', 'h', 0xc4, 0x20};
    static const uint8_t prev_key[12] = {0xa9, 'p', 'r', 'e', 'v', '_', 'h', 'a', 's', 'h', 0xc4, 0x20};
    if (len < 1 + HASH_TAIL_LEN + PREV_TAIL_LEN || buf[0] != (0x80 | RECORD_ENTRIES))
        return false;
    const uint8_t *hash_at = buf + len - HASH_TAIL_LEN;
    const uint8_t *prev_at = hash_at - PREV_TAIL_LEN;
    if (memcmp(hash_at, hash_key, sizeof hash_key) != 0 || memcmp(prev_at, prev_key, sizeof prev_key) != 0)
        return false;
    const uint8_t *prev = prev_at + sizeof prev_key;
    if (expected_prev != NULL && memcmp(prev, expected_prev, LEDGER_HASH_LEN) != 0)
        return false;
    uint8_t head[LEDGER_HASH_LEN + 1], digest[LEDGER_HASH_LEN];
    memcpy(head, prev, LEDGER_HASH_LEN);
    head[LEDGER_HASH_LEN] = 0x80 | (RECORD_ENTRIES - 1);
    ledger_sha256_2(head, sizeof head, buf + 1, len - 1 - HASH_TAIL_LEN, digest);
    return memcmp(digest, hash_at + sizeof hash_key, LEDGER_HASH_LEN) == 0;
}

/* ---- decoding ------------------------------------------------------------------------------ */

static bool key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, name, n) == 0;
}

static bool get_u64(const msgpack_object *o, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *out = o->via.u64;
    return true;
}

static bool get_i64(const msgpack_object *o, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return true;
    }
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > INT64_MAX)
        return false;
    *out = (int64_t)o->via.u64;
    return true;
}

static bool get_bin(const msgpack_object *o, void *out, size_t n)
{
    if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != n)
        return false;
    memcpy(out, o->via.bin.ptr, n);
    return true;
}

static bool get_id(const msgpack_object *o, struct ledger_id *out)
{
    return get_bin(o, out->b, 16);
}

/* Well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF). */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || len > n - i)
            return false;
        uint32_t cp = len == 1 ? c : c & (0x7f >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

bool ledger_utf8_valid(const void *s, size_t n)
{
    return utf8_valid(s, n);
}

/* Copies a msgpack string into out (cap includes the NUL); rejects embedded NULs, invalid UTF-8
 * and overflow. */
static bool get_str(const msgpack_object *o, char *out, size_t cap)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= cap)
        return false;
    if (memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL ||
        !utf8_valid((const unsigned char *)o->via.str.ptr, o->via.str.size))
        return false;
    memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = '\0';
    return true;
}

/* Data maps are decoded by tables (events/internal.h): for each expected key, the field it fills. */
static bool transfer_kind_parse(const char *text, enum transfer_kind *out)
{
    if (strcmp(text, "transfer") == 0)
        *out = TRANSFER_KIND_TRANSFER;
    else if (strcmp(text, "deposit") == 0)
        *out = TRANSFER_KIND_DEPOSIT;
    else
        return false;
    return true;
}

CODEC_ENUM_PARSER(parse_account_kind, enum account_kind, account_kind_parse)
CODEC_ENUM_PARSER(parse_block_reason, enum block_reason, block_reason_parse)
CODEC_ENUM_PARSER(parse_transfer_kind, enum transfer_kind, transfer_kind_parse)

static const struct codec_field opened_fields[] = {
    CODEC_FIELD("account_id", CODEC_ID, struct ev_account_opened, account_id),
    CODEC_ENUM("kind", struct ev_account_opened, kind, parse_account_kind),
    CODEC_FIELD("holder_id", CODEC_STR, struct ev_account_opened, holder_id),
    CODEC_FIELD("currency", CODEC_STR, struct ev_account_opened, currency),
    CODEC_FIELD("friendly_name", CODEC_STR, struct ev_account_opened, friendly_name),
    CODEC_FIELD("overdraft_limit", CODEC_I64, struct ev_account_opened, overdraft_limit_minor),
    CODEC_FIELD("iban", CODEC_STR, struct ev_account_opened, iban),
};
static const struct codec_field blocked_fields[] = {
    CODEC_FIELD("account_id", CODEC_ID, struct ev_account_blocked, account_id),
    CODEC_ENUM("reason", struct ev_account_blocked, reason, parse_block_reason),
};
static const struct codec_field closed_fields[] = {
    CODEC_FIELD("account_id", CODEC_ID, struct ev_account_closed, account_id),
};
static const struct codec_field transfer_fields[] = {
    CODEC_FIELD("transfer_id", CODEC_ID, struct ev_transfer_executed, transfer_id),
    CODEC_FIELD("debit_account_id", CODEC_ID, struct ev_transfer_executed, debit_account_id),
    CODEC_FIELD("credit_account_id", CODEC_ID, struct ev_transfer_executed, credit_account_id),
    CODEC_FIELD("amount", CODEC_I64, struct ev_transfer_executed, amount_minor),
    CODEC_FIELD("currency", CODEC_STR, struct ev_transfer_executed, currency),
    CODEC_ENUM("kind", struct ev_transfer_executed, kind, parse_transfer_kind),
    CODEC_FIELD("reference", CODEC_STR, struct ev_transfer_executed, reference),
};

static bool parse_identification(const char *name, uint8_t *out)
{
    if (strcmp(name, "identified") == 0 || strcmp(name, "unidentified") == 0) {
        *out = strcmp(name, "identified") == 0;
        return true;
    }
    return false;
}

static const struct codec_field holder_identification_fields[] = {
    CODEC_FIELD("holder_id", CODEC_STR, struct ev_holder_identification, holder_id),
    CODEC_ENUM("status", struct ev_holder_identification, identified, parse_identification),
};

static const struct codec_field period_fields[] = {
    CODEC_FIELD("period", CODEC_STR, struct ev_period_closed, period),
    CODEC_FIELD("kind", CODEC_STR, struct ev_period_closed, kind),
    CODEC_FIELD("time_zone", CODEC_STR, struct ev_period_closed, time_zone),
    CODEC_FIELD("start", CODEC_I64, struct ev_period_closed, start_ns),
    CODEC_FIELD("end", CODEC_I64, struct ev_period_closed, end_ns),
    CODEC_FIELD("last_seq", CODEC_I64, struct ev_period_closed, last_seq),
};

/* An unsigned integer of at most max. */
static bool get_uint_max(const msgpack_object *o, uint64_t max, uint64_t *out)
{
    return get_u64(o, out) && *out <= max;
}

/* A string of exactly cap-1 bytes. */
static bool get_fixed(const msgpack_object *o, char *out, size_t cap)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == cap - 1 && get_str(o, out, cap);
}

/* A msgpack array of at most f->size / f->elem_size elements, each a uint16 (CODEC_U16_LIST) or a
 * string of exactly elem_size-1 bytes (CODEC_FIXED_LIST); the count goes to the uint8_t at
 * f->count_offset. */
static bool decode_list(const struct codec_field *f, const msgpack_object *o, uint8_t *base)
{
    size_t max = f->size / f->elem_size;
    LEDGER_ASSERT(max <= UINT8_MAX && f->elem_size > 0);
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > max)
        return false;
    uint8_t *elems = base + f->offset;
    for (size_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *e = &o->via.array.ptr[i];
        uint64_t u;
        if (f->kind == CODEC_U16_LIST) {
            if (!get_uint_max(e, UINT16_MAX, &u))
                return false;
            uint16_t v = (uint16_t)u;
            memcpy(elems + i * sizeof v, &v, sizeof v);
        } else if (!get_fixed(e, (char *)(elems + i * f->elem_size), f->elem_size)) {
            return false;
        }
    }
    base[f->count_offset] = (uint8_t)o->via.array.size;
    return true;
}

static bool decode_field(const struct codec_field *f, const msgpack_object *o, uint8_t *base)
{
    char text[CODEC_ENUM_NAME_CAP];
    uint8_t *at = base + f->offset;
    uint64_t u;
    switch (f->kind) {
    case CODEC_ID: return get_id(o, (struct ledger_id *)at);
    case CODEC_STR: return get_str(o, (char *)at, f->size);
    case CODEC_FIXED: return get_fixed(o, (char *)at, f->size);
    case CODEC_I64: return get_i64(o, (int64_t *)at);
    case CODEC_U16:
        if (!get_uint_max(o, UINT16_MAX, &u))
            return false;
        *(uint16_t *)at = (uint16_t)u;
        return true;
    case CODEC_U32:
        if (!get_uint_max(o, UINT32_MAX, &u))
            return false;
        *(uint32_t *)at = (uint32_t)u;
        return true;
    case CODEC_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            return false;
        *(bool *)at = o->via.boolean;
        return true;
    case CODEC_ENUM: return get_str(o, text, sizeof text) && f->parse(text, at);
    case CODEC_U16_LIST:
    case CODEC_FIXED_LIST: return decode_list(f, o, base);
    case CODEC_MAP: return codec_decode_fields(o, f->nested, f->nested_n, at);
    }
    return false;
}

bool codec_decode_fields(const msgpack_object *o, const struct codec_field *spec, size_t n, void *base)
{
    if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (!key_is(&kv->key, spec[i].key) || !decode_field(&spec[i], &kv->val, base))
            return false;
    }
    return true;
}

CODEC_ENUM_PARSER(parse_client_role, enum client_role, client_role_parse)

static const struct codec_field client_registered_fields[] = {
    CODEC_FIELD("client_id", CODEC_STR, struct ev_client_registered, client_id),
    CODEC_FIELD("name", CODEC_STR, struct ev_client_registered, name),
    CODEC_ENUM("role", struct ev_client_registered, role, parse_client_role),
    CODEC_FIELD("third_party_id", CODEC_STR, struct ev_client_registered, third_party_id),
};
static const struct codec_field client_revoked_fields[] = {
    CODEC_FIELD("client_id", CODEC_STR, struct ev_client_revoked, client_id),
};
static const struct codec_field third_party_fields[] = {
    CODEC_FIELD("account_id", CODEC_ID, struct ev_third_party, account_id),
    CODEC_FIELD("third_party_id", CODEC_STR, struct ev_third_party, third_party_id),
};

/* An array of 1..3 right names, each a bit above the previous one (bit order, no repeats). */
static bool decode_rights(const msgpack_object *o, uint8_t *rights)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0 || o->via.array.size > 3)
        return false;
    *rights = 0;
    for (size_t i = 0; i < o->via.array.size; i++) {
        char text[RIGHT_NAME_CAP];
        enum tp_right r;
        if (!get_str(&o->via.array.ptr[i], text, sizeof text) || !tp_right_parse(text, &r) || (unsigned)r <= *rights)
            return false;
        *rights |= (uint8_t)r;
    }
    return true;
}

/* third_party.declared: the two fields of the table, then "rights". */
static bool decode_third_party(const msgpack_object *o, struct event *ev)
{
    struct ev_third_party *d = &ev->data.third_party;
    if (ev->type == EVENT_THIRD_PARTY_REMOVED)
        return CODEC_DECODE(o, third_party_fields, d);
    if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size != 3)
        return false;
    msgpack_object head = *o;
    head.via.map.size = 2;
    const msgpack_object_kv *last = &o->via.map.ptr[2];
    return CODEC_DECODE(&head, third_party_fields, d) && key_is(&last->key, "rights") &&
           decode_rights(&last->val, &d->rights);
}

static bool decode_access_data(const msgpack_object *o, struct event *ev)
{
    bool shape;
    switch ((enum event_type)ev->type) {
    case EVENT_CLIENT_REGISTERED: shape = CODEC_DECODE(o, client_registered_fields, &ev->data.client_registered); break;
    case EVENT_CLIENT_REVOKED: shape = CODEC_DECODE(o, client_revoked_fields, &ev->data.client_revoked); break;
    default: shape = decode_third_party(o, ev); break;
    }
    return shape && access_data_valid(ev);
}

static bool decode_data(const msgpack_object *o, struct event *ev)
{
    switch ((enum event_type)ev->type) {
    case EVENT_ACCOUNT_OPENED:
        return CODEC_DECODE(o, opened_fields, &ev->data.opened) && ev->data.opened.overdraft_limit_minor >= 0;
    case EVENT_ACCOUNT_BLOCKED:
    case EVENT_ACCOUNT_UNBLOCKED: return CODEC_DECODE(o, blocked_fields, &ev->data.blocked);
    case EVENT_ACCOUNT_CLOSED: return CODEC_DECODE(o, closed_fields, &ev->data.closed);
    case EVENT_TRANSFER_EXECUTED:
        return CODEC_DECODE(o, transfer_fields, &ev->data.transfer) && ev->data.transfer.amount_minor > 0;
    case EVENT_STATEMENT_PERIOD_CLOSED:
        return CODEC_DECODE(o, period_fields, &ev->data.period_closed) && ev->data.period_closed.period[0] != '\0' &&
               ev->data.period_closed.start_ns < ev->data.period_closed.end_ns;
    case EVENT_CLIENT_REGISTERED:
    case EVENT_CLIENT_REVOKED:
    case EVENT_THIRD_PARTY_DECLARED:
    case EVENT_THIRD_PARTY_REMOVED: return decode_access_data(o, ev);
    case EVENT_HOLDER_IDENTIFICATION_CHANGED:
        return CODEC_DECODE(o, holder_identification_fields, &ev->data.holder_identification) &&
               ev->data.holder_identification.holder_id[0] != '\0';
    default: /* card events: events/codec_cards.c */
        return decode_card_data(o, ev);
    }
}

static bool decode_envelope(const msgpack_object *root, struct event *ev)
{
    static const char *const keys[RECORD_ENTRIES] = {"seq", "ts_ns", "type", "v", "stream", "stream_ver",
                                                     "cmd_id", "actor", "data", "prev_hash", "hash"};
    if (root->type != MSGPACK_OBJECT_MAP || root->via.map.size != RECORD_ENTRIES)
        return false;
    const msgpack_object_kv *kv = root->via.map.ptr;
    for (size_t i = 0; i < RECORD_ENTRIES; i++)
        if (!key_is(&kv[i].key, keys[i]))
            return false;
    uint64_t type = 0, v = 0;
    bool ok = get_u64(&kv[0].val, &ev->seq) && get_i64(&kv[1].val, &ev->ts_ns) &&
              get_u64(&kv[2].val, &type) && get_u64(&kv[3].val, &v) && type <= UINT16_MAX &&
              v <= UINT16_MAX && get_id(&kv[4].val, &ev->stream) &&
              get_u64(&kv[5].val, &ev->stream_ver) && get_id(&kv[6].val, &ev->cmd_id) &&
              get_str(&kv[7].val, ev->actor, sizeof ev->actor) &&
              get_bin(&kv[9].val, ev->prev_hash, LEDGER_HASH_LEN) &&
              get_bin(&kv[10].val, ev->hash, LEDGER_HASH_LEN);
    if (!ok || v != 1)
        return false;
    ev->type = (uint16_t)type;
    ev->v = (uint16_t)v;
    return decode_data(&kv[8].val, ev);
}

/* Length of the msgpack header at p (1..9 bytes) and what follows it: *payload bytes of raw data,
 * *items nested values. 0 for the never-used byte 0xc1 or a truncated header. */
static size_t mp_header(const uint8_t *p, size_t avail, uint64_t *payload, uint64_t *items)
{
    static const uint8_t fixed[] = {[0xca - 0xc0] = 4, [0xcb - 0xc0] = 8, [0xcc - 0xc0] = 1, [0xcd - 0xc0] = 2,
                                    [0xce - 0xc0] = 4, [0xcf - 0xc0] = 8, [0xd0 - 0xc0] = 1, [0xd1 - 0xc0] = 2,
                                    [0xd2 - 0xc0] = 4, [0xd3 - 0xc0] = 8, [0xd4 - 0xc0] = 2, [0xd5 - 0xc0] = 3,
                                    [0xd6 - 0xc0] = 5, [0xd7 - 0xc0] = 9, [0xd8 - 0xc0] = 17};
    uint8_t b = p[0];
    *payload = 0;
    *items = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 1;
    if (b <= 0x8f) return *items = 2u * (b & 0x0f), 1;
    if (b <= 0x9f) return *items = b & 0x0f, 1;
    if (b <= 0xbf) return *payload = b & 0x1f, 1;
    if (b >= 0xca && b <= 0xd8) return *payload = fixed[b - 0xc0], 1;
    /* bin, ext, str, array, map with an explicit 1/2/4-byte length */
    static const uint8_t lenbytes[] = {[0xc4 - 0xc4] = 1, 2, 4, 1, 2, 4, [0xd9 - 0xc4] = 1, 2, 4, 2, 4, 2, 4};
    if (b < 0xc4 || b > 0xdf || (b > 0xc9 && b < 0xd9))
        return 0;
    size_t n = lenbytes[b - 0xc4];
    if (avail < 1 + n)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[1 + i];
    if (b == 0xdc || b == 0xdd) *items = v;
    else if (b == 0xde || b == 0xdf) *items = 2 * v;
    else *payload = v + (b >= 0xc7 && b <= 0xc9); /* ext: one type byte */
    return 1 + n;
}

/* Walks the msgpack structure without allocating: every length and element count must fit the
 * bytes that remain (each element needs at least one byte), so a forged count can never make the
 * unpacker allocate more than the input justifies. */
static bool mp_shape_ok(const uint8_t *buf, size_t len)
{
    size_t pos = 0;
    uint64_t pending = 1;
    while (pending > 0) {
        if (pos >= len || pending > len - pos)
            return false;
        uint64_t payload, items;
        size_t h = mp_header(buf + pos, len - pos, &payload, &items);
        if (h == 0 || payload > len - pos - h)
            return false;
        pos += h + payload;
        pending = pending - 1 + items;
    }
    return pos == len;
}

/* One unpack zone per thread, cleared after each record and freed when the thread exits: a
 * replay of millions of records does not malloc a fresh zone for each. */
static pthread_key_t zone_key;
static pthread_once_t zone_once = PTHREAD_ONCE_INIT;

static void zone_free(void *zone)
{
    msgpack_zone_free(zone);
}

static void zone_key_create(void)
{
    LEDGER_ASSERT(pthread_key_create(&zone_key, zone_free) == 0);
}

static msgpack_zone *decode_zone(void)
{
    pthread_once(&zone_once, zone_key_create);
    msgpack_zone *zone = pthread_getspecific(zone_key);
    if (zone == NULL) {
        zone = msgpack_zone_new(4096);
        LEDGER_ASSERT(zone != NULL && pthread_setspecific(zone_key, zone) == 0);
    }
    return zone;
}

enum ledger_err event_decode(const uint8_t *buf, size_t len, struct event *out)
{
    if (buf == NULL || len == 0 || len > LEDGER_RECORD_BYTES_MAX || !mp_shape_ok(buf, len))
        return LEDGER_ERR_DECODE;
    memset(out, 0, sizeof *out);
    msgpack_zone *zone = decode_zone();
    msgpack_object obj;
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack((const char *)buf, len, &off, zone, &obj);
    bool ok = rc == MSGPACK_UNPACK_SUCCESS && off == len && decode_envelope(&obj, out);
    msgpack_zone_clear(zone);
    return ok ? LEDGER_ERR_OK : LEDGER_ERR_DECODE;
}

/* ---- JSON rendering ------------------------------------------------------------------------ */

void codec_tb_add(struct text_buf *tb, const char *s, size_t n)
{
    if (tb->overflow || n >= tb->cap - tb->len) {
        tb->overflow = true;
        return;
    }
    memcpy(tb->p + tb->len, s, n);
    tb->len += n;
    tb->p[tb->len] = '\0';
}

void codec_tb_fmt(struct text_buf *tb, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        tb->overflow = true;
        return;
    }
    codec_tb_add(tb, tmp, (size_t)n);
}

void codec_tb_json_str(struct text_buf *tb, const char *s)
{
    codec_tb_add(tb, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            codec_tb_add(tb, esc, 2);
        } else if (c < 0x20) {
            codec_tb_fmt(tb, "\\u%04x", c);
        } else {
            codec_tb_add(tb, (const char *)s, 1);
        }
    }
    codec_tb_add(tb, "\"", 1);
}

void codec_tb_kv_str(struct text_buf *tb, const char *key, const char *value)
{
    codec_tb_fmt(tb, ",\"%s\":", key);
    codec_tb_json_str(tb, value);
}

void codec_tb_kv_id(struct text_buf *tb, const char *key, const struct ledger_id *id)
{
    char text[LEDGER_ID_TEXT_LEN + 1];
    ledger_id_format(id, text);
    codec_tb_fmt(tb, ",\"%s\":\"%s\"", key, text);
}

void codec_tb_close_object(struct text_buf *tb, size_t open_at)
{
    if (!tb->overflow && tb->len > open_at && tb->p[open_at] == ',') { /* drop the first comma */
        memmove(tb->p + open_at, tb->p + open_at + 1, tb->len - open_at);
        tb->len--;
    }
    codec_tb_add(tb, "}", 1);
}

static void access_data_to_json(struct text_buf *tb, const struct event *ev)
{
    switch ((enum event_type)ev->type) {
    case EVENT_CLIENT_REGISTERED: {
        const struct ev_client_registered *d = &ev->data.client_registered;
        codec_tb_kv_str(tb, "client_id", d->client_id);
        codec_tb_kv_str(tb, "name", d->name);
        codec_tb_kv_str(tb, "role", client_role_name(d->role));
        codec_tb_kv_str(tb, "third_party_id", d->third_party_id);
        break;
    }
    case EVENT_CLIENT_REVOKED: codec_tb_kv_str(tb, "client_id", ev->data.client_revoked.client_id); break;
    default: {
        const struct ev_third_party *d = &ev->data.third_party;
        codec_tb_kv_id(tb, "account_id", &d->account_id);
        codec_tb_kv_str(tb, "third_party_id", d->third_party_id);
        if (ev->type != EVENT_THIRD_PARTY_DECLARED)
            break;
        codec_tb_add(tb, ",\"rights\":[", 11);
        const char *sep = "";
        for (unsigned bit = 1; bit <= TP_RIGHT_MANAGE_CARDS; bit <<= 1) {
            if (d->rights & bit) {
                codec_tb_fmt(tb, "%s\"%s\"", sep, tp_right_name((enum tp_right)bit));
                sep = ",";
            }
        }
        codec_tb_add(tb, "]", 1);
        break;
    }
    }
}

static void data_to_json(struct text_buf *tb, const struct event *ev)
{
    switch ((enum event_type)ev->type) {
    case EVENT_ACCOUNT_OPENED: {
        const struct ev_account_opened *d = &ev->data.opened;
        codec_tb_kv_id(tb, "account_id", &d->account_id);
        codec_tb_kv_str(tb, "kind", account_kind_name(d->kind));
        codec_tb_kv_str(tb, "holder_id", d->holder_id);
        codec_tb_kv_str(tb, "currency", d->currency);
        codec_tb_kv_str(tb, "friendly_name", d->friendly_name);
        codec_tb_fmt(tb, ",\"overdraft_limit\":%lld", (long long)d->overdraft_limit_minor);
        codec_tb_kv_str(tb, "iban", d->iban);
        break;
    }
    case EVENT_ACCOUNT_BLOCKED:
    case EVENT_ACCOUNT_UNBLOCKED:
        codec_tb_kv_id(tb, "account_id", &ev->data.blocked.account_id);
        codec_tb_kv_str(tb, "reason", block_reason_name(ev->data.blocked.reason));
        break;
    case EVENT_ACCOUNT_CLOSED:
        codec_tb_kv_id(tb, "account_id", &ev->data.closed.account_id);
        break;
    case EVENT_TRANSFER_EXECUTED: {
        const struct ev_transfer_executed *d = &ev->data.transfer;
        codec_tb_kv_id(tb, "transfer_id", &d->transfer_id);
        codec_tb_kv_id(tb, "debit_account_id", &d->debit_account_id);
        codec_tb_kv_id(tb, "credit_account_id", &d->credit_account_id);
        codec_tb_fmt(tb, ",\"amount\":%lld", (long long)d->amount_minor);
        codec_tb_kv_str(tb, "currency", d->currency);
        codec_tb_kv_str(tb, "kind", transfer_kind_name(d->kind));
        codec_tb_kv_str(tb, "reference", d->reference);
        break;
    }
    case EVENT_STATEMENT_PERIOD_CLOSED: {
        const struct ev_period_closed *d = &ev->data.period_closed;
        codec_tb_kv_str(tb, "period", d->period);
        codec_tb_kv_str(tb, "kind", d->kind);
        codec_tb_kv_str(tb, "time_zone", d->time_zone);
        codec_tb_fmt(tb, ",\"start\":%lld,\"end\":%lld,\"last_seq\":%llu", (long long)d->start_ns,
                     (long long)d->end_ns, (unsigned long long)d->last_seq);
        break;
    }
    case EVENT_CLIENT_REGISTERED:
    case EVENT_CLIENT_REVOKED:
    case EVENT_THIRD_PARTY_DECLARED:
    case EVENT_THIRD_PARTY_REMOVED: access_data_to_json(tb, ev); break;
    case EVENT_HOLDER_IDENTIFICATION_CHANGED:
        codec_tb_kv_str(tb, "holder_id", ev->data.holder_identification.holder_id);
        codec_tb_kv_str(tb, "status", ev->data.holder_identification.identified ? "identified" : "unidentified");
        break;
    default: /* card events: events/codec_cards.c */
        card_data_to_json(tb, ev);
        break;
    }
}

size_t event_to_json(const struct event *ev, char *out, size_t cap)
{
    struct text_buf tb = {.p = out, .len = 0, .cap = cap, .overflow = cap == 0};
    char hex[2 * LEDGER_HASH_LEN + 1];
    const char *name = event_type_name(ev->type);
    codec_tb_fmt(&tb, "{\"seq\":%llu,\"ts_ns\":%lld,\"type\":\"%s\",\"type_id\":%u,\"v\":%u",
           (unsigned long long)ev->seq, (long long)ev->ts_ns, name ? name : "unknown", ev->type, ev->v);
    codec_tb_kv_id(&tb, "stream", &ev->stream);
    codec_tb_fmt(&tb, ",\"stream_ver\":%llu", (unsigned long long)ev->stream_ver);
    codec_tb_kv_id(&tb, "cmd_id", &ev->cmd_id);
    codec_tb_kv_str(&tb, "actor", ev->actor);
    codec_tb_add(&tb, ",\"data\":{", 9);
    size_t data_at = tb.len;
    data_to_json(&tb, ev);
    codec_tb_close_object(&tb, data_at);
    ledger_hex(ev->prev_hash, LEDGER_HASH_LEN, hex);
    codec_tb_fmt(&tb, ",\"prev_hash\":\"%s\"", hex);
    ledger_hex(ev->hash, LEDGER_HASH_LEN, hex);
    codec_tb_fmt(&tb, ",\"hash\":\"%s\"}", hex);
    return tb.overflow ? 0 : tb.len;
}

bool event_touches_account(const struct event *ev, const struct ledger_id *account_id)
{
    switch ((enum event_type)ev->type) {
    case EVENT_ACCOUNT_OPENED: return ledger_id_equal(&ev->data.opened.account_id, account_id);
    case EVENT_ACCOUNT_BLOCKED:
    case EVENT_ACCOUNT_UNBLOCKED: return ledger_id_equal(&ev->data.blocked.account_id, account_id);
    case EVENT_ACCOUNT_CLOSED: return ledger_id_equal(&ev->data.closed.account_id, account_id);
    case EVENT_TRANSFER_EXECUTED:
        return ledger_id_equal(&ev->data.transfer.debit_account_id, account_id) ||
               ledger_id_equal(&ev->data.transfer.credit_account_id, account_id);
    case EVENT_THIRD_PARTY_DECLARED:
    case EVENT_THIRD_PARTY_REMOVED: return ledger_id_equal(&ev->data.third_party.account_id, account_id);
    case EVENT_CLIENT_REGISTERED:
    case EVENT_CLIENT_REVOKED:
    case EVENT_HOLDER_IDENTIFICATION_CHANGED: return false;
    default:
        return card_event_touches_account(ev, account_id);
    }
}
