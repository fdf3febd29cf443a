/*
 * codec_cards.c: msgpack layout of the card events (docs/EVENT-FORMAT.md). STUB: to be written.
 */
#include "events/internal.h"

bool pack_card_data(msgpack_packer *pk, const struct event *ev)
{
    (void)pk;
    (void)ev;
    return false;
}

bool decode_card_data(const msgpack_object *o, struct event *ev)
{
    (void)o;
    (void)ev;
    return false;
}

void card_data_to_json(struct text_buf *tb, const struct event *ev)
{
    (void)tb;
    (void)ev;
}

bool card_event_touches_account(const struct event *ev, const struct ledger_id *account_id)
{
    (void)ev;
    (void)account_id;
    return false;
}
