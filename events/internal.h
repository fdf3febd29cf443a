/*
 * internal.h: declarations shared by the files of events/ (not a public interface).
 *
 * codec.c owns the record (envelope, hash, msgpack walking) and lends codec_cards.c three things:
 * the packers (smallest msgpack forms, string keys), the table-driven data-map decoder, and the
 * bounded JSON writer. All are pure over their arguments and thread-safe.
 */
#ifndef LEDGER_EVENTS_INTERNAL_H
#define LEDGER_EVENTS_INTERNAL_H

#include <msgpack.h>
#include <stddef.h>

#include "events/events.h"

/* ---- encoding (codec.c) ----------------------------------------------------------------------
 * Only valid on the packer event_encode() passes down (its data is codec.c's fixed buffer). Each
 * writes a string key then the value, in its smallest msgpack form. */

/* Bytes an enum name may take, with its NUL (names are at most 15 bytes). */
#define CODEC_ENUM_NAME_CAP 16

void codec_pack_key(msgpack_packer *pk, const char *key);
/* A string of at most cap-1 bytes (its member has cap bytes). An unterminated value, or with
 * is_enum the "unknown"/"UNKNOWN" of an out-of-range enum, marks the record invalid (event_encode
 * then returns 0). key NULL writes the value alone (an array element). */
void codec_pack_field(msgpack_packer *pk, const char *key, const char *value, size_t cap, bool is_enum);
#define codec_pack_str(pk, key, member) codec_pack_field(pk, key, member, sizeof(member), false)
#define codec_pack_enum(pk, key, name) codec_pack_field(pk, key, name, CODEC_ENUM_NAME_CAP, true)
void codec_pack_bin(msgpack_packer *pk, const char *key, const void *value, size_t n);
void codec_pack_u64(msgpack_packer *pk, const char *key, uint64_t value);
void codec_pack_i64(msgpack_packer *pk, const char *key, int64_t value);
void codec_pack_bool(msgpack_packer *pk, const char *key, bool value);

/* ---- decoding (codec.c) ----------------------------------------------------------------------
 * A data map is decoded by a table: one row per expected key, in order, naming the struct member
 * it fills. codec_decode_fields() accepts exactly those keys in that order, each of its kind. */
enum codec_field_kind {
    CODEC_ID,         /* bin 16 -> struct ledger_id */
    CODEC_STR,        /* str of at most size-1 bytes, UTF-8, no NUL -> char[size] */
    CODEC_FIXED,      /* str of exactly size-1 bytes, UTF-8, no NUL -> char[size] */
    CODEC_I64,        /* int (fits int64) -> int64_t */
    CODEC_U16,        /* uint <= UINT16_MAX -> uint16_t */
    CODEC_U32,        /* uint <= UINT32_MAX -> uint32_t */
    CODEC_BOOL,       /* true/false -> bool */
    CODEC_ENUM,       /* str name, parsed by parse -> uint8_t */
    CODEC_U16_LIST,   /* array of uint <= UINT16_MAX -> uint16_t[], count in a uint8_t */
    CODEC_FIXED_LIST, /* array of str of exactly elem_size-1 bytes -> char[][elem_size], count */
    CODEC_MAP,        /* nested map decoded by the nested table -> a struct member */
};

struct codec_field {
    const char *key;
    enum codec_field_kind kind;
    size_t offset;       /* of the member in the decoded struct */
    size_t size;         /* sizeof the member (strings: capacity with the NUL; lists: the array) */
    size_t elem_size;    /* lists: sizeof one element (the list holds size / elem_size at most) */
    size_t count_offset; /* lists: offset of the uint8_t element count */
    bool (*parse)(const char *name, uint8_t *out);  /* CODEC_ENUM: false for an unknown name */
    const struct codec_field *nested;               /* CODEC_MAP: its table */
    size_t nested_n;
};

/* Defines static bool fn(const char *name, uint8_t *out), a CODEC_ENUM parser, from a
 * bool parse(const char *, enum type *) of events.h. */
#define CODEC_ENUM_PARSER(fn, type, parse)                                                         \
    static bool fn(const char *name, uint8_t *out)                                                 \
    {                                                                                              \
        type value;                                                                                \
        if (!parse(name, &value))                                                                  \
            return false;                                                                          \
        *out = (uint8_t)value;                                                                     \
        return true;                                                                               \
    }

#define CODEC_MEMBER_SIZE(type, member) sizeof(((type *)0)->member)
#define CODEC_FIELD(key_, kind_, type, member)                                                     \
    {.key = key_, .kind = kind_, .offset = offsetof(type, member),                                 \
     .size = CODEC_MEMBER_SIZE(type, member)}
#define CODEC_ENUM(key_, type, member, parse_)                                                     \
    {.key = key_, .kind = CODEC_ENUM, .offset = offsetof(type, member),                            \
     .size = CODEC_MEMBER_SIZE(type, member), .parse = parse_}
#define CODEC_LIST(key_, kind_, type, member, count)                                               \
    {.key = key_, .kind = kind_, .offset = offsetof(type, member),                                 \
     .size = CODEC_MEMBER_SIZE(type, member), .elem_size = CODEC_MEMBER_SIZE(type, member[0]),     \
     .count_offset = offsetof(type, count)}
#define CODEC_MAP(key_, type, member, table)                                                       \
    {.key = key_, .kind = CODEC_MAP, .offset = offsetof(type, member),                             \
     .size = CODEC_MEMBER_SIZE(type, member), .nested = table,                                     \
     .nested_n = sizeof table / sizeof table[0]}

/* Decodes map o by spec[0..n) into the struct at base. false on any mismatch (base then holds a
 * partial decode). Never reads outside o. */
bool codec_decode_fields(const msgpack_object *o, const struct codec_field *spec, size_t n, void *base);
#define CODEC_DECODE(o, spec, dst) codec_decode_fields(o, spec, sizeof spec / sizeof spec[0], dst)

/* ---- JSON (codec.c) -------------------------------------------------------------------------- */

/* A bounded text buffer for JSON rendering; overflow is sticky and makes event_to_json return 0. */
struct text_buf {
    char *p;
    size_t len;
    size_t cap;
    bool overflow;
};

void codec_tb_add(struct text_buf *tb, const char *s, size_t n);
/* At most 255 bytes per call. */
void codec_tb_fmt(struct text_buf *tb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string: quotes, backslash and control characters escaped. */
void codec_tb_json_str(struct text_buf *tb, const char *s);
/* ,"key":"value" and ,"key":"<uuid>" (every member is written with a leading comma). */
void codec_tb_kv_str(struct text_buf *tb, const char *key, const char *value);
void codec_tb_kv_id(struct text_buf *tb, const char *key, const struct ledger_id *id);
/* Closes an object whose members were written from open_at on: drops the first member's comma,
 * appends '}'. */
void codec_tb_close_object(struct text_buf *tb, size_t open_at);

/* ---- card events (codec_cards.c), called by codec.c for event types >= EVENT_CARD_ISSUED ------ */

/* Writes the data map of a card event. false for an unknown type or an invalid value (the same
 * rules the decoder enforces), so the encoder never writes a record its decoder refuses. */
bool pack_card_data(msgpack_packer *pk, const struct event *ev);
/* Decodes the data map of a card event into ev->data (ev->type is already set, the rest zeroed).
 * false: unknown type or not a valid card event. */
bool decode_card_data(const msgpack_object *o, struct event *ev);
/* Writes the data members (each with a leading comma); nothing for an unknown type. */
void card_data_to_json(struct text_buf *tb, const struct event *ev);
/* True when a card event carries account_id (card.issued, decisions, hold changes, refunds). */
bool card_event_touches_account(const struct event *ev, const struct ledger_id *account_id);

#endif
