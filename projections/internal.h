/*
 * internal.h: declarations shared by the files of projections/ (not a public interface).
 */
#ifndef LEDGER_PROJECTIONS_INTERNAL_H
#define LEDGER_PROJECTIONS_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "projections/projections.h"

/* The card part of a ledger_state (cards.c): cards, authorizations, the expiry heap, dirty lists. */
struct card_book;
struct card_book *card_book_new(void);
void card_book_free(struct card_book *cs);
/* Applies a card event (type >= EVENT_CARD_ISSUED) to st; LEDGER_ERR_DECODE on a contradiction. */
enum ledger_err card_book_apply(struct ledger_state *st, const struct event *ev);
struct card_book *ledger_state_card_book(struct ledger_state *st);

/* state.c: marks an account changed by event seq (DIRTY_* bits), for its projection rows. */
void ledger_state_mark_dirty(struct ledger_state *st, struct account *a, uint64_t seq, uint8_t bits);

/* Versioned fixed-layout rows (state.c): a u32 version then the struct's bytes, with the byte at
 * dirty_offset (the struct's dirty mark) written as 0. Structs are zeroed at creation, so padding
 * is zero and equal states give equal rows. row_get: false unless len == 4 + size and the version
 * matches; out is then a copy of the struct. */
#define ROW_NO_DIRTY ((size_t)-1)
void row_put(uint32_t version, const void *src, size_t size, size_t dirty_offset, uint8_t *out);
bool row_get(uint32_t version, const void *row, size_t len, void *out, size_t size);

/* Packed rows, for rows rewritten at every change on the hot path (cards, authorizations): mostly
 * zeros (string buffers, empty lists), so the struct's bytes are stored as runs. The u32 version
 * carries ROW_PACKED; then control bytes: c < 0x80 is followed by c + 1 literal bytes, c >= 0x80
 * stands for (c & 0x7f) + 1 zero bytes; zero runs shorter than ROW_ZERO_RUN_MIN stay literal. The
 * same struct bytes always give the same row. When runs would not be shorter than the struct, the
 * plain layout of row_put is written instead. row_get reads both (and rows written before packing).
 * out holds 4 + size bytes; returns the row's length. */
#define ROW_PACKED 0x80000000u
#define ROW_ZERO_RUN_MIN 3
#define ROW_RUN_MAX 128
size_t row_pack(uint32_t version, const void *src, size_t size, uint8_t *out);

/* Hashing for the in-memory indexes of projections/ (never persisted: free to change). FNV-1a
 * over bytes, the murmur3 64-bit finalizer, and a seeded hash of a 16-byte id. */
static inline uint64_t proj_fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

#define PROJ_FNV_BASIS 0xcbf29ce484222325ull

static inline uint64_t proj_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* Zeroed memory, written at once (malloc + memset) rather than calloc'd: a hash table probed
 * before it is written would map the shared zero page on the read and copy it on the write (a
 * second page fault and a TLB shootdown across cores, both dear in a VM). Aborts when out of
 * memory. */
void *proj_zalloc(size_t n, size_t size);

static inline uint64_t proj_hash_id(uint64_t seed, const struct ledger_id *id)
{
    uint64_t lo, hi;
    memcpy(&lo, id->b, 8);
    memcpy(&hi, id->b + 8, 8);
    return proj_mix64(lo ^ seed) ^ proj_mix64(hi + 0x9e3779b97f4a7c15ull);
}

#endif
