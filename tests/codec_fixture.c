/*
 * codec_fixture.c: see codec_fixture.h.
 */
#include <stdio.h>
#include <string.h>

#include "tests/codec_fixture.h"

struct ledger_id fixture_id(uint8_t tag)
{
    struct ledger_id id;
    for (int i = 0; i < 16; i++)
        id.b[i] = (uint8_t)(tag + i * 7);
    return id;
}

void fixture_envelope(struct event *ev, uint64_t seq, uint16_t type, const char *actor)
{
    memset(ev, 0, sizeof *ev);
    ev->seq = seq;
    ev->ts_ns = 1700000000123456789ll;
    ev->type = type;
    ev->v = 1;
    ev->stream = fixture_id(1);
    ev->stream_ver = 3;
    ev->cmd_id = fixture_id(2);
    snprintf(ev->actor, sizeof ev->actor, "%s", actor);
    for (int i = 0; i < LEDGER_HASH_LEN; i++)
        ev->prev_hash[i] = (uint8_t)(i * 3 + 1);
}

void fixture_hold_change(struct event *ev, int64_t amount, int64_t released, bool final, bool with_op,
                         const char *currency)
{
    struct ev_card_hold_change *d = &ev->data.card_hold;
    d->hold_id = fixture_id(50);
    d->card_id = fixture_id(40);
    d->account_id = fixture_id(10);
    if (with_op)
        d->operation_id = fixture_id(60);
    d->amount = amount;
    d->released = released;
    snprintf(d->currency, sizeof d->currency, "%s", currency);
    d->final = final;
}
