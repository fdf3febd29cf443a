/*
 * test_queue.c: back-pressure. The sequencer's queue is bounded: when it is full, submit answers
 * LEDGER_ERR_BUSY at once (HTTP 503), and every accepted command still completes.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands/commands.h"
#include "store/store.h"
#include "tests/harness.h"

/* A clock that holds the decider until released: the queue then fills deterministically. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_open, decider_waiting;
static int64_t fake_now = 1700000000000000000;

static int64_t gated_clock(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate_mu);
    decider_waiting = true;
    pthread_cond_broadcast(&gate_cv);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    return __atomic_add_fetch(&fake_now, 1000, __ATOMIC_RELAXED);
}

static uint64_t completed;
static void count_done(struct cmd *c)
{
    (void)c;
    __atomic_add_fetch(&completed, 1, __ATOMIC_RELAXED);
}

/* With the decider held, exactly LEDGER_QUEUE_COMMANDS_MAX commands are queued, the next is BUSY
 * (mapped to HTTP 503); once released, every accepted command completes with its own account. */
Test(queue, full_queue_is_busy, .timeout = 60)
{
    char tmp[64], data[128], err[256];
    harness_tmpdir(tmp, sizeof tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
    struct store *st = store_open(data, false, err, sizeof err);
    cr_assert(st != NULL, "%s", err);
    struct sequencer *seq = sequencer_start(st, NULL, NULL, err, sizeof err);
    cr_assert(seq != NULL, "%s", err);
    sequencer_set_clock(seq, gated_clock, NULL);

    size_t n = LEDGER_QUEUE_COMMANDS_MAX + 2;
    struct cmd *cmds = calloc(n, sizeof *cmds);
    for (size_t i = 0; i < n; i++) {
        struct cmd *c = &cmds[i];
        c->type = CMD_OPEN_ACCOUNT;
        c->cmd_id = ledger_id_new_v7();
        c->u.open.account_id = ledger_id_new_v7();
        c->u.open.kind = ACCOUNT_KIND_CUSTOMER;
        snprintf(c->u.open.holder_id, sizeof c->u.open.holder_id, "q-%zu", i);
        snprintf(c->u.open.friendly_name, sizeof c->u.open.friendly_name, "main");
        memcpy(c->u.open.currency, "EUR", 4);
        snprintf(c->actor, sizeof c->actor, "test");
        c->done = count_done;
    }
    /* the first command is taken by the decider, which then blocks in the clock */
    cr_assert_eq(sequencer_submit(seq, &cmds[0]), LEDGER_ERR_OK);
    pthread_mutex_lock(&gate_mu);
    while (!decider_waiting)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    size_t accepted = 1;
    for (size_t i = 1; i <= LEDGER_QUEUE_COMMANDS_MAX; i++) {
        cr_assert_eq(sequencer_submit(seq, &cmds[i]), LEDGER_ERR_OK, "command %zu", i);
        accepted++;
    }
    enum ledger_err busy = sequencer_submit(seq, &cmds[n - 1]);
    cr_expect_eq(busy, LEDGER_ERR_BUSY);
    cr_expect_eq(ledger_err_http_status(busy), 503);

    pthread_mutex_lock(&gate_mu);
    gate_open = true;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
    for (int i = 0; i < 3000 && __atomic_load_n(&completed, __ATOMIC_RELAXED) < accepted; i++)
        usleep(10000);
    cr_assert_eq(__atomic_load_n(&completed, __ATOMIC_RELAXED), accepted);
    for (size_t i = 0; i < accepted; i++)
        cr_expect_eq(cmds[i].result, LEDGER_ERR_OK, "command %zu: %s", i, ledger_err_name(cmds[i].result));
    sequencer_stop(seq);
    cr_expect_eq(store_head(st).seq, accepted, "one event per accepted command");
    store_close(st);
    free(cmds);
    harness_rmdir(tmp);
}
