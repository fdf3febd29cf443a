/*
 * internal.h: declarations shared by the files of events/ (not a public interface).
 *
 * Every event type's data map is stated once, as a field table: one row per key, in record order,
 * naming the struct member it holds. codec.c walks the same table to write the map (msgpack,
 * smallest forms, string keys), to read it back and to render it as JSON; codec_cards.c lends it
 * the card events' tables and their value rules. All of it is pure over its arguments and
 * thread-safe.
 */
#ifndef LEDGER_EVENTS_INTERNAL_H
#define LEDGER_EVENTS_INTERNAL_H

#include <stddef.h>

#include "events/events.h"

/* What a row holds: its msgpack value -> the member it fills (decoding; encoding is the reverse,
 * JSON writes the same value as a JSON number, string, boolean, array or object). */
enum codec_field_kind {
    CODEC_ID,         /* bin 16 -> struct ledger_id */
    CODEC_STR,        /* str of at most size-1 bytes, UTF-8, no NUL -> char[size] */
    CODEC_FIXED,      /* str of exactly size-1 bytes, UTF-8, no NUL -> char[size] */
    CODEC_I64,        /* int (fits int64) -> int64_t */
    CODEC_U16,        /* uint <= UINT16_MAX -> uint16_t */
    CODEC_U32,        /* uint <= UINT32_MAX -> uint32_t */
    CODEC_U64,        /* uint <= INT64_MAX -> uint64_t (the encoder writes any value as uint) */
    CODEC_BOOL,       /* true/false -> bool */
    CODEC_ENUM,       /* str name, parsed by parse, written by name -> uint8_t (or bool) */
    CODEC_BITS,       /* array of the names of the set bits, lowest bit first, each once; parse
                       * and name take one bit -> uint8_t. An empty array is 0. */
    CODEC_U16_LIST,   /* array of uint <= UINT16_MAX -> uint16_t[], count in a uint8_t */
    CODEC_FIXED_LIST, /* array of str of exactly elem_size-1 bytes -> char[][elem_size], count */
    CODEC_MAP,        /* nested map of the nested table -> a struct member */
};

struct codec_field {
    const char *key;
    enum codec_field_kind kind;
    size_t offset;       /* of the member in the struct */
    size_t size;         /* sizeof the member (strings: capacity with the NUL; lists: the array) */
    size_t elem_size;    /* lists: sizeof one element (the list holds size / elem_size at most) */
    size_t count_offset; /* lists: offset of the uint8_t element count */
    /* CODEC_ENUM, CODEC_BITS: parse is false for an unknown name; name gives "unknown" (or
     * "UNKNOWN") for a value outside the enum, which makes event_encode refuse the event. */
    bool (*parse)(const char *name, uint8_t *out);
    const char *(*name)(uint8_t value);
    const struct codec_field *nested; /* CODEC_MAP: its table */
    size_t nested_n;
};

/* A data map: its rows, in record order. Rows have no conditions: a key that one event type
 * carries and a sibling does not (third_party.declared's "rights", absent from
 * third_party.removed) makes two tables, one per type. */
struct codec_table {
    const struct codec_field *fields;
    size_t n;
};

/* Defines static stem_parse and stem_name, the parse and name of a CODEC_ENUM or CODEC_BITS row,
 * from a bool parse(const char *, enum type *) and a const char *name(enum type) of events.h. */
#define CODEC_ENUM_FUNCS(stem, type, parse_fn, name_fn)                                            \
    static bool stem##_parse(const char *text, uint8_t *out)                                       \
    {                                                                                              \
        type value;                                                                                \
        if (!parse_fn(text, &value))                                                               \
            return false;                                                                          \
        *out = (uint8_t)value;                                                                     \
        return true;                                                                               \
    }                                                                                              \
    static const char *stem##_name(uint8_t value)                                                  \
    {                                                                                              \
        return name_fn((type)value);                                                               \
    }

#define CODEC_MEMBER_SIZE(type, member) sizeof(((type *)0)->member)
#define CODEC_FIELD(key_, kind_, type, member)                                                     \
    {.key = key_, .kind = kind_, .offset = offsetof(type, member),                                 \
     .size = CODEC_MEMBER_SIZE(type, member)}
/* stem: as given to CODEC_ENUM_FUNCS. */
#define CODEC_NAMED(key_, kind_, type, member, stem)                                               \
    {.key = key_, .kind = kind_, .offset = offsetof(type, member),                                 \
     .size = CODEC_MEMBER_SIZE(type, member), .parse = stem##_parse, .name = stem##_name}
#define CODEC_ENUM(key_, type, member, stem) CODEC_NAMED(key_, CODEC_ENUM, type, member, stem)
#define CODEC_BITS(key_, type, member, stem) CODEC_NAMED(key_, CODEC_BITS, type, member, stem)
#define CODEC_LIST(key_, kind_, type, member, count)                                               \
    {.key = key_, .kind = kind_, .offset = offsetof(type, member),                                 \
     .size = CODEC_MEMBER_SIZE(type, member), .elem_size = CODEC_MEMBER_SIZE(type, member[0]),     \
     .count_offset = offsetof(type, count)}
#define CODEC_MAP(key_, type, member, table)                                                       \
    {.key = key_, .kind = CODEC_MAP, .offset = offsetof(type, member),                             \
     .size = CODEC_MEMBER_SIZE(type, member), .nested = table,                                     \
     .nested_n = sizeof table / sizeof table[0]}
#define CODEC_TABLE(rows) {.fields = rows, .n = sizeof rows / sizeof rows[0]}

/* ---- card events (codec_cards.c), used by codec.c for event types >= EVENT_CARD_ISSUED ------- */

/* The data map of a card event type; NULL for any other type. Static. */
const struct codec_table *card_data_table(uint16_t type);
/* The value rules of card events that the field tables cannot state (digits, months, ranges,
 * amounts), applied by the encoder before writing and by the decoder after reading. */
bool card_data_valid(const struct event *ev);
/* True when a card event carries account_id (card.issued, decisions, hold changes, refunds). */
bool card_event_touches_account(const struct event *ev, const struct ledger_id *account_id);

#endif
