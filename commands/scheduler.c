/*
 * scheduler.c: time-driven commands. One thread wakes every interval (or when kicked after the
 * business clock moved) and submits, for each of its jobs whose previous command has completed,
 * the next one: CMD_EXPIRE_HOLDS (card holds) and CMD_SEAL_PERIODS (statement periods). The
 * commands carry no time of their own: the sequencer assigns it, so what expires or is sealed is
 * decided from the log and the clock alone, and resumes after a restart.
 *
 * A second thread, ledger-purge, expires idempotency records (store_idempotency_set_horizon and
 * store_idempotency_purge): a purge is a compaction that can take seconds on a large family, so it
 * never holds up an expiry or a seal. It follows the sequencer's time, so with a manual business
 * clock records expire when that clock says so.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands/commands.h"
#include "events/limits.h"
#include "store/store.h"

enum { JOB_EXPIRE, JOB_SEAL, JOBS };

struct job {
    struct scheduler *sc;
    bool in_flight;
    struct cmd cmd;
};

struct scheduler {
    struct sequencer *seq;
    struct store *st;          /* NULL: no purge thread */
    pthread_t purge_thread;
    int64_t purged_horizon_ns; /* the horizon of the last purge (purge thread only) */
    bool purge_kicked;
    unsigned interval_ms;
    uint8_t period_kind;
    char time_zone[48];
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping, kicked;
    struct job jobs[JOBS];
};

static void job_done(struct cmd *c)
{
    struct job *j = c->ctx;
    pthread_mutex_lock(&j->sc->mu);
    j->in_flight = false;
    pthread_cond_broadcast(&j->sc->cv);
    pthread_mutex_unlock(&j->sc->mu);
}

static void job_submit(struct scheduler *sc, struct job *j, enum cmd_type type)
{
    memset(&j->cmd, 0, sizeof j->cmd);
    j->cmd.type = type;
    j->cmd.cmd_id = ledger_id_new_v7();
    memcpy(j->cmd.actor, "scheduler", sizeof "scheduler");
    if (type == CMD_SEAL_PERIODS) {
        j->cmd.u.seal.kind = sc->period_kind;
        memcpy(j->cmd.u.seal.time_zone, sc->time_zone, sizeof j->cmd.u.seal.time_zone);
    }
    j->cmd.done = job_done;
    j->cmd.ctx = j;
    j->in_flight = true;
    if (sequencer_submit(sc->seq, &j->cmd) != LEDGER_ERR_OK)
        j->in_flight = false; /* busy or stopping: try at the next tick */
}

/* With sc->mu held: waits for the next tick, a kick (the calling thread's flag) or the stop. */
static void wait_tick(struct scheduler *sc, bool *kicked)
{
    struct timespec until = ledger_realtime_after_ms((long)sc->interval_ms);
    while (!sc->stopping && !*kicked)
        if (pthread_cond_timedwait(&sc->cv, &sc->mu, &until) != 0)
            break;
    *kicked = false;
}

static void *scheduler_main(void *arg)
{
    pthread_setname_np(pthread_self(), "ledger-sched"); /* as top -H and perf show it */
    struct scheduler *sc = arg;
    static const enum cmd_type types[JOBS] = {CMD_EXPIRE_HOLDS, CMD_SEAL_PERIODS};
    pthread_mutex_lock(&sc->mu);
    while (!sc->stopping) {
        wait_tick(sc, &sc->kicked);
        for (int i = 0; i < JOBS && !sc->stopping; i++)
            if (!sc->jobs[i].in_flight)
                job_submit(sc, &sc->jobs[i], types[i]);
    }
    for (int i = 0; i < JOBS; i++)
        while (sc->jobs[i].in_flight)
            pthread_cond_wait(&sc->cv, &sc->mu);
    pthread_mutex_unlock(&sc->mu);
    return NULL;
}

static void *purge_main(void *arg)
{
    pthread_setname_np(pthread_self(), "ledger-purge"); /* as top -H and perf show it */
    struct scheduler *sc = arg;
    pthread_mutex_lock(&sc->mu);
    while (!sc->stopping) {
        wait_tick(sc, &sc->purge_kicked);
        int64_t now = sequencer_now(sc->seq);
        if (sc->stopping || now <= LEDGER_IDEMPOTENCY_RETENTION_NS)
            continue;
        int64_t horizon = now - LEDGER_IDEMPOTENCY_RETENTION_NS;
        store_idempotency_set_horizon(sc->st, horizon);
        if (sc->purged_horizon_ns == 0) { /* no compaction at start-up: the first purge is an hour on */
            sc->purged_horizon_ns = horizon;
            continue;
        }
        if (horizon - sc->purged_horizon_ns < LEDGER_IDEMPOTENCY_PURGE_EVERY_NS)
            continue;
        sc->purged_horizon_ns = horizon;
        pthread_mutex_unlock(&sc->mu);
        store_idempotency_purge(sc->st);
        pthread_mutex_lock(&sc->mu);
    }
    pthread_mutex_unlock(&sc->mu);
    return NULL;
}

struct scheduler *scheduler_start(struct sequencer *s, struct store *st, unsigned interval_ms, uint8_t period_kind,
                                  const char *time_zone)
{
    struct scheduler *sc = calloc(1, sizeof *sc);
    LEDGER_ASSERT(sc != NULL && interval_ms > 0);
    sc->seq = s;
    sc->interval_ms = interval_ms;
    sc->period_kind = period_kind;
    snprintf(sc->time_zone, sizeof sc->time_zone, "%s", time_zone);
    for (int i = 0; i < JOBS; i++)
        sc->jobs[i].sc = sc;
    pthread_mutex_init(&sc->mu, NULL);
    pthread_cond_init(&sc->cv, NULL);
    if (pthread_create(&sc->thread, NULL, scheduler_main, sc) != 0) {
        free(sc);
        return NULL;
    }
    sc->st = st;
    if (st != NULL && pthread_create(&sc->purge_thread, NULL, purge_main, sc) != 0) {
        fprintf(stderr, "ledgerd: cannot start the idempotency purge thread; records are kept\n");
        sc->st = NULL;
    }
    return sc;
}

void scheduler_kick(struct scheduler *sc)
{
    if (sc == NULL)
        return;
    pthread_mutex_lock(&sc->mu);
    sc->kicked = true;
    sc->purge_kicked = true;
    pthread_cond_broadcast(&sc->cv);
    pthread_mutex_unlock(&sc->mu);
}

void scheduler_stop(struct scheduler *sc)
{
    if (sc == NULL)
        return;
    pthread_mutex_lock(&sc->mu);
    sc->stopping = true;
    pthread_cond_broadcast(&sc->cv);
    pthread_mutex_unlock(&sc->mu);
    pthread_join(sc->thread, NULL);
    if (sc->st != NULL) {
        store_idempotency_purge_stop(sc->st); /* a purge under way ends early */
        pthread_join(sc->purge_thread, NULL);
    }
    pthread_mutex_destroy(&sc->mu);
    pthread_cond_destroy(&sc->cv);
    free(sc);
}
