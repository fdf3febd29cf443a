/*
 * internal.h: declarations shared by the files of events/ (not a public interface).
 */
#ifndef LEDGER_EVENTS_INTERNAL_H
#define LEDGER_EVENTS_INTERNAL_H

#include <msgpack.h>

#include "events/events.h"

/* A bounded text buffer for JSON rendering (codec.c). */
struct text_buf {
    char *p;
    size_t len;
    size_t cap;
    bool overflow;
};

/* Card events (codec_cards.c), called by codec.c for event types >= EVENT_CARD_ISSUED. */
bool pack_card_data(msgpack_packer *pk, const struct event *ev);   /* false: unknown type or invalid */
bool decode_card_data(const msgpack_object *o, struct event *ev); /* false: not a valid card event */
void card_data_to_json(struct text_buf *tb, const struct event *ev);
bool card_event_touches_account(const struct event *ev, const struct ledger_id *account_id);

#endif
