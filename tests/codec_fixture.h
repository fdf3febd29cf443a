/*
 * codec_fixture.h: the deterministic parts of the events the codec tests build (test_codec,
 * test_codec_cards, test_codec_golden). tests/golden/codec_golden.inc was recorded from events
 * built with these: changing them changes those bytes.
 */
#ifndef LEDGER_TESTS_CODEC_FIXTURE_H
#define LEDGER_TESTS_CODEC_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "events/events.h"

/* An id whose 16 bytes are tag, tag + 7, tag + 14, ... */
struct ledger_id fixture_id(uint8_t tag);
/* Zeroes ev, then the envelope: seq, type, version 1, a fixed time, stream fixture_id(1) at
 * version 3, command fixture_id(2), actor, and a prev_hash of i * 3 + 1 at byte i. */
void fixture_envelope(struct event *ev, uint64_t seq, uint16_t type, const char *actor);
/* The data of a card hold change (captured, reversed, hold expired): hold fixture_id(50), card 40,
 * account 10, operation 60 when with_op (else zero), and the given amounts and currency. */
void fixture_hold_change(struct event *ev, int64_t amount, int64_t released, bool final, bool with_op,
                         const char *currency);

#endif
