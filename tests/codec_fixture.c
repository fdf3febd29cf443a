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
