/*
 * nats_cmd.c: the card processor's NATS request-reply entry (DESIGN section 8, docs/CARDS.md).
 *
 * Its own nats.c connection (separate from the outbox's, so a slow JetStream never delays an
 * authorization), driven by its own epoll thread (nats_loop.c, "ledger-cardio"), reconnecting
 * forever, and never holding up ledgerd's start: with RetryOnFailedConnect the first connect may
 * fail and the library keeps dialing in the background. One synchronous queue subscription,
 * ledger.cmd.card.> in group "ledgerd" (several ledgerd processes or read-replicas-to-be share
 * the load; only one answers each request), taken by that same thread right after it read the
 * socket: from the socket to the sequencer's queue without a thread hand-off, and the replies a
 * commit publishes leave in one write.
 *
 * A message's life:
 *   drain (the event loop's thread, after a read): parse and validate into a job from the pool,
 *       submit to the sequencer; bad input, a full pool or queue, shutdown: answered at once
 *   on_done (the sequencer thread, after the batch is durable): render, publish the reply
 *       (natsConnection_Publish is thread-safe and only buffers; the event loop writes), return
 *       the job to the pool
 * Invariants: a job is owned by exactly one of {free list, drain, sequencer} at a time;
 * the pool is allocated at start (NATS_CMD_JOBS_MAX) and an empty pool answers "91" rather than
 * growing. nats_cmd_quiesce() closes the gate to the sequencer before sequencer_stop(); every job
 * submitted before has completed when sequencer_stop() returns, so nats_cmd_stop() frees nothing
 * that the sequencer still holds.
 */
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/internal.h"
#include "store/nats_retire.h"

#define NATS_CMD_SUBJECT "ledger.cmd.card.>"
#define NATS_CMD_SUBJECT_PREFIX "ledger.cmd.card."
#define NATS_CMD_QUEUE_GROUP "ledgerd"
#define NATS_CMD_ACTOR "nats:processor"
#define NATS_CMD_JOBS_MAX LEDGER_QUEUE_COMMANDS_MAX /* commands from NATS in flight at once */
#define NATS_CMD_REPLY_SUBJECT_MAX 255
#define NATS_CMD_BODY_BYTES_MAX (64u << 10) /* one request; an authorization is ~400 bytes */
#define NATS_CMD_REPLY_BYTES_MAX 2048
#define NATS_CMD_CONNECT_TIMEOUT_MS 1000
#define NATS_CMD_RECONNECT_WAIT_MS 250
#define NATS_CMD_RECONNECT_BUF_BYTES (8 << 20) /* replies buffered while reconnecting */
#define NATS_CMD_PENDING_MSGS_MAX 65536         /* received, not yet parsed (slow consumer beyond) */
#define NATS_CMD_PENDING_BYTES_MAX (64 << 20)
#define NATS_CMD_FLUSH_TIMEOUT_MS 2000

_Static_assert(NATS_CMD_JOBS_MAX <= LEDGER_QUEUE_COMMANDS_MAX, "the pool never exceeds the queue");

struct nats_job {
    struct cmd cmd;
    struct nats_cmd *owner;
    int verb; /* enum card_verb */
    char reply[NATS_CMD_REPLY_SUBJECT_MAX + 1]; /* "" when the request wants no answer */
    char op_id[LEDGER_AUTH_ID_MAX + 1];
    int64_t received_us; /* ledger_mono_us() when drain took its message */
    struct nats_job *next_free;
};

struct nats_cmd {
    struct nats_loop *loop; /* owns nc's socket: reads, and one write per batch of replies */
    natsConnection *nc;
    natsSubscription *sub;
    struct sequencer *seq;
    pthread_mutex_t gate; /* held by drain for a whole message; quiesce flips stopping under it */
    bool stopping;
    pthread_mutex_t pool_mu;
    struct nats_job *jobs;
    struct nats_job *free_list;
    size_t jobs_out;
    uint64_t replies_dropped; /* atomic: publish failed (connection closed, buffer full) */
    struct latency_histogram served; /* message taken to reply published (nats_cmd_latency_read) */
    struct nats_msg_retire retired;  /* handled messages; drain's thread, then listener_free */
};

/* ---- the job pool ----------------------------------------------------------------------------- */

static struct nats_job *job_get(struct nats_cmd *l)
{
    pthread_mutex_lock(&l->pool_mu);
    struct nats_job *j = l->free_list;
    if (j != NULL) {
        l->free_list = j->next_free;
        l->jobs_out++;
    }
    pthread_mutex_unlock(&l->pool_mu);
    return j;
}

static void job_put(struct nats_cmd *l, struct nats_job *j)
{
    cmd_release(&j->cmd);
    pthread_mutex_lock(&l->pool_mu);
    LEDGER_ASSERT(l->jobs_out > 0);
    j->next_free = l->free_list;
    l->free_list = j;
    l->jobs_out--;
    pthread_mutex_unlock(&l->pool_mu);
}

/* ---- replies ---------------------------------------------------------------------------------- */

static void publish_reply(struct nats_cmd *l, const struct nats_job *j, enum ledger_err err, const char *field)
{
    if (j->reply[0] != '\0') { /* else the request wants no answer */
        char out[NATS_CMD_REPLY_BYTES_MAX];
        size_t n = card_nats_reply_render(&j->cmd, j->verb, j->op_id, err, field, out, sizeof out);
        LEDGER_ASSERT(n > 0); /* every field is bounded: the largest answer fits */
        if (natsConnection_Publish(l->nc, j->reply, out, (int)n) != NATS_OK)
            __atomic_add_fetch(&l->replies_dropped, 1, __ATOMIC_RELAXED);
    }
    latency_histogram_add(&l->served, ledger_mono_us() - j->received_us);
}

/* Sequencer thread, after the batch is durable. */
static void on_done(struct cmd *c)
{
    struct nats_job *j = c->ctx;
    publish_reply(j->owner, j, LEDGER_ERR_OK, NULL);
    job_put(j->owner, j);
}

/* ---- requests --------------------------------------------------------------------------------- */

static int verb_of(const char *subject)
{
    static const struct {
        const char *name;
        int verb;
    } verbs[] = {{"authorize", CARD_VERB_AUTHORIZE}, {"advice", CARD_VERB_ADVICE}, {"capture", CARD_VERB_CAPTURE},
                 {"reverse", CARD_VERB_REVERSE},     {"refund", CARD_VERB_REFUND}};
    size_t plen = strlen(NATS_CMD_SUBJECT_PREFIX);
    if (subject == NULL || strncmp(subject, NATS_CMD_SUBJECT_PREFIX, plen) != 0)
        return 0;
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp(subject + plen, verbs[i].name) == 0)
            return verbs[i].verb;
    return 0;
}

/* Parses the body into j->cmd; OK or the validation error with *field. */
static enum ledger_err parse_request(struct nats_job *j, const char *data, int len, const char **field)
{
    *field = NULL;
    if (j->verb == 0)
        return *field = "subject", LEDGER_ERR_NOT_FOUND;
    if (len < 0 || (size_t)len > NATS_CMD_BODY_BYTES_MAX)
        return LEDGER_ERR_BODY_TOO_LARGE;
    json_error_t je;
    json_t *doc = json_loadb(data ? data : "", (size_t)len, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL)
        return json_error_code(&je) == json_error_numeric_overflow ? LEDGER_ERR_AMOUNT_OUT_OF_RANGE
                                                                   : LEDGER_ERR_MALFORMED_JSON;
    enum ledger_err err = LEDGER_ERR_MALFORMED_JSON;
    if (json_is_object(doc))
        err = card_parse_verb(doc, (enum card_verb)j->verb, NULL, &j->cmd, j->op_id, field);
    json_decref(doc);
    return err;
}

/* Parses, validates and submits one message; answers at once what cannot be submitted. Runs
 * with l->gate held. */
static void handle(struct nats_cmd *l, natsMsg *msg)
{
    struct nats_job *pooled = job_get(l);
    static _Thread_local struct nats_job spare; /* answers refusals when the pool is empty */
    struct nats_job *j = pooled != NULL ? pooled : &spare;
    j->received_us = ledger_mono_us();
    memset(&j->cmd, 0, sizeof j->cmd);
    j->owner = l;
    j->verb = verb_of(natsMsg_GetSubject(msg));
    const char *reply = natsMsg_GetReply(msg);
    size_t rlen = reply != NULL ? strlen(reply) : 0;
    if (rlen > NATS_CMD_REPLY_SUBJECT_MAX)
        rlen = 0; /* no subject of ours is that long: nobody to answer */
    memcpy(j->reply, reply != NULL ? reply : "", rlen);
    j->reply[rlen] = '\0';
    const char *field = NULL;
    enum ledger_err err = parse_request(j, natsMsg_GetData(msg), natsMsg_GetDataLength(msg), &field);
    if (err == LEDGER_ERR_OK && pooled == NULL)
        err = LEDGER_ERR_BUSY;
    if (err == LEDGER_ERR_OK && l->stopping)
        err = LEDGER_ERR_SHUTTING_DOWN;
    if (err == LEDGER_ERR_OK) {
        j->cmd.cmd_id = ledger_id_new_v7();
        snprintf(j->cmd.actor, sizeof j->cmd.actor, "%s", NATS_CMD_ACTOR);
        j->cmd.render = NULL; /* no Idempotency-Key here: repeated processor ids are idempotent in decide */
        j->cmd.done = on_done;
        j->cmd.ctx = j;
        err = sequencer_submit(l->seq, &j->cmd);
        if (err == LEDGER_ERR_OK)
            return; /* the sequencer owns j until on_done */
    }
    publish_reply(l, j, err, field);
    if (pooled != NULL)
        job_put(l, pooled);
}

/* The event loop's thread, after each read: every message that arrived for the subscription
 * (a synchronous one, so no delivery thread sits between the socket and the sequencer). */
static void drain(void *arg)
{
    struct nats_cmd *l = arg;
    natsSubscription *sub = __atomic_load_n(&l->sub, __ATOMIC_ACQUIRE);
    if (sub == NULL)
        return; /* not subscribed yet: nothing can have arrived for it */
    for (;;) {
        natsMsg *msg = NULL;
        natsStatus s = natsSubscription_NextMsg(&msg, sub, 0);
        if (s == NATS_SLOW_CONSUMER) { /* said once per episode; what is still queued follows */
            fprintf(stderr, "ledgerd: nats (card commands): requests arrived faster than they were taken "
                            "(more than %d queued); some were dropped, their processors time out and retry\n",
                    NATS_CMD_PENDING_MSGS_MAX);
            continue;
        }
        if (s != NATS_OK)
            return;
        pthread_mutex_lock(&l->gate);
        handle(l, msg);
        pthread_mutex_unlock(&l->gate);
        nats_msg_retire(&l->retired, msg); /* handle copied what it needs */
    }
}

/* ---- connection ------------------------------------------------------------------------------- */

static void on_connected(natsConnection *nc, void *closure)
{
    (void)nc;
    (void)closure;
    fprintf(stderr, "ledgerd: nats (card commands): connected, serving %s\n", NATS_CMD_SUBJECT);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    (void)closure;
    if (natsConnection_IsClosed(nc))
        return; /* our own close at shutdown */
    fprintf(stderr, "ledgerd: nats (card commands): disconnected; card requests over NATS wait until it is "
                    "back (reconnecting; HTTP keeps serving)\n");
}

static natsStatus dial(struct nats_cmd *l, const char *url)
{
    natsOptions *opts = NULL;
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK)
        s = natsOptions_SetURL(opts, url);
    if (s == NATS_OK)
        s = natsOptions_SetName(opts, "ledgerd-card-commands");
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(opts, NATS_CMD_CONNECT_TIMEOUT_MS);
    if (s == NATS_OK) /* a publish asks the event loop to write at once (no flusher thread, no 1 ms wait) */
        s = natsOptions_SetSendAsap(opts, true);
    if (s == NATS_OK)
        s = nats_loop_options(l->loop, opts);
    if (s == NATS_OK)
        s = natsOptions_SetAllowReconnect(opts, true);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(opts, -1); /* forever */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(opts, NATS_CMD_RECONNECT_WAIT_MS);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectBufSize(opts, NATS_CMD_RECONNECT_BUF_BYTES);
    if (s == NATS_OK)
        s = natsOptions_SetMaxPendingMsgs(opts, NATS_CMD_PENDING_MSGS_MAX);
    if (s == NATS_OK)
        s = natsOptions_SetRetryOnFailedConnect(opts, true, on_connected, NULL);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(opts, on_disconnected, NULL);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(opts, on_connected, NULL);
    if (s == NATS_OK) {
        s = natsConnection_Connect(&l->nc, opts);
        if (s == NATS_NOT_YET_CONNECTED) {
            char shown[256];
            ledger_url_redact(url, shown, sizeof shown);
            fprintf(stderr, "ledgerd: nats (card commands): %s unreachable; retrying in the background\n", shown);
            s = NATS_OK;
        }
    }
    natsOptions_Destroy(opts);
    natsSubscription *sub = NULL;
    if (s == NATS_OK)
        s = natsConnection_QueueSubscribeSync(&sub, l->nc, NATS_CMD_SUBJECT, NATS_CMD_QUEUE_GROUP);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(sub, NATS_CMD_PENDING_MSGS_MAX, NATS_CMD_PENDING_BYTES_MAX);
    __atomic_store_n(&l->sub, sub, __ATOMIC_RELEASE); /* drain() may run from now on */
    return s;
}

/* After natsConnection_Close(): the event loop ends first, so nothing touches nc afterwards. */
static void listener_free(struct nats_cmd *l)
{
    nats_loop_stop(l->loop);
    nats_msg_retire_flush(&l->retired);
    natsSubscription_Destroy(l->sub);
    natsConnection_Destroy(l->nc);
    pthread_mutex_destroy(&l->gate);
    pthread_mutex_destroy(&l->pool_mu);
    free(l->jobs);
    free(l);
}

struct nats_cmd *nats_cmd_start(const char *url, struct sequencer *seq, char *err, size_t err_cap)
{
    struct nats_cmd *l = calloc(1, sizeof *l);
    struct nats_job *jobs = calloc(NATS_CMD_JOBS_MAX, sizeof *jobs);
    if (l == NULL || jobs == NULL) {
        free(l);
        free(jobs);
        snprintf(err, err_cap, "out of memory for %d NATS command slots", NATS_CMD_JOBS_MAX);
        return NULL;
    }
    l->seq = seq;
    l->jobs = jobs;
    for (size_t i = 0; i < NATS_CMD_JOBS_MAX; i++) {
        jobs[i].next_free = l->free_list;
        l->free_list = &jobs[i];
    }
    pthread_mutex_init(&l->gate, NULL);
    pthread_mutex_init(&l->pool_mu, NULL);
    l->loop = nats_loop_start("ledger-cardio", err, err_cap);
    if (l->loop == NULL) {
        listener_free(l);
        return NULL;
    }
    nats_loop_after_read(l->loop, drain, l);
    natsStatus s = dial(l, url);
    if (s != NATS_OK) {
        snprintf(err, err_cap, "card commands over NATS at %s: %s (check --nats)", url, natsStatus_GetText(s));
        if (l->sub != NULL)
            natsSubscription_Unsubscribe(l->sub);
        natsConnection_Close(l->nc);
        listener_free(l);
        return NULL;
    }
    return l;
}

void nats_cmd_quiesce(struct nats_cmd *l)
{
    if (l == NULL)
        return;
    pthread_mutex_lock(&l->gate); /* waits for a message being submitted */
    l->stopping = true;
    pthread_mutex_unlock(&l->gate);
}

void nats_cmd_stop(struct nats_cmd *l)
{
    if (l == NULL)
        return;
    nats_cmd_quiesce(l);
    pthread_mutex_lock(&l->gate); /* no message is being handled while the pool is counted */
    pthread_mutex_lock(&l->pool_mu);
    LEDGER_ASSERT(l->jobs_out == 0); /* sequencer_stop() answered every submitted command */
    pthread_mutex_unlock(&l->pool_mu);
    pthread_mutex_unlock(&l->gate);
    if (natsConnection_Status(l->nc) == NATS_CONN_STATUS_CONNECTED)
        natsConnection_FlushTimeout(l->nc, NATS_CMD_FLUSH_TIMEOUT_MS); /* the last replies */
    natsSubscription_Unsubscribe(l->sub);
    uint64_t dropped = __atomic_load_n(&l->replies_dropped, __ATOMIC_RELAXED);
    if (dropped > 0)
        fprintf(stderr, "ledgerd: nats (card commands): %llu replies could not be published (NATS was down); "
                        "the processors retry or read the decisions from the stream\n",
                (unsigned long long)dropped);
    natsConnection_Close(l->nc);
    listener_free(l); /* joins the event loop first: no drain() runs after this */
}

void nats_cmd_latency_read(const struct nats_cmd *l, struct latency_histogram *out)
{
    latency_histogram_read(&l->served, out);
}
