/*
 * sequencer.c: the one thread that owns all write state (DESIGN section 4).
 *
 * Two threads, two stages (double buffering):
 *   decider:   wait for commands -> take a batch (bounded by LEDGER_COMMIT_COMMANDS_MAX and the
 *              events budget LEDGER_COMMIT_EVENTS_MAX) into a stage -> for each command assign
 *              its time (strictly increasing), check its idempotency key, decide() it (applying its
 *              events to the state at once) -> encode and chain every event -> put events, stream
 *              index, account and balance rows, holder index, idempotency records and the chain
 *              head into the stage's ONE WriteBatch -> hand the stage to the committer.
 *   committer: commit the stage with sync=true -> publish metrics, notify the outbox -> call done()
 *              of each command -> free the stage.
 * So batch k+1 is decided while batch k is being fsync'd. A stage handed over but not yet taken
 * (the committer is still busy with the one before) stays open: commands that arrive meanwhile are
 * decided into it too (the decider marks it `appending` while it adds, and the committer takes it
 * only when it is not), so they ride on the next fsync instead of waiting for the one after.
 * The state runs ahead of the disk by at most those two stages. Nothing is acknowledged before it
 * is durable: done() runs only after that stage's store_commit() returned, stages commit in order,
 * and store_commit() aborts the process on failure (fail-stop), so no caller ever observes state
 * that the disk lacks.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands/commands.h"
#include "store/store.h"

const unsigned latency_us_bounds[LATENCY_BOUNDS] = {50, 100, 250, 500, 750, 1000, 1500, 2000, 2500, 5000, 10000};

/* An answer recorded under an idempotency key in a stage not yet known to be on disk. Owns copies
 * of the key and hash: the command itself is gone once done() ran. */
struct rendered {
    uint8_t key[LEDGER_CLIENT_ID_MAX + 1 + LEDGER_IDEMPOTENCY_KEY_MAX];
    size_t key_len;
    uint8_t hash[LEDGER_HASH_LEN];
    int status;
    char *body; /* NULL: no answer recorded for this command */
    size_t len;
};

struct stage {
    struct store_batch *batch;
    struct cmd **taken;
    size_t n;
    size_t budget; /* decide_events_max() of the commands taken: at most LEDGER_COMMIT_EVENTS_MAX */
    struct rendered *rendered;
    size_t events;
    uint64_t head_seq;
    bool busy;      /* handed to the committer and not yet finished (under commit_mu) */
    bool appending; /* handed, not yet taken, and the decider is adding to it (under commit_mu) */
};

struct sequencer {
    struct store *store;
    struct ledger_state *state;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct cmd **ring;
    size_t ring_head, ring_count;
    bool stopping;
    sequencer_commit_fn on_commit;
    void *on_commit_arg;
    int64_t (*clock)(void *arg);
    void *clock_arg;
    int64_t last_now;
    struct store_head head; /* the decider's head: ahead of the disk by at most one stage */
    /* scratch, allocated once */
    struct stage stages[2];
    struct stage *cur;   /* the stage the decider fills next */
    struct stage *other; /* the last one handed over (maybe not yet taken, maybe committing) */
    struct event *events;
    uint8_t *record;
    char *render_buf;
    /* decider -> committer hand-off */
    pthread_t committer;
    pthread_mutex_t commit_mu;
    pthread_cond_t commit_cv;
    struct stage *to_commit;
    bool committer_stop;
    struct sequencer_metrics m; /* written by the sequencer thread only, read with atomics */
    uint64_t replay_events;
    double replay_seconds;
};

static int64_t realtime_ns(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define M_ADD(field, v) __atomic_add_fetch(&s->m.field, (v), __ATOMIC_RELAXED)
#define M_SET(field, v) __atomic_store_n(&s->m.field, (v), __ATOMIC_RELAXED)

/* ---- idempotency ------------------------------------------------------------------------------ */

static bool rendered_match(const struct rendered *r, const struct cmd *c)
{
    return r->body != NULL && r->key_len == c->idem_key_len && memcmp(r->key, c->idem_key, c->idem_key_len) == 0;
}

/* Answers c from a stored (hash, time, status, body) record; true when c is answered. */
static bool idem_answer(struct cmd *c, const uint8_t *hash, int status, const char *body, size_t len)
{
    if (memcmp(hash, c->request_hash, LEDGER_HASH_LEN) != 0) {
        c->result = LEDGER_ERR_IDEMPOTENCY_KEY_REUSED;
        c->field = "Idempotency-Key";
        return true;
    }
    c->result = LEDGER_ERR_OK;
    c->field = NULL;
    c->idem_replayed = true;
    c->idem_status = status;
    c->idem_body = malloc(len + 1);
    LEDGER_ASSERT(c->idem_body != NULL);
    memcpy(c->idem_body, body, len);
    c->idem_body_len = len;
    return true;
}

/* Looks for c's key earlier in its stage sg, in the stage before (maybe not yet on disk), then on
 * disk. true when c is answered (replayed, or refused as a reuse with a different request). */
static bool idem_check(struct sequencer *s, const struct stage *sg, const struct stage *prev, struct cmd *c,
                       size_t index)
{
    for (size_t i = index; i-- > 0;)
        if (rendered_match(&sg->rendered[i], c))
            return idem_answer(c, sg->rendered[i].hash, sg->rendered[i].status, sg->rendered[i].body,
                               sg->rendered[i].len);
    for (size_t i = prev->n; i-- > 0;)
        if (rendered_match(&prev->rendered[i], c))
            return idem_answer(c, prev->rendered[i].hash, prev->rendered[i].status, prev->rendered[i].body,
                               prev->rendered[i].len);
    char *val = NULL;
    size_t vlen = 0;
    if (store_get(s->store, STORE_CF_IDEMPOTENCY, c->idem_key, c->idem_key_len, &val, &vlen) != LEDGER_ERR_OK)
        return false;
    bool answered = false;
    if (vlen >= STORE_IDEM_HEADER_BYTES) {
        const uint8_t *v = (const uint8_t *)val;
        int64_t ts = (int64_t)store_be_u64(v + STORE_IDEM_TS_AT);
        if (c->now_ns - ts <= LEDGER_IDEMPOTENCY_RETENTION_NS)
            answered = idem_answer(c, v, v[STORE_IDEM_STATUS_AT] << 8 | v[STORE_IDEM_STATUS_AT + 1],
                                   val + STORE_IDEM_HEADER_BYTES, vlen - STORE_IDEM_HEADER_BYTES);
    }
    free(val);
    return answered;
}

/* Renders c's answer and records it (key -> hash, time, status, body) in sg's batch. */
static void idem_record(struct sequencer *s, struct stage *sg, struct cmd *c, size_t index)
{
    int status = 0;
    size_t len = c->render(c, &status, s->render_buf + STORE_IDEM_HEADER_BYTES,
                           LEDGER_HTTP_RESPONSE_BYTES_MAX - STORE_IDEM_HEADER_BYTES);
    if (len == 0)
        return; /* too large to keep: the key then behaves as unseen (documented) */
    uint8_t *hdr = (uint8_t *)s->render_buf;
    memcpy(hdr, c->request_hash, LEDGER_HASH_LEN);
    store_u64_be((uint64_t)c->now_ns, hdr + STORE_IDEM_TS_AT);
    hdr[STORE_IDEM_STATUS_AT] = (uint8_t)(status >> 8);
    hdr[STORE_IDEM_STATUS_AT + 1] = (uint8_t)status;
    store_batch_put(sg->batch, STORE_CF_IDEMPOTENCY, c->idem_key, c->idem_key_len, s->render_buf,
                    STORE_IDEM_HEADER_BYTES + len);
    struct rendered *r = &sg->rendered[index];
    memcpy(r->key, c->idem_key, c->idem_key_len);
    r->key_len = c->idem_key_len;
    memcpy(r->hash, c->request_hash, LEDGER_HASH_LEN);
    r->status = status;
    r->len = len;
    r->body = malloc(len);
    LEDGER_ASSERT(r->body != NULL);
    memcpy(r->body, s->render_buf + STORE_IDEM_HEADER_BYTES, len);
}

/* ---- one batch -------------------------------------------------------------------------------- */

/* Decides sg's commands from..from+n-1 (prev: the stage handed over before sg). */
static void batch_decide(struct sequencer *s, struct stage *sg, const struct stage *prev, size_t from, size_t n,
                         struct event_sink *sink)
{
    for (size_t i = from; i < from + n; i++) {
        struct cmd *c = sg->taken[i];
        int64_t now = s->clock(s->clock_arg);
        c->now_ns = now > s->last_now ? now : s->last_now + 1;
        __atomic_store_n(&s->last_now, c->now_ns, __ATOMIC_RELEASE); /* sequencer_now() */
        c->idem_replayed = false;
        c->idem_body = NULL;
        if (c->has_idempotency && idem_check(s, sg, prev, c, i)) {
            c->seq = sink->next_seq - 1;
            continue;
        }
        decide(s->state, c, sink);
        for (size_t r = 0; c->result == LEDGER_ERR_OK && r < c->rows_n; r++)
            store_batch_put(sg->batch, (enum store_cf)c->rows[r].cf, c->rows[r].key, c->rows[r].klen,
                            c->rows[r].val, c->rows[r].vlen);
        if (c->has_idempotency && c->render != NULL)
            idem_record(s, sg, c, i);
    }
}

/* Rows of the holders whose identification changed (the last change of a holder wins). */
static void holder_rows_put(struct ledger_state *state, struct store_batch *b)
{
    size_t n = 0;
    const struct holder_identification *h = ledger_state_take_holder_changes(state, &n);
    for (size_t i = 0; i < n; i++) {
        uint8_t row[HOLDER_ROW_BYTES];
        holder_row_encode(&h[i], row);
        store_batch_put(b, STORE_CF_PROJ_KYC, h[i].holder_id, strlen(h[i].holder_id), row, sizeof row);
    }
}

/* Rows of the cards and authorizations the batch changed (projections.h lists the keys); the index
 * rows (account cards, card authorizations) only for new ones: their keys never change. */
static void batch_put_card_rows(struct sequencer *s, struct store_batch *b)
{
    static _Thread_local uint8_t row[CARD_ROW_BYTES > AUTH_ROW_BYTES ? CARD_ROW_BYTES : AUTH_ROW_BYTES];
    uint8_t key[32];
    size_t n = 0;
    struct card **cards = ledger_state_take_dirty_cards(s->state, &n);
    for (size_t i = 0; i < n; i++) {
        size_t len = card_row_encode(cards[i], row);
        store_batch_put(b, STORE_CF_PROJ_CARDS, cards[i]->id.b, 16, row, len);
        if (cards[i]->index_pending) {
            memcpy(key, cards[i]->account_id.b, 16);
            memcpy(key + 16, cards[i]->id.b, 16);
            store_batch_put(b, STORE_CF_PROJ_ACCOUNT_CARDS, key, 32, "", 0);
            cards[i]->index_pending = 0;
        }
    }
    struct authorization **auths = ledger_state_take_dirty_auths(s->state, &n);
    for (size_t i = 0; i < n; i++) {
        size_t len = auth_row_encode(auths[i], row);
        store_batch_put(b, STORE_CF_PROJ_AUTHS, auths[i]->hold_id.b, 16, row, len);
        if (auths[i]->index_pending) {
            memcpy(key, auths[i]->card_id.b, 16);
            store_u64_be(auths[i]->first_seq, key + 16);
            store_batch_put(b, STORE_CF_PROJ_CARD_AUTHS, key, 24, auths[i]->hold_id.b, 16);
            auths[i]->index_pending = 0;
        }
    }
}

static void batch_put_events(struct sequencer *s, struct store_batch *b, const struct event_sink *sink)
{
    for (size_t i = 0; i < sink->len; i++) {
        struct event *ev = &sink->events[i];
        memcpy(ev->prev_hash, s->head.hash, LEDGER_HASH_LEN);
        size_t len = event_encode(ev, s->record, LEDGER_RECORD_BYTES_MAX);
        LEDGER_ASSERT(len > 0 && ev->seq == s->head.seq + 1);
        store_batch_put_event(b, ev->seq, s->record, len);
        store_batch_put_stream(b, &ev->stream, ev->stream_ver, ev->seq);
        if (ev->type == EVENT_ACCOUNT_OPENED) {
            uint8_t key[LEDGER_HOLDER_ID_MAX + 17];
            size_t klen = holder_key(ev->data.opened.holder_id, &ev->data.opened.account_id, key, sizeof key);
            store_batch_put(b, STORE_CF_PROJ_HOLDERS, key, klen, "", 0);
        }
        s->head.seq = ev->seq;
        memcpy(s->head.hash, ev->hash, LEDGER_HASH_LEN);
    }
    size_t n = 0;
    const uint8_t *bits = NULL;
    struct account **dirty = ledger_state_take_dirty(s->state, &bits, &n);
    for (size_t i = 0; i < n; i++) {
        uint8_t row[ACCOUNT_ROW_BYTES];
        if (bits[i] & DIRTY_ACCOUNT) {
            account_row_encode(dirty[i], row);
            store_batch_put(b, STORE_CF_PROJ_ACCOUNTS, dirty[i]->id.b, 16, row, ACCOUNT_ROW_BYTES);
        }
        if (bits[i] & DIRTY_BALANCE) {
            balance_row_encode(dirty[i], row);
            store_batch_put(b, STORE_CF_PROJ_BALANCES, dirty[i]->id.b, 16, row, BALANCE_ROW_BYTES);
        }
    }
    batch_put_card_rows(s, b);
    access_batch_put_rows(s->state, b); /* clients, third parties (projections/access.c) */
    holder_rows_put(s->state, b);
    store_batch_set_head(b, &s->head);
}

static void metrics_commit(struct sequencer *s, size_t events, int64_t commit_us)
{
    unsigned b = 0;
    while (b < 15 && ((size_t)1 << b) < events)
        b++;
    M_ADD(batch_events_le[b], 1);
    latency_histogram_add(&s->m.commit, commit_us);
    M_ADD(commits, 1);
    M_ADD(events_appended, events);
}

/* Decider: decides sg's commands from..from+n-1 and puts their rows into sg's batch (after what
 * it holds when from > 0). prev: the stage handed over before sg. */
static void stage_fill(struct sequencer *s, struct stage *sg, const struct stage *prev, size_t from, size_t n)
{
    struct event_sink sink = {s->events, 0, LEDGER_COMMIT_EVENTS_MAX, s->head.seq + 1};
    if (from == 0) {
        store_batch_clear(sg->batch);
        sg->events = 0;
    }
    batch_decide(s, sg, prev, from, n, &sink);
    batch_put_events(s, sg->batch, &sink);
    sg->events += sink.len;
    sg->head_seq = s->head.seq;
}

/* Decider: hands the filled current stage to the committer (after the one before was taken). */
static void stage_hand_off(struct sequencer *s)
{
    struct stage *sg = s->cur;
    pthread_mutex_lock(&s->commit_mu);
    while (s->to_commit != NULL)
        pthread_cond_wait(&s->commit_cv, &s->commit_mu);
    sg->busy = true;
    s->to_commit = sg;
    pthread_cond_broadcast(&s->commit_cv);
    pthread_mutex_unlock(&s->commit_mu);
    s->other = sg;
    s->cur = sg == &s->stages[0] ? &s->stages[1] : &s->stages[0];
}

/* Decider: the stage handed over and not yet taken by the committer, now marked appending (the
 * committer waits for stage_open_done), or NULL. */
static struct stage *stage_open(struct sequencer *s)
{
    pthread_mutex_lock(&s->commit_mu);
    struct stage *sg = s->to_commit;
    if (sg != NULL)
        sg->appending = true;
    pthread_mutex_unlock(&s->commit_mu);
    return sg;
}

static void stage_open_done(struct sequencer *s, struct stage *sg)
{
    pthread_mutex_lock(&s->commit_mu);
    sg->appending = false;
    pthread_cond_broadcast(&s->commit_cv);
    pthread_mutex_unlock(&s->commit_mu);
}

/* Decider: waits until the stage it is about to fill is no longer committing, then drops the
 * answers it kept from its previous use (that batch is on disk now). */
static void stage_reclaim(struct sequencer *s, struct stage *sg)
{
    pthread_mutex_lock(&s->commit_mu);
    while (sg->busy)
        pthread_cond_wait(&s->commit_cv, &s->commit_mu);
    pthread_mutex_unlock(&s->commit_mu);
    for (size_t i = 0; i < sg->n; i++) {
        free(sg->rendered[i].body);
        sg->rendered[i].body = NULL;
    }
    sg->n = 0;
    sg->budget = 0;
}

static void stage_commit(struct sequencer *s, struct stage *sg)
{
    if (store_batch_count(sg->batch) > 0) {
        int64_t t0 = ledger_mono_us();
        store_commit(s->store, sg->batch);
        metrics_commit(s, sg->events, ledger_mono_us() - t0);
    }
    M_SET(committed_seq, sg->head_seq);
    M_ADD(commands, sg->n);
    if (s->on_commit != NULL && sg->events > 0)
        s->on_commit(s->on_commit_arg, sg->head_seq);
    for (size_t i = 0; i < sg->n; i++)
        sg->taken[i]->done(sg->taken[i]);
}

static void *committer_main(void *arg)
{
    pthread_setname_np(pthread_self(), "ledger-commit"); /* as top -H and perf show it */
    struct sequencer *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->commit_mu);
        while ((s->to_commit == NULL || s->to_commit->appending) && !s->committer_stop)
            pthread_cond_wait(&s->commit_cv, &s->commit_mu);
        struct stage *sg = s->to_commit;
        s->to_commit = NULL;
        pthread_cond_broadcast(&s->commit_cv);
        pthread_mutex_unlock(&s->commit_mu);
        if (sg == NULL)
            return NULL;
        stage_commit(s, sg);
        pthread_mutex_lock(&s->commit_mu);
        sg->busy = false;
        pthread_cond_broadcast(&s->commit_cv);
        pthread_mutex_unlock(&s->commit_mu);
    }
}

/* Waits for commands; false when stopping and the queue is empty. */
static bool queue_wait(struct sequencer *s)
{
    pthread_mutex_lock(&s->mu);
    while (s->ring_count == 0 && !s->stopping)
        pthread_cond_wait(&s->cv, &s->mu);
    bool any = s->ring_count > 0;
    pthread_mutex_unlock(&s->mu);
    return any;
}

/* Moves queued commands into sg after those it holds, within its command and event budgets;
 * returns how many (at least one when sg is empty and the queue is not). */
static size_t queue_take(struct sequencer *s, struct stage *sg)
{
    pthread_mutex_lock(&s->mu);
    size_t n = 0;
    while (s->ring_count > 0 && sg->n + n < LEDGER_COMMIT_COMMANDS_MAX) {
        struct cmd *c = s->ring[s->ring_head];
        size_t need = decide_events_max(c);
        if (sg->budget + need > LEDGER_COMMIT_EVENTS_MAX)
            break;
        sg->budget += need;
        sg->taken[sg->n + n++] = c;
        s->ring_head = (s->ring_head + 1) % LEDGER_QUEUE_COMMANDS_MAX;
        s->ring_count--;
    }
    sg->n += n;
    M_SET(queue_depth, s->ring_count);
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void *sequencer_main(void *arg)
{
    pthread_setname_np(pthread_self(), "ledger-decide");
    struct sequencer *s = arg;
    while (queue_wait(s)) {
        /* The committer is busy and the stage handed to it is still open: add to it. */
        struct stage *open = stage_open(s);
        if (open != NULL) {
            size_t from = open->n;
            size_t n = queue_take(s, open);
            if (n > 0)
                stage_fill(s, open, s->cur, from, n);
            stage_open_done(s, open);
            if (n > 0)
                continue;
        }
        stage_reclaim(s, s->cur);
        size_t n = queue_take(s, s->cur);
        LEDGER_ASSERT(n > 0);
        stage_fill(s, s->cur, s->other, 0, n);
        stage_hand_off(s);
    }
    stage_reclaim(s, &s->stages[0]);
    stage_reclaim(s, &s->stages[1]);
    pthread_mutex_lock(&s->commit_mu);
    s->committer_stop = true;
    pthread_cond_broadcast(&s->commit_cv);
    pthread_mutex_unlock(&s->commit_mu);
    pthread_join(s->committer, NULL);
    return NULL;
}

/* ---- lifecycle -------------------------------------------------------------------------------- */

static void *xmalloc(size_t n)
{
    void *p = calloc(1, n);
    LEDGER_ASSERT(p != NULL);
    return p;
}

static void sequencer_free(struct sequencer *s)
{
    ledger_state_free(s->state);
    for (int i = 0; i < 2; i++) {
        store_batch_free(s->stages[i].batch);
        free(s->stages[i].taken);
        free(s->stages[i].rendered);
    }
    free(s->ring);
    free(s->events);
    free(s->record);
    free(s->render_buf);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->commit_mu);
    pthread_cond_destroy(&s->commit_cv);
    free(s);
}

struct sequencer *sequencer_start(struct store *st, sequencer_commit_fn on_commit, void *arg, char *err,
                                  size_t err_cap)
{
    struct sequencer *s = xmalloc(sizeof *s);
    s->store = st;
    s->state = ledger_state_new();
    s->on_commit = on_commit;
    s->on_commit_arg = arg;
    s->clock = realtime_ns;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->ring = xmalloc(LEDGER_QUEUE_COMMANDS_MAX * sizeof *s->ring);
    s->events = xmalloc(LEDGER_COMMIT_EVENTS_MAX * sizeof *s->events);
    for (int i = 0; i < 2; i++) {
        s->stages[i].taken = xmalloc(LEDGER_COMMIT_COMMANDS_MAX * sizeof *s->stages[i].taken);
        s->stages[i].rendered = xmalloc(LEDGER_COMMIT_COMMANDS_MAX * sizeof *s->stages[i].rendered);
        s->stages[i].batch = store_batch_new(st);
    }
    s->cur = &s->stages[0];
    s->other = &s->stages[1];
    pthread_mutex_init(&s->commit_mu, NULL);
    pthread_cond_init(&s->commit_cv, NULL);
    s->record = xmalloc(LEDGER_RECORD_BYTES_MAX);
    s->render_buf = xmalloc(LEDGER_HTTP_RESPONSE_BYTES_MAX);

    int64_t t0 = ledger_mono_us();
    uint64_t bad = 0;
    if (ledger_replay(st, s->state, &bad, err, err_cap, NULL, NULL) != LEDGER_ERR_OK) {
        sequencer_free(s);
        return NULL;
    }
    s->head = store_head(st);
    size_t n = 0;
    const uint8_t *bits;
    ledger_state_take_dirty(s->state, &bits, &n);
    struct card **cards = ledger_state_take_dirty_cards(s->state, &n);
    for (size_t i = 0; i < n; i++)
        cards[i]->index_pending = 0; /* the replayed log's index rows are written */
    struct authorization **auths = ledger_state_take_dirty_auths(s->state, &n);
    for (size_t i = 0; i < n; i++)
        auths[i]->index_pending = 0;
    ledger_state_take_dirty_clients(s->state, &n);
    ledger_state_take_dirty_grants(s->state, &n);
    ledger_state_take_holder_changes(s->state, &n);
    s->replay_events = s->head.seq;
    s->replay_seconds = (double)(ledger_mono_us() - t0) / 1e6;
    s->m.committed_seq = s->head.seq;
    /* time never goes back across a restart: start after the last event's time */
    uint8_t rec[LEDGER_RECORD_BYTES_MAX];
    size_t len = 0;
    struct event last;
    if (s->head.seq > 0 && store_get_event(st, s->head.seq, rec, sizeof rec, &len) == LEDGER_ERR_OK &&
        event_decode(rec, len, &last) == LEDGER_ERR_OK)
        __atomic_store_n(&s->last_now, last.ts_ns, __ATOMIC_RELEASE);
    if (pthread_create(&s->committer, NULL, committer_main, s) != 0) {
        snprintf(err, err_cap, "cannot start the committer thread");
        sequencer_free(s);
        return NULL;
    }
    if (pthread_create(&s->thread, NULL, sequencer_main, s) != 0) {
        snprintf(err, err_cap, "cannot start the sequencer thread");
        sequencer_free(s);
        return NULL;
    }
    return s;
}

enum ledger_err sequencer_submit(struct sequencer *s, struct cmd *c)
{
    LEDGER_ASSERT(c->done != NULL);
    if (c->type == CMD_TRANSFERS)
        LEDGER_ASSERT(c->u.transfers.count >= 1 && c->u.transfers.count <= LEDGER_BATCH_TRANSFERS_MAX);
    pthread_mutex_lock(&s->mu);
    enum ledger_err rc = LEDGER_ERR_OK;
    if (s->stopping) {
        rc = LEDGER_ERR_SHUTTING_DOWN;
    } else if (s->ring_count == LEDGER_QUEUE_COMMANDS_MAX) {
        rc = LEDGER_ERR_BUSY;
    } else {
        s->ring[(s->ring_head + s->ring_count) % LEDGER_QUEUE_COMMANDS_MAX] = c;
        if (s->ring_count++ == 0)
            pthread_cond_signal(&s->cv);
        M_SET(queue_depth, s->ring_count);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
};

static void waiter_done(struct cmd *c)
{
    struct waiter *w = c->ctx;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

enum ledger_err sequencer_execute(struct sequencer *s, struct cmd *c)
{
    struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    c->done = waiter_done;
    c->ctx = &w;
    enum ledger_err rc = sequencer_submit(s, c);
    if (rc != LEDGER_ERR_OK)
        return rc;
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    return LEDGER_ERR_OK;
}

void sequencer_stop(struct sequencer *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    sequencer_free(s);
}

void sequencer_metrics_read(struct sequencer *s, struct sequencer_metrics *out)
{
    uint64_t *dst = (uint64_t *)out;
    const uint64_t *src = (const uint64_t *)&s->m;
    for (size_t i = 0; i < sizeof *out / sizeof(uint64_t); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void latency_histogram_add(struct latency_histogram *h, int64_t us)
{
    unsigned k = 0;
    while (k < LATENCY_BOUNDS && us > (int64_t)latency_us_bounds[k])
        k++;
    __atomic_add_fetch(&h->le[k], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&h->sum_us, us > 0 ? (uint64_t)us : 0, __ATOMIC_RELAXED);
}

void latency_histogram_read(const struct latency_histogram *h, struct latency_histogram *out)
{
    for (unsigned k = 0; k <= LATENCY_BOUNDS; k++)
        out->le[k] = __atomic_load_n(&h->le[k], __ATOMIC_RELAXED);
    out->sum_us = __atomic_load_n(&h->sum_us, __ATOMIC_RELAXED);
}

unsigned latency_histogram_quantile_us(const struct latency_histogram *h, double q)
{
    uint64_t total = 0, cum = 0;
    for (unsigned k = 0; k <= LATENCY_BOUNDS; k++)
        total += h->le[k];
    if (total == 0)
        return 0;
    for (unsigned k = 0; k < LATENCY_BOUNDS; k++) {
        cum += h->le[k];
        if ((double)cum >= q * (double)total)
            return latency_us_bounds[k];
    }
    return UINT_MAX;
}

void sequencer_replay_stats(struct sequencer *s, uint64_t *events, double *seconds)
{
    *events = s->replay_events;
    *seconds = s->replay_seconds;
}

int64_t sequencer_now(struct sequencer *s)
{
    return __atomic_load_n(&s->last_now, __ATOMIC_ACQUIRE);
}

void sequencer_set_clock(struct sequencer *s, int64_t (*now_ns)(void *arg), void *arg)
{
    s->clock = now_ns ? now_ns : realtime_ns;
    s->clock_arg = arg;
}
