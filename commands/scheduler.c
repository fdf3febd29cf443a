/*
 * scheduler.c: time-driven commands. One thread wakes every interval and, when its previous
 * command has completed, submits the next CMD_EXPIRE_HOLDS. The command carries no time of its
 * own: the sequencer assigns it, so what expires is decided from the log alone.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands/commands.h"

struct scheduler {
    struct sequencer *seq;
    unsigned interval_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    bool in_flight;
    struct cmd cmd;
};

static void expire_done(struct cmd *c)
{
    struct scheduler *sc = c->ctx;
    pthread_mutex_lock(&sc->mu);
    sc->in_flight = false;
    pthread_cond_broadcast(&sc->cv);
    pthread_mutex_unlock(&sc->mu);
}

static void submit_expiry(struct scheduler *sc)
{
    memset(&sc->cmd, 0, sizeof sc->cmd);
    sc->cmd.type = CMD_EXPIRE_HOLDS;
    sc->cmd.cmd_id = ledger_id_new_v7();
    memcpy(sc->cmd.actor, "scheduler", sizeof "scheduler");
    sc->cmd.done = expire_done;
    sc->cmd.ctx = sc;
    sc->in_flight = true;
    if (sequencer_submit(sc->seq, &sc->cmd) != LEDGER_ERR_OK)
        sc->in_flight = false; /* busy or stopping: try at the next tick */
}

static void *scheduler_main(void *arg)
{
    struct scheduler *sc = arg;
    pthread_mutex_lock(&sc->mu);
    while (!sc->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += sc->interval_ms / 1000;
        until.tv_nsec += (long)(sc->interval_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&sc->cv, &sc->mu, &until);
        if (!sc->stopping && !sc->in_flight)
            submit_expiry(sc);
    }
    while (sc->in_flight)
        pthread_cond_wait(&sc->cv, &sc->mu);
    pthread_mutex_unlock(&sc->mu);
    return NULL;
}

struct scheduler *scheduler_start(struct sequencer *s, unsigned interval_ms)
{
    struct scheduler *sc = calloc(1, sizeof *sc);
    LEDGER_ASSERT(sc != NULL && interval_ms > 0);
    sc->seq = s;
    sc->interval_ms = interval_ms;
    pthread_mutex_init(&sc->mu, NULL);
    pthread_cond_init(&sc->cv, NULL);
    if (pthread_create(&sc->thread, NULL, scheduler_main, sc) != 0) {
        free(sc);
        return NULL;
    }
    return sc;
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
    pthread_mutex_destroy(&sc->mu);
    pthread_cond_destroy(&sc->cv);
    free(sc);
}
