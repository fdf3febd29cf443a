/*
 * event_feed.c: the log read and decoded on a thread of its own (tools.h), so that a tool's
 * apply loop gets decoded events while the next ones are read: on two cores a rebuild's reading
 * and decoding (about half its work) runs beside its applying instead of before it.
 *
 * Events travel in chunks of FEED_CHUNK_EVENTS through a ring of FEED_CHUNKS: one lock round
 * trip per chunk, not per event. The feed stops at the first record that does not decode (the
 * consumer sees the events before it, then the end with LEDGER_ERR_DECODE) or a failed read
 * (LEDGER_ERR_IO).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "tools/tools.h"

#define FEED_CHUNK_EVENTS 256
#define FEED_CHUNKS 8

struct chunk {
    struct event ev[FEED_CHUNK_EVENTS];
    size_t n;
};

struct event_feed {
    struct store *src;
    uint64_t from, upto;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t changed;
    struct chunk ring[FEED_CHUNKS];
    uint64_t produced, consumed; /* chunks */
    bool done, stopping;         /* done: the producer put its last chunk */
    enum ledger_err end;         /* why it is done */
    uint64_t end_seq;            /* the record that did not decode */
    /* the consumer's position in the chunk it holds */
    struct chunk *cur;
    size_t at;
};

static void *feed_main(void *arg)
{
    pthread_setname_np(pthread_self(), "ledger-feed"); /* as top -H and perf show it */
    struct event_feed *f = arg;
    struct store_iter *it = store_iter_events_scan(f->src, f->from);
    const uint8_t *k, *v;
    size_t kl, vl;
    enum ledger_err end = LEDGER_ERR_OK;
    uint64_t end_seq = 0, next = f->from;
    bool more = true;
    while (more) {
        pthread_mutex_lock(&f->mu);
        while (!f->stopping && f->produced - f->consumed == FEED_CHUNKS)
            pthread_cond_wait(&f->changed, &f->mu);
        bool stop = f->stopping;
        pthread_mutex_unlock(&f->mu);
        if (stop)
            break;
        struct chunk *c = &f->ring[f->produced % FEED_CHUNKS];
        c->n = 0;
        while (c->n < FEED_CHUNK_EVENTS) {
            if (next > f->upto || !store_iter_next(it, &k, &kl, &v, &vl)) {
                more = false;
                break;
            }
            if (event_decode(v, vl, &c->ev[c->n]) != LEDGER_ERR_OK) {
                end = LEDGER_ERR_DECODE;
                end_seq = next;
                more = false;
                break;
            }
            c->n++;
            next++;
        }
        if (store_iter_failed(it))
            end = LEDGER_ERR_IO;
        pthread_mutex_lock(&f->mu);
        f->produced++;
        if (!more) {
            f->done = true;
            f->end = end;
            f->end_seq = end_seq;
        }
        pthread_cond_broadcast(&f->changed);
        pthread_mutex_unlock(&f->mu);
    }
    store_iter_free(it);
    pthread_mutex_lock(&f->mu);
    f->done = true;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

struct event_feed *event_feed_start(struct store *src, uint64_t from, uint64_t upto)
{
    struct event_feed *f = calloc(1, sizeof *f);
    LEDGER_ASSERT(f != NULL);
    f->src = src;
    f->from = from;
    f->upto = upto;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->changed, NULL);
    LEDGER_ASSERT(pthread_create(&f->thread, NULL, feed_main, f) == 0);
    return f;
}

const struct event *event_feed_next(struct event_feed *f)
{
    if (f->cur != NULL && f->at < f->cur->n)
        return &f->cur->ev[f->at++];
    pthread_mutex_lock(&f->mu);
    if (f->cur != NULL) { /* hand the finished chunk back */
        f->consumed++;
        f->cur = NULL;
        pthread_cond_broadcast(&f->changed);
    }
    for (;;) {
        while (f->produced == f->consumed && !f->done)
            pthread_cond_wait(&f->changed, &f->mu);
        if (f->produced == f->consumed) { /* done and drained */
            pthread_mutex_unlock(&f->mu);
            return NULL;
        }
        struct chunk *c = &f->ring[f->consumed % FEED_CHUNKS];
        if (c->n > 0) {
            f->cur = c;
            f->at = 1;
            pthread_mutex_unlock(&f->mu);
            return &c->ev[0];
        }
        f->consumed++; /* an empty last chunk */
        pthread_cond_broadcast(&f->changed);
    }
}

enum ledger_err event_feed_end(struct event_feed *f, uint64_t *bad_seq)
{
    pthread_mutex_lock(&f->mu);
    enum ledger_err end = f->end;
    *bad_seq = f->end_seq;
    pthread_mutex_unlock(&f->mu);
    return end;
}

void event_feed_stop(struct event_feed *f)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->mu);
    f->stopping = true;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->changed);
    free(f);
}
