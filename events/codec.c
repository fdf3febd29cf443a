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
 * Each type's data map is one field table (events/internal.h): here for the account, transfer,
 * statement, access-control and holder events, in codec_cards.c for the card events. The same
 * table drives the packer (codec_pack_fields), the decoder (codec_decode_fields) and the JSON
 * rendering (codec_json_fields), so a key, its order and its kind are stated once. What a table
 * cannot state (an id's characters, a non-empty period, card digits and amounts) are the value
 * rules of data_valid(), applied by the encoder and the decoder alike.
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
/* The record's keys in their order (docs/EVENT-FORMAT.md): written by event_encode, required by
 * decode_envelope; event_hash_check reads the last two as bytes (HASH_TAIL_LEN, PREV_TAIL_LEN). */
enum record_key {
    RK_SEQ, RK_TS, RK_TYPE, RK_V, RK_STREAM, RK_STREAM_VER, RK_CMD_ID, RK_ACTOR, RK_DATA, RK_PREV_HASH, RK_HASH,
};
static const char *const record_keys[RECORD_ENTRIES] = {
    [RK_SEQ] = "seq",       [RK_TS] = "ts_ns",   [RK_TYPE] = "type", [RK_V] = "v",
    [RK_STREAM] = "stream", [RK_STREAM_VER] = "stream_ver",          [RK_CMD_ID] = "cmd_id",
    [RK_ACTOR] = "actor",   [RK_DATA] = "data",  [RK_PREV_HASH] = "prev_hash", [RK_HASH] = "hash",
};
#define HASH_TAIL_LEN 39 /* a4 "hash" c4 20 <32 bytes> */
#define PREV_TAIL_LEN 44 /* a9 "prev_hash" c4 20 <32 bytes> */
#define ENUM_NAME_CAP 32 /* an enum name and its NUL (the longest, "initiate_transfers", has 18) */

/* ---- the data tables of the account, transfer, statement, access and holder events ---------- */

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

CODEC_ENUM_FUNCS(account_kind_field, enum account_kind, account_kind_parse, account_kind_name)
CODEC_ENUM_FUNCS(block_reason_field, enum block_reason, block_reason_parse, block_reason_name)
CODEC_ENUM_FUNCS(transfer_kind_field, enum transfer_kind, transfer_kind_parse, transfer_kind_name)
CODEC_ENUM_FUNCS(client_role_field, enum client_role, client_role_parse, client_role_name)
CODEC_ENUM_FUNCS(tp_right_field, enum tp_right, tp_right_parse, tp_right_name)

/* holder.identification_changed's "status": the bool identified, by name. */
static bool identification_field_parse(const char *name, uint8_t *out)
{
    if (strcmp(name, "identified") == 0 || strcmp(name, "unidentified") == 0) {
        *out = strcmp(name, "identified") == 0;
        return true;
    }
    return false;
}

static const char *identification_field_name(uint8_t identified)
{
    return identified ? "identified" : "unidentified";
}

static const struct codec_field opened_fields[] = {
    CODEC_FIELD("account_id", CODEC_ID, struct ev_account_opened, account_id),
    CODEC_ENUM("kind", struct ev_account_opened, kind, account_kind_field),
    CODEC_FIELD("holder_id", CODEC_STR, struct ev_account_opened, holder_id),
    CODEC_FIELD("currency", CODEC_STR, struct ev_account_opened, currency),
    CODEC_FIELD("friendly_name", CODEC_STR, struct ev_account_opened, friendly_name),
    CODEC_FIELD("overdraft_limit", CODEC_I64, struct ev_account_opened, overdraft_limit_minor),
    CODEC_FIELD("iban", CODEC_STR, struct ev_account_opened, iban),
};
static const struct codec_field blocked_fields[] = {
    CODEC_FIELD("account_id", CODEC_ID, struct ev_account_blocked, account_id),
    CODEC_ENUM("reason", struct ev_account_blocked, reason, block_reason_field),
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
    CODEC_ENUM("kind", struct ev_transfer_executed, kind, transfer_kind_field),
    CODEC_FIELD("reference", CODEC_STR, struct ev_transfer_executed, reference),
};
static const struct codec_field period_fields[] = {
    CODEC_FIELD("period", CODEC_STR, struct ev_period_closed, period),
    CODEC_FIELD("kind", CODEC_STR, struct ev_period_closed, kind),
    CODEC_FIELD("time_zone", CODEC_STR, struct ev_period_closed, time_zone),
    CODEC_FIELD("start", CODEC_I64, struct ev_period_closed, start_ns),
    CODEC_FIELD("end", CODEC_I64, struct ev_period_closed, end_ns),
    CODEC_FIELD("last_seq", CODEC_U64, struct ev_period_closed, last_seq),
};
static const struct codec_field client_registered_fields[] = {
    CODEC_FIELD("client_id", CODEC_STR, struct ev_client_registered, client_id),
    CODEC_FIELD("name", CODEC_STR, struct ev_client_registered, name),
    CODEC_ENUM("role", struct ev_client_registered, role, client_role_field),
    CODEC_FIELD("third_party_id", CODEC_STR, struct ev_client_registered, third_party_id),
};
static const struct codec_field client_revoked_fields[] = {
    CODEC_FIELD("client_id", CODEC_STR, struct ev_client_revoked, client_id),
};
/* third_party.declared carries the complete new set of rights; third_party.removed none. */
static const struct codec_field third_party_declared_fields[] = {
    CODEC_FIELD("account_id", CODEC_ID, struct ev_third_party, account_id),
    CODEC_FIELD("third_party_id", CODEC_STR, struct ev_third_party, third_party_id),
    CODEC_BITS("rights", struct ev_third_party, rights, tp_right_field),
};
static const struct codec_field third_party_removed_fields[] = {
    CODEC_FIELD("account_id", CODEC_ID, struct ev_third_party, account_id),
    CODEC_FIELD("third_party_id", CODEC_STR, struct ev_third_party, third_party_id),
};
static const struct codec_field holder_identification_fields[] = {
    CODEC_FIELD("holder_id", CODEC_STR, struct ev_holder_identification, holder_id),
    CODEC_ENUM("status", struct ev_holder_identification, identified, identification_field),
};

static const struct codec_table data_tables[] = {
    [EVENT_ACCOUNT_OPENED] = CODEC_TABLE(opened_fields),
    [EVENT_ACCOUNT_BLOCKED] = CODEC_TABLE(blocked_fields),
    [EVENT_ACCOUNT_UNBLOCKED] = CODEC_TABLE(blocked_fields),
    [EVENT_ACCOUNT_CLOSED] = CODEC_TABLE(closed_fields),
    [EVENT_TRANSFER_EXECUTED] = CODEC_TABLE(transfer_fields),
    [EVENT_STATEMENT_PERIOD_CLOSED] = CODEC_TABLE(period_fields),
    [EVENT_CLIENT_REGISTERED] = CODEC_TABLE(client_registered_fields),
    [EVENT_CLIENT_REVOKED] = CODEC_TABLE(client_revoked_fields),
    [EVENT_THIRD_PARTY_DECLARED] = CODEC_TABLE(third_party_declared_fields),
    [EVENT_THIRD_PARTY_REMOVED] = CODEC_TABLE(third_party_removed_fields),
    [EVENT_HOLDER_IDENTIFICATION_CHANGED] = CODEC_TABLE(holder_identification_fields),
};

/* The data map of any event type (every member of ev->data starts at its offset 0, so a table
 * is walked from &ev->data); NULL for an unknown type. */
static const struct codec_table *data_table(uint16_t type)
{
    if (type < sizeof data_tables / sizeof data_tables[0] && data_tables[type].fields != NULL)
        return &data_tables[type];
    return card_data_table(type);
}

/* ---- value rules (both directions) ------------------------------------------------------------
 * Access control: ids of [A-Za-z0-9._-], a known role, a third party id exactly for role
 * third_party, rights a non-empty set of known bits for a declaration and none for a removal. */

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

/* What the encoder checks before writing a data map and the decoder after reading one: a record
 * the decoder would refuse is never written (event_encode returns 0 and the sequencer stops rather
 * than put into the log an event that replay could not read). */
static bool data_valid(const struct event *ev)
{
    switch ((enum event_type)ev->type) {
    case EVENT_ACCOUNT_OPENED: return ev->data.opened.overdraft_limit_minor >= 0;
    case EVENT_TRANSFER_EXECUTED: return ev->data.transfer.amount_minor > 0;
    case EVENT_ACCOUNT_BLOCKED:
    case EVENT_ACCOUNT_UNBLOCKED:
    case EVENT_ACCOUNT_CLOSED: return true;
    case EVENT_STATEMENT_PERIOD_CLOSED:
        return ev->data.period_closed.period[0] != '\0' && ev->data.period_closed.start_ns < ev->data.period_closed.end_ns;
    case EVENT_CLIENT_REGISTERED:
    case EVENT_CLIENT_REVOKED:
    case EVENT_THIRD_PARTY_DECLARED:
    case EVENT_THIRD_PARTY_REMOVED: return access_data_valid(ev);
    case EVENT_HOLDER_IDENTIFICATION_CHANGED: return ev->data.holder_identification.holder_id[0] != '\0';
    default: return card_data_valid(ev); /* events/codec_cards.c */
    }
}

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

/* Each pack_* writes its value in its smallest msgpack form, on the packer event_encode() passes
 * down (its data is the fixed_buf). */
static void pack_key(msgpack_packer *pk, const char *key)
{
    size_t n = strlen(key);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, key, n);
}

/* A string of at most cap-1 bytes (its member has cap bytes). An unterminated value, or with
 * is_enum the "unknown"/"UNKNOWN" of an out-of-range enum, marks the record invalid (event_encode
 * then returns 0). */
static void pack_text(msgpack_packer *pk, const char *value, size_t cap, bool is_enum)
{
    struct fixed_buf *fb = pk->data;
    size_t n = strnlen(value, cap);
    if (n == cap || (is_enum && (strcmp(value, "unknown") == 0 || strcmp(value, "UNKNOWN") == 0))) {
        fb->invalid = true;
        return;
    }
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, value, n);
}

static void pack_bin(msgpack_packer *pk, const void *value, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, value, n);
}

/* Envelope entries: the key, then the value. */
static void pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t value)
{
    pack_key(pk, key);
    msgpack_pack_uint64(pk, value);
}

static void pack_kv_bin(msgpack_packer *pk, const char *key, const void *value, size_t n)
{
    pack_key(pk, key);
    pack_bin(pk, value, n);
}

/* CODEC_U16_LIST, CODEC_FIXED_LIST: an array of the first count elements. */
static void pack_list(msgpack_packer *pk, const struct codec_field *f, const uint8_t *base)
{
    uint8_t n = base[f->count_offset];
    LEDGER_ASSERT(n <= f->size / f->elem_size);
    msgpack_pack_array(pk, n);
    for (uint8_t i = 0; i < n; i++) {
        const uint8_t *elem = base + f->offset + i * f->elem_size;
        if (f->kind == CODEC_U16_LIST)
            msgpack_pack_uint16(pk, *(const uint16_t *)elem);
        else
            pack_text(pk, (const char *)elem, f->elem_size, false);
    }
}

/* CODEC_BITS: the names of the set bits, lowest first. */
static void pack_bits(msgpack_packer *pk, const struct codec_field *f, uint8_t bits)
{
    msgpack_pack_array(pk, (size_t)__builtin_popcount(bits));
    for (unsigned bit = 1; bit <= UINT8_MAX; bit <<= 1)
        if (bits & bit)
            pack_text(pk, f->name((uint8_t)bit), ENUM_NAME_CAP, true);
}

static void codec_pack_fields(msgpack_packer *pk, const struct codec_field *spec, size_t n, const void *base);

static void pack_value(msgpack_packer *pk, const struct codec_field *f, const uint8_t *base)
{
    const uint8_t *at = base + f->offset;
    switch (f->kind) {
    case CODEC_ID: pack_bin(pk, at, sizeof(struct ledger_id)); return;
    case CODEC_STR:
    case CODEC_FIXED: pack_text(pk, (const char *)at, f->size, false); return;
    case CODEC_I64: msgpack_pack_int64(pk, *(const int64_t *)at); return;
    case CODEC_U16: msgpack_pack_uint16(pk, *(const uint16_t *)at); return;
    case CODEC_U32: msgpack_pack_uint32(pk, *(const uint32_t *)at); return;
    case CODEC_U64: msgpack_pack_uint64(pk, *(const uint64_t *)at); return;
    case CODEC_BOOL:
        if (*(const bool *)at)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        return;
    case CODEC_ENUM: pack_text(pk, f->name(*at), ENUM_NAME_CAP, true); return;
    case CODEC_BITS: pack_bits(pk, f, *at); return;
    case CODEC_U16_LIST:
    case CODEC_FIXED_LIST: pack_list(pk, f, base); return;
    case CODEC_MAP: codec_pack_fields(pk, f->nested, f->nested_n, at); return;
    }
    LEDGER_ASSERT(!"a field kind outside enum codec_field_kind");
}

/* Writes the struct at base as a map of the n rows of spec, in their order. */
static void codec_pack_fields(msgpack_packer *pk, const struct codec_field *spec, size_t n, const void *base)
{
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < n; i++) {
        pack_key(pk, spec[i].key);
        pack_value(pk, &spec[i], base);
    }
}

static bool pack_data(msgpack_packer *pk, const struct event *ev)
{
    const struct codec_table *t = data_table(ev->type);
    if (t == NULL || !data_valid(ev))
        return false;
    codec_pack_fields(pk, t->fields, t->n, &ev->data);
    return true;
}

size_t event_encode(struct event *ev, uint8_t *out, size_t cap)
{
    struct fixed_buf fb = {.p = out, .len = 0, .cap = cap, .overflow = false, .invalid = false};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &fb, fixed_buf_write);

    msgpack_pack_map(&pk, RECORD_ENTRIES);
    pack_kv_u64(&pk, record_keys[RK_SEQ], ev->seq);
    pack_key(&pk, record_keys[RK_TS]);
    msgpack_pack_int64(&pk, ev->ts_ns);
    pack_kv_u64(&pk, record_keys[RK_TYPE], ev->type);
    pack_kv_u64(&pk, record_keys[RK_V], ev->v);
    pack_kv_bin(&pk, record_keys[RK_STREAM], ev->stream.b, 16);
    pack_kv_u64(&pk, record_keys[RK_STREAM_VER], ev->stream_ver);
    pack_kv_bin(&pk, record_keys[RK_CMD_ID], ev->cmd_id.b, 16);
    pack_key(&pk, record_keys[RK_ACTOR]);
    pack_text(&pk, ev->actor, sizeof ev->actor, false);
    pack_key(&pk, record_keys[RK_DATA]);
    if (!pack_data(&pk, ev))
        return 0;
    pack_kv_bin(&pk, record_keys[RK_PREV_HASH], ev->prev_hash, LEDGER_HASH_LEN);
    if (fb.overflow || fb.invalid || fb.len + HASH_TAIL_LEN > cap)
        return 0;

    uint8_t head[LEDGER_HASH_LEN + 1];
    memcpy(head, ev->prev_hash, LEDGER_HASH_LEN);
    head[LEDGER_HASH_LEN] = 0x80 | (RECORD_ENTRIES - 1);
    ledger_sha256_2(head, sizeof head, out + 1, fb.len - 1, ev->hash);
    pack_kv_bin(&pk, record_keys[RK_HASH], ev->hash, LEDGER_HASH_LEN);
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

/* CODEC_BITS: an array of names, each of a bit above all the bits before it (lowest first, each
 * once). */
static bool decode_bits(const struct codec_field *f, const msgpack_object *o, uint8_t *bits)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > 8)
        return false;
    *bits = 0;
    for (size_t i = 0; i < o->via.array.size; i++) {
        char text[ENUM_NAME_CAP];
        uint8_t bit;
        if (!get_str(&o->via.array.ptr[i], text, sizeof text) || !f->parse(text, &bit) || bit <= *bits)
            return false;
        *bits |= bit;
    }
    return true;
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

static bool codec_decode_fields(const msgpack_object *o, const struct codec_field *spec, size_t n, void *base);

static bool decode_field(const struct codec_field *f, const msgpack_object *o, uint8_t *base)
{
    char text[ENUM_NAME_CAP];
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
    case CODEC_U64:
        if (!get_uint_max(o, INT64_MAX, &u))
            return false;
        *(uint64_t *)at = u;
        return true;
    case CODEC_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            return false;
        *(bool *)at = o->via.boolean;
        return true;
    case CODEC_ENUM: return get_str(o, text, sizeof text) && f->parse(text, at);
    case CODEC_BITS: return decode_bits(f, o, at);
    case CODEC_U16_LIST:
    case CODEC_FIXED_LIST: return decode_list(f, o, base);
    case CODEC_MAP: return codec_decode_fields(o, f->nested, f->nested_n, at);
    }
    return false;
}

/* Decodes map o by spec[0..n) into the struct at base: exactly those keys in that order, each of
 * its kind. false on any mismatch (base then holds a partial decode). Never reads outside o. */
static bool codec_decode_fields(const msgpack_object *o, const struct codec_field *spec, size_t n, void *base)
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

static bool decode_data(const msgpack_object *o, struct event *ev)
{
    const struct codec_table *t = data_table(ev->type);
    return t != NULL && codec_decode_fields(o, t->fields, t->n, &ev->data) && data_valid(ev);
}

static bool decode_envelope(const msgpack_object *root, struct event *ev)
{
    if (root->type != MSGPACK_OBJECT_MAP || root->via.map.size != RECORD_ENTRIES)
        return false;
    const msgpack_object_kv *kv = root->via.map.ptr;
    for (size_t i = 0; i < RECORD_ENTRIES; i++)
        if (!key_is(&kv[i].key, record_keys[i]))
            return false;
    uint64_t type = 0, v = 0;
    bool ok = get_u64(&kv[RK_SEQ].val, &ev->seq) && get_i64(&kv[RK_TS].val, &ev->ts_ns) &&
              get_u64(&kv[RK_TYPE].val, &type) && get_u64(&kv[RK_V].val, &v) && type <= UINT16_MAX &&
              v <= UINT16_MAX && get_id(&kv[RK_STREAM].val, &ev->stream) &&
              get_u64(&kv[RK_STREAM_VER].val, &ev->stream_ver) && get_id(&kv[RK_CMD_ID].val, &ev->cmd_id) &&
              get_str(&kv[RK_ACTOR].val, ev->actor, sizeof ev->actor) &&
              get_bin(&kv[RK_PREV_HASH].val, ev->prev_hash, LEDGER_HASH_LEN) &&
              get_bin(&kv[RK_HASH].val, ev->hash, LEDGER_HASH_LEN);
    if (!ok || v != 1)
        return false;
    ev->type = (uint16_t)type;
    ev->v = (uint16_t)v;
    return decode_data(&kv[RK_DATA].val, ev);
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

/* A bounded text buffer; overflow is sticky and makes event_to_json return 0. */
struct text_buf {
    char *p;
    size_t len;
    size_t cap;
    bool overflow;
};

static void tb_add(struct text_buf *tb, const char *s, size_t n)
{
    if (tb->overflow || n >= tb->cap - tb->len) {
        tb->overflow = true;
        return;
    }
    memcpy(tb->p + tb->len, s, n);
    tb->len += n;
    tb->p[tb->len] = '\0';
}

/* At most 255 bytes per call. */
static void tb_fmt(struct text_buf *tb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_fmt(struct text_buf *tb, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start above (a false finding of clang 14) */
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        tb->overflow = true;
        return;
    }
    tb_add(tb, tmp, (size_t)n);
}

/* s as a JSON string: quotes, backslash and control characters escaped. */
static void tb_json_str(struct text_buf *tb, const char *s)
{
    tb_add(tb, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            tb_add(tb, esc, 2);
        } else if (c < 0x20) {
            tb_fmt(tb, "\\u%04x", c);
        } else {
            tb_add(tb, (const char *)s, 1);
        }
    }
    tb_add(tb, "\"", 1);
}

/* ,"key": of an envelope member (never the first). */
static void tb_key(struct text_buf *tb, const char *key)
{
    tb_fmt(tb, ",\"%s\":", key);
}

static void tb_id(struct text_buf *tb, const struct ledger_id *id)
{
    char text[LEDGER_ID_TEXT_LEN + 1];
    ledger_id_format(id, text);
    tb_fmt(tb, "\"%s\"", text);
}

/* CODEC_U16_LIST, CODEC_FIXED_LIST: an array of the first count elements. */
static void json_list(struct text_buf *tb, const struct codec_field *f, const uint8_t *base)
{
    uint8_t n = base[f->count_offset];
    LEDGER_ASSERT(n <= f->size / f->elem_size);
    tb_add(tb, "[", 1);
    for (uint8_t i = 0; i < n; i++) {
        const uint8_t *elem = base + f->offset + i * f->elem_size;
        if (i > 0)
            tb_add(tb, ",", 1);
        if (f->kind == CODEC_U16_LIST)
            tb_fmt(tb, "%u", (unsigned)*(const uint16_t *)elem);
        else
            tb_json_str(tb, (const char *)elem);
    }
    tb_add(tb, "]", 1);
}

/* CODEC_BITS: the names of the set bits, lowest first. */
static void json_bits(struct text_buf *tb, const struct codec_field *f, uint8_t bits)
{
    const char *sep = "";
    tb_add(tb, "[", 1);
    for (unsigned bit = 1; bit <= UINT8_MAX; bit <<= 1) {
        if (bits & bit) {
            tb_add(tb, sep, strlen(sep));
            tb_json_str(tb, f->name((uint8_t)bit));
            sep = ",";
        }
    }
    tb_add(tb, "]", 1);
}

static void codec_json_fields(struct text_buf *tb, const struct codec_field *spec, size_t n, const void *base);

static void json_value(struct text_buf *tb, const struct codec_field *f, const uint8_t *base)
{
    const uint8_t *at = base + f->offset;
    switch (f->kind) {
    case CODEC_ID: tb_id(tb, (const struct ledger_id *)at); return;
    case CODEC_STR:
    case CODEC_FIXED: tb_json_str(tb, (const char *)at); return;
    case CODEC_I64: tb_fmt(tb, "%lld", (long long)*(const int64_t *)at); return;
    case CODEC_U16: tb_fmt(tb, "%u", (unsigned)*(const uint16_t *)at); return;
    case CODEC_U32: tb_fmt(tb, "%lu", (unsigned long)*(const uint32_t *)at); return;
    case CODEC_U64: tb_fmt(tb, "%llu", (unsigned long long)*(const uint64_t *)at); return;
    case CODEC_BOOL: tb_fmt(tb, "%s", *(const bool *)at ? "true" : "false"); return;
    case CODEC_ENUM: tb_json_str(tb, f->name(*at)); return;
    case CODEC_BITS: json_bits(tb, f, *at); return;
    case CODEC_U16_LIST:
    case CODEC_FIXED_LIST: json_list(tb, f, base); return;
    case CODEC_MAP: codec_json_fields(tb, f->nested, f->nested_n, at); return;
    }
    LEDGER_ASSERT(!"a field kind outside enum codec_field_kind");
}

/* Renders the struct at base as a JSON object of the n rows of spec, in their order, with the
 * keys and values the record has (ids as UUID text, enums by name). */
static void codec_json_fields(struct text_buf *tb, const struct codec_field *spec, size_t n, const void *base)
{
    tb_add(tb, "{", 1);
    for (size_t i = 0; i < n; i++) {
        tb_fmt(tb, i == 0 ? "\"%s\":" : ",\"%s\":", spec[i].key);
        json_value(tb, &spec[i], base);
    }
    tb_add(tb, "}", 1);
}

size_t event_to_json(const struct event *ev, char *out, size_t cap)
{
    struct text_buf tb = {.p = out, .len = 0, .cap = cap, .overflow = cap == 0};
    char hex[2 * LEDGER_HASH_LEN + 1];
    const char *name = event_type_name(ev->type);
    tb_fmt(&tb, "{\"seq\":%llu,\"ts_ns\":%lld,\"type\":\"%s\",\"type_id\":%u,\"v\":%u",
           (unsigned long long)ev->seq, (long long)ev->ts_ns, name ? name : "unknown", ev->type, ev->v);
    tb_key(&tb, "stream");
    tb_id(&tb, &ev->stream);
    tb_fmt(&tb, ",\"stream_ver\":%llu", (unsigned long long)ev->stream_ver);
    tb_key(&tb, "cmd_id");
    tb_id(&tb, &ev->cmd_id);
    tb_key(&tb, "actor");
    tb_json_str(&tb, ev->actor);
    tb_key(&tb, "data");
    const struct codec_table *t = data_table(ev->type);
    if (t != NULL)
        codec_json_fields(&tb, t->fields, t->n, &ev->data);
    else
        tb_add(&tb, "{}", 2);
    ledger_hex(ev->prev_hash, LEDGER_HASH_LEN, hex);
    tb_fmt(&tb, ",\"prev_hash\":\"%s\"", hex);
    ledger_hex(ev->hash, LEDGER_HASH_LEN, hex);
    tb_fmt(&tb, ",\"hash\":\"%s\"}", hex);
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
