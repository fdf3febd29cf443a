/*
 * clock.c: the business clock (commands.h). A manual clock holds its time in an atomic; readers
 * (the sequencer) and the writer (the admin endpoint) need no lock. The sequencer still makes
 * command times strictly increasing on top of it, so a clock that stands still is fine.
 */
#include <stdlib.h>
#include <time.h>

#include "commands/commands.h"

struct ledger_clock {
    enum clock_mode mode;
    int64_t now_ns; /* manual mode, atomic */
};

struct ledger_clock *ledger_clock_new(enum clock_mode mode, int64_t start_ns)
{
    struct ledger_clock *c = calloc(1, sizeof *c);
    LEDGER_ASSERT(c != NULL);
    c->mode = mode;
    c->now_ns = start_ns;
    return c;
}

void ledger_clock_free(struct ledger_clock *c)
{
    free(c);
}

int64_t ledger_clock_now(void *arg)
{
    struct ledger_clock *c = arg;
    if (c->mode == BUSINESS_CLOCK_MANUAL)
        return __atomic_load_n(&c->now_ns, __ATOMIC_ACQUIRE);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool ledger_clock_is_manual(const struct ledger_clock *c)
{
    return c->mode == BUSINESS_CLOCK_MANUAL;
}

enum ledger_err ledger_clock_set(struct ledger_clock *c, int64_t now_ns)
{
    if (c->mode != BUSINESS_CLOCK_MANUAL)
        return LEDGER_ERR_CLOCK_NOT_MANUAL;
    int64_t cur = __atomic_load_n(&c->now_ns, __ATOMIC_ACQUIRE);
    do {
        if (now_ns < cur)
            return LEDGER_ERR_CLOCK_BACKWARDS;
    } while (!__atomic_compare_exchange_n(&c->now_ns, &cur, now_ns, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    return LEDGER_ERR_OK;
}
