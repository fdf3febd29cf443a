/*
 * internal.h: declarations shared by the files of projections/ (not a public interface).
 */
#ifndef LEDGER_PROJECTIONS_INTERNAL_H
#define LEDGER_PROJECTIONS_INTERNAL_H

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

#endif
