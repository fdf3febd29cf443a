/*
 * test_sequencer.c: the sequencer on a real RocksDB log in a temp dir: events land gap-free and
 * chained, projection rows and state survive a restart, idempotency keys answer from durable
 * records, group commit under 8 writer threads, back-pressure (busy, shutting down) and time.
 *
 * Blocking a command's done() is forbidden, so back-pressure is made deterministic with the test
 * clock instead: a clock callback that waits on a gate holds the sequencer thread inside a batch
 * while the test fills the queue.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands/commands.h"
#include "store/store.h"

#define ERR_MAX 256
#define WAIT_MS_MAX 10000

/* ---- fixture: a temp dir, the store, the sequencer -------------------------------------------- */

struct fx {
    char dir[64];
    struct store *store;
    struct sequencer *seq;
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void fx_start(struct fx *f)
{
    char err[ERR_MAX] = "";
    f->store = store_open(f->dir, false, err, sizeof err);
    cr_assert_not_null(f->store, "store_open: %s", err);
    f->seq = sequencer_start(f->store, NULL, NULL, err, sizeof err);
    cr_assert_not_null(f->seq, "sequencer_start: %s", err);
}

static void fx_init(struct fx *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ledgerd-test-seq-XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    fx_start(f);
}

static void fx_stop(struct fx *f)
{
    sequencer_stop(f->seq);
    f->seq = NULL;
    store_close(f->store);
    f->store = NULL;
}

static void fx_restart(struct fx *f)
{
    fx_stop(f);
    fx_start(f);
}

static void fx_release(struct fx *f)
{
    if (f->seq != NULL)
        fx_stop(f);
    cr_assert_eq(nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0, "cannot remove %s", f->dir);
}

/* ---- commands --------------------------------------------------------------------------------- */

static struct ledger_id named(const char *name)
{
    char full[96];
    snprintf(full, sizeof full, "test:seq:%s", name);
    return ledger_id_from_name(full);
}

static void base_cmd(struct cmd *c, enum cmd_type type)
{
    memset(c, 0, sizeof *c);
    c->type = type;
    c->cmd_id = ledger_id_new_v7();
    snprintf(c->actor, sizeof c->actor, "%s", "tester");
}

static void open_cmd(struct cmd *c, const char *account, const char *holder)
{
    base_cmd(c, CMD_OPEN_ACCOUNT);
    c->u.open.account_id = named(account);
    c->u.open.kind = ACCOUNT_KIND_CUSTOMER;
    snprintf(c->u.open.holder_id, sizeof c->u.open.holder_id, "%s", holder);
    snprintf(c->u.open.friendly_name, sizeof c->u.open.friendly_name, "%s", account);
    memcpy(c->u.open.currency, "EUR", 4);
}

/* A one-item transfers command; debit NULL makes it a deposit into credit. */
static void transfer_cmd(struct cmd *c, struct transfer_item *t, const char *debit, const char *credit,
                         int64_t amount)
{
    base_cmd(c, CMD_TRANSFERS);
    memset(t, 0, sizeof *t);
    t->id = ledger_id_new_v7();
    t->kind = debit == NULL ? TRANSFER_KIND_DEPOSIT : TRANSFER_KIND_TRANSFER;
    if (debit != NULL)
        t->debit_account_id = named(debit);
    t->credit_account_id = named(credit);
    t->amount_minor = amount;
    memcpy(t->currency, "EUR", 4);
    c->u.transfers.items = t;
    c->u.transfers.count = 1;
}

static void block_cmd(struct cmd *c, enum cmd_type type, const char *account, uint8_t reason)
{
    base_cmd(c, type);
    c->u.action.account_id = named(account);
    c->u.action.reason = reason;
}

/* Executes c and asserts the outcome (the item's result for transfers). */
static void exec_expect(struct fx *f, struct cmd *c, enum ledger_err want)
{
    cr_assert_eq(sequencer_execute(f->seq, c), LEDGER_ERR_OK);
    enum ledger_err got = c->type == CMD_TRANSFERS && c->result == LEDGER_ERR_OK ? c->u.transfers.items[0].result
                                                                                 : c->result;
    cr_assert_eq(got, want, "got %s, expected %s", ledger_err_name(got), ledger_err_name(want));
}

static void exec_open(struct fx *f, const char *account, const char *holder)
{
    struct cmd c;
    open_cmd(&c, account, holder);
    exec_expect(f, &c, LEDGER_ERR_OK);
}

static void exec_transfer(struct fx *f, const char *debit, const char *credit, int64_t amount, enum ledger_err want)
{
    struct cmd c;
    struct transfer_item t;
    transfer_cmd(&c, &t, debit, credit, amount);
    exec_expect(f, &c, want);
}

/* ---- reading back ----------------------------------------------------------------------------- */

static void read_event(struct fx *f, uint64_t seq, struct event *ev, uint8_t *rec, size_t *len)
{
    cr_assert_eq(store_get_event(f->store, seq, rec, LEDGER_RECORD_BYTES_MAX, len), LEDGER_ERR_OK, "event %llu",
                 (unsigned long long)seq);
    cr_assert_eq(event_decode(rec, *len, ev), LEDGER_ERR_OK, "event %llu decodes", (unsigned long long)seq);
}

static uint64_t head_seq(struct fx *f)
{
    struct sequencer_metrics m;
    sequencer_metrics_read(f->seq, &m);
    return m.committed_seq;
}

static bool event_exists(struct fx *f, uint64_t seq)
{
    uint8_t rec[LEDGER_RECORD_BYTES_MAX];
    size_t len;
    enum ledger_err rc = store_get_event(f->store, seq, rec, sizeof rec, &len);
    cr_assert(rc == LEDGER_ERR_OK || rc == LEDGER_ERR_NOT_FOUND, "store_get_event: %s", ledger_err_name(rc));
    return rc == LEDGER_ERR_OK;
}

/* The posted balance from the account's proj_balances row. */
static struct account balance_row(struct fx *f, const struct ledger_id *id)
{
    char *val = NULL;
    size_t vlen = 0;
    cr_assert_eq(store_get(f->store, STORE_CF_PROJ_BALANCES, id->b, 16, &val, &vlen), LEDGER_ERR_OK);
    struct account a;
    memset(&a, 0, sizeof a);
    cr_assert(balance_row_decode(val, vlen, &a));
    free(val);
    return a;
}

static int64_t posted_row(struct fx *f, const char *account)
{
    struct ledger_id id = named(account);
    struct account a = balance_row(f, &id);
    return a.credits_posted - a.debits_posted;
}

/* Replays the store's log into a fresh state (hash chain verified) and returns its digest. */
static void replay_digest(struct fx *f, uint8_t out[LEDGER_HASH_LEN])
{
    struct ledger_state *st = ledger_state_new();
    uint64_t bad = 0;
    char err[ERR_MAX] = "";
    enum ledger_err rc = ledger_replay(f->store, st, &bad, err, sizeof err, NULL, NULL);
    cr_assert_eq(rc, LEDGER_ERR_OK, "replay: %s", err);
    ledger_state_digest(st, out);
    ledger_state_free(st);
}

/* ---- log, chain, restart ---------------------------------------------------------------------- */

Test(sequencer, log_chain_and_restart)
{
    /* Proves executed commands land as events 1..n in the store, chained by hash, that a replay
     * of the log gives the same digest before and after a restart, that the proj_balances rows
     * hold the balances, and that the restarted sequencer decides on the replayed state. */
    struct fx f;
    fx_init(&f);
    exec_open(&f, "A", "holder-a");                          /* 1 */
    exec_open(&f, "B", "holder-b");                          /* 2 */
    exec_transfer(&f, NULL, "A", 10000, LEDGER_ERR_OK);      /* 3 funding opened, 4 deposit */
    exec_transfer(&f, "A", "B", 2500, LEDGER_ERR_OK);        /* 5 */
    exec_transfer(&f, "A", "B", 7501, LEDGER_ERR_FUNDS_INSUFFICIENT);
    struct cmd c;
    block_cmd(&c, CMD_BLOCK_ACCOUNT, "B", BLOCK_USER);       /* 6 */
    exec_expect(&f, &c, LEDGER_ERR_OK);
    cr_assert_eq(c.seq, 6);
    cr_assert_eq(head_seq(&f), 6);

    static const uint16_t types[] = {EVENT_ACCOUNT_OPENED, EVENT_ACCOUNT_OPENED, EVENT_ACCOUNT_OPENED,
                                     EVENT_TRANSFER_EXECUTED, EVENT_TRANSFER_EXECUTED, EVENT_ACCOUNT_BLOCKED};
    uint8_t prev[LEDGER_HASH_LEN] = {0};
    int64_t last_ts = 0;
    for (uint64_t seq = 1; seq <= 6; seq++) {
        struct event ev;
        uint8_t rec[LEDGER_RECORD_BYTES_MAX];
        size_t len;
        read_event(&f, seq, &ev, rec, &len);
        cr_assert_eq(ev.seq, seq);
        cr_assert_eq(ev.type, types[seq - 1], "event %llu type %u", (unsigned long long)seq, ev.type);
        cr_assert(event_hash_check(rec, len, prev), "event %llu chains", (unsigned long long)seq);
        cr_assert_geq(ev.ts_ns, last_ts);
        last_ts = ev.ts_ns;
        memcpy(prev, ev.hash, LEDGER_HASH_LEN);
    }
    cr_assert_not(event_exists(&f, 7), "nothing after the head");
    cr_assert_not(event_exists(&f, 0));

    fx_stop(&f);
    uint8_t before[LEDGER_HASH_LEN], after[LEDGER_HASH_LEN];
    char err[ERR_MAX] = "";
    f.store = store_open(f.dir, false, err, sizeof err);
    cr_assert_not_null(f.store, "%s", err);
    replay_digest(&f, before);
    store_close(f.store);
    fx_start(&f);
    uint64_t replayed_events;
    double seconds;
    sequencer_replay_stats(f.seq, &replayed_events, &seconds);
    cr_assert_eq(replayed_events, 6);
    replay_digest(&f, after);
    cr_assert_arr_eq(before, after, LEDGER_HASH_LEN, "replayed digest changed across a restart");

    cr_assert_eq(posted_row(&f, "A"), 7500);
    cr_assert_eq(posted_row(&f, "B"), 2500);
    struct ledger_id fund = ledger_id_from_name("internal:funding:EUR");
    struct account fund_row = balance_row(&f, &fund);
    cr_assert_eq(fund_row.debits_posted, 10000);
    cr_assert_eq(fund_row.last_seq, 4);
    char *val = NULL;
    size_t vlen = 0;
    struct ledger_id b_id = named("B");
    cr_assert_eq(store_get(f.store, STORE_CF_PROJ_ACCOUNTS, b_id.b, 16, &val, &vlen), LEDGER_ERR_OK);
    struct account b_row;
    cr_assert(account_row_decode(val, vlen, &b_row));
    free(val);
    cr_assert_eq(b_row.blocks, BLOCK_USER);

    /* the restarted sequencer decides on the replayed state: B is still blocked, A has 7500 */
    exec_transfer(&f, "A", "B", 1, LEDGER_ERR_ACCOUNT_BLOCKED);
    block_cmd(&c, CMD_UNBLOCK_ACCOUNT, "B", BLOCK_USER);
    exec_expect(&f, &c, LEDGER_ERR_OK);
    cr_assert_eq(c.seq, 7, "the sequence continues after the restart");
    exec_transfer(&f, "A", "B", 7501, LEDGER_ERR_FUNDS_INSUFFICIENT);
    exec_transfer(&f, "A", "B", 7500, LEDGER_ERR_OK);
    cr_assert_eq(posted_row(&f, "A"), 0);
    cr_assert_eq(posted_row(&f, "B"), 10000);
    cr_assert_eq(head_seq(&f), 8);
    fx_release(&f);
}

/* ---- idempotency ------------------------------------------------------------------------------ */

static size_t render_ok(const struct cmd *c, int *status, char *out, size_t cap)
{
    *status = 201;
    int n = snprintf(out, cap, "{\"ok\":1,\"seq\":%llu}", (unsigned long long)c->seq);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* A deposit of amount into account under idempotency key `key` with a request hash made of
 * `payload`; each call uses a new transfer id, so a second decision would be a second event. */
static void idem_deposit(struct cmd *c, struct transfer_item *t, const char *account, int64_t amount,
                         const char *key, const char *payload)
{
    transfer_cmd(c, t, NULL, account, amount);
    c->has_idempotency = true;
    static const char client[] = "client-1";
    memcpy(c->idem_key, client, sizeof client); /* with its NUL: client id + 0x00 + key */
    size_t klen = strlen(key);
    memcpy(c->idem_key + sizeof client, key, klen);
    c->idem_key_len = sizeof client + klen;
    ledger_sha256_2(payload, strlen(payload), NULL, 0, c->request_hash);
    c->render = render_ok;
}

static void expect_replay(struct fx *f, const char *key, const char *payload, const char *body)
{
    uint64_t head = head_seq(f);
    struct cmd c;
    struct transfer_item t;
    idem_deposit(&c, &t, "A", 100, key, payload);
    cr_assert_eq(sequencer_execute(f->seq, &c), LEDGER_ERR_OK);
    cr_assert(c.idem_replayed, "same key and request: the stored answer");
    cr_assert_eq(c.idem_status, 201);
    cr_assert_eq(c.idem_body_len, strlen(body));
    cr_assert_eq(memcmp(c.idem_body, body, c.idem_body_len), 0, "body %.*s", (int)c.idem_body_len, c.idem_body);
    cr_assert_eq(head_seq(f), head, "a replay appends nothing");
    cr_assert_not(event_exists(f, head + 1));
    cmd_release(&c);
    cr_assert_null(c.idem_body);
}

static void expect_key_reused(struct fx *f, const char *key, const char *payload)
{
    uint64_t head = head_seq(f);
    struct cmd c;
    struct transfer_item t;
    idem_deposit(&c, &t, "A", 100, key, payload);
    cr_assert_eq(sequencer_execute(f->seq, &c), LEDGER_ERR_OK);
    cr_assert_eq(c.result, LEDGER_ERR_IDEMPOTENCY_KEY_REUSED, "%s", ledger_err_name(c.result));
    cr_assert_not(c.idem_replayed);
    cr_assert_null(c.idem_body);
    cr_assert_eq(head_seq(f), head, "a refused key appends nothing");
    cmd_release(&c);
}

Test(sequencer, idempotency_key_replays_durably)
{
    /* Proves a command with an idempotency key is decided once: the same key and request get
     * the stored status and body with no new event, the same key with another request is
     * IDEMPOTENCY_KEY_REUSED, and both hold after a restart (the record is durable). */
    struct fx f;
    fx_init(&f);
    exec_open(&f, "A", "holder-a");
    struct cmd c;
    struct transfer_item t;
    idem_deposit(&c, &t, "A", 100, "key-1", "deposit 100 to A");
    cr_assert_eq(sequencer_execute(f.seq, &c), LEDGER_ERR_OK);
    cr_assert_eq(c.result, LEDGER_ERR_OK);
    cr_assert_eq(t.result, LEDGER_ERR_OK);
    cr_assert_not(c.idem_replayed);
    cr_assert_eq(c.seq, 3, "funding account opened (2), deposit (3)");
    char body[64];
    snprintf(body, sizeof body, "{\"ok\":1,\"seq\":%llu}", (unsigned long long)c.seq);

    expect_replay(&f, "key-1", "deposit 100 to A", body);
    expect_key_reused(&f, "key-1", "deposit 999 to A");
    cr_assert_eq(posted_row(&f, "A"), 100, "decided once");
    /* another key is another request */
    idem_deposit(&c, &t, "A", 100, "key-2", "deposit 100 to A");
    exec_expect(&f, &c, LEDGER_ERR_OK);
    cr_assert_not(c.idem_replayed);
    cr_assert_eq(posted_row(&f, "A"), 200);

    fx_restart(&f);
    expect_replay(&f, "key-1", "deposit 100 to A", body);
    expect_key_reused(&f, "key-1", "deposit 999 to A");
    cr_assert_eq(posted_row(&f, "A"), 200);
    fx_release(&f);
}

struct pair_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
};

static void pair_done(struct cmd *c)
{
    struct pair_wait *w = c->ctx;
    pthread_mutex_lock(&w->mu);
    w->done++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

Test(sequencer, idempotency_concurrent_same_key)
{
    /* Proves two commands with the same key and request submitted together (before either is
     * answered) are decided exactly once: one decides, the other gets its answer replayed. */
    struct fx f;
    fx_init(&f);
    exec_open(&f, "A", "holder-a");
    exec_transfer(&f, NULL, "A", 1, LEDGER_ERR_OK); /* the funding account exists from here on */
    enum { ROUNDS = 20 };
    for (int round = 0; round < ROUNDS; round++) {
        char key[32];
        snprintf(key, sizeof key, "concurrent-%d", round);
        uint64_t head = head_seq(&f);
        struct pair_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
        struct cmd c[2];
        struct transfer_item t[2];
        for (int i = 0; i < 2; i++) {
            idem_deposit(&c[i], &t[i], "A", 10, key, "deposit 10 to A");
            c[i].done = pair_done;
            c[i].ctx = &w;
        }
        cr_assert_eq(sequencer_submit(f.seq, &c[0]), LEDGER_ERR_OK);
        cr_assert_eq(sequencer_submit(f.seq, &c[1]), LEDGER_ERR_OK);
        pthread_mutex_lock(&w.mu);
        while (w.done < 2)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        cr_assert_eq(c[0].idem_replayed + c[1].idem_replayed, 1, "round %d: exactly one replayed", round);
        struct cmd *decided = c[0].idem_replayed ? &c[1] : &c[0];
        struct cmd *replayed = c[0].idem_replayed ? &c[0] : &c[1];
        cr_assert_eq(decided->result, LEDGER_ERR_OK);
        cr_assert_eq(decided->u.transfers.items[0].result, LEDGER_ERR_OK);
        char body[64];
        snprintf(body, sizeof body, "{\"ok\":1,\"seq\":%llu}", (unsigned long long)decided->seq);
        cr_assert_eq(replayed->idem_status, 201);
        cr_assert_eq(replayed->idem_body_len, strlen(body));
        cr_assert_eq(memcmp(replayed->idem_body, body, strlen(body)), 0);
        cr_assert_eq(head_seq(&f), head + 1, "round %d: one event", round);
        cmd_release(&c[0]);
        cmd_release(&c[1]);
    }
    cr_assert_eq(posted_row(&f, "A"), 1 + 10 * ROUNDS);
    fx_release(&f);
}

/* ---- the open stage --------------------------------------------------------------------------- */

static int64_t mono_ms(void);

/* An on_commit callback (it runs on the committer thread) that can hold the committer. */
struct commit_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool hold, entered;
};

static void gate_on_commit(void *arg, uint64_t seq)
{
    (void)seq;
    struct commit_gate *g = arg;
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    while (g->hold)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static uint64_t metric_commits(struct fx *f, uint64_t *queue_depth)
{
    struct sequencer_metrics m;
    sequencer_metrics_read(f->seq, &m);
    if (queue_depth != NULL)
        *queue_depth = m.queue_depth;
    return m.commits;
}

Test(sequencer, late_commands_join_the_open_stage, .timeout = 60)
{
    /* Proves that commands arriving while the committer is busy and the next stage is already
     * handed over are decided into that stage (one fsync for all of them) rather than into a
     * third, and that nothing is answered before its stage is durable: with the committer held
     * after the commit of L0, L1..L4 are submitted one by one; none is answered while held, and
     * once released L1..L4 land in one commit with consecutive seqs. */
    struct fx f;
    fx_init(&f);
    sequencer_stop(f.seq);
    struct commit_gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};
    char err[ERR_MAX] = "";
    f.seq = sequencer_start(f.store, gate_on_commit, &g, err, sizeof err);
    cr_assert_not_null(f.seq, "%s", err);
    exec_open(&f, "A", "holder-open");
    enum { LATE = 5 };
    struct cmd c[LATE];
    struct pair_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    for (int i = 0; i < LATE; i++) {
        char name[16];
        snprintf(name, sizeof name, "L%d", i);
        open_cmd(&c[i], name, "holder-open");
        c[i].done = pair_done;
        c[i].ctx = &w;
    }
    pthread_mutex_lock(&g.mu);
    g.hold = true;
    g.entered = false; /* A's commit passed through it */
    pthread_mutex_unlock(&g.mu);
    cr_assert_eq(sequencer_submit(f.seq, &c[0]), LEDGER_ERR_OK);
    pthread_mutex_lock(&g.mu);
    while (!g.entered)
        pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
    uint64_t commits_held = metric_commits(&f, NULL);
    for (int i = 1; i < LATE; i++) {
        cr_assert_eq(sequencer_submit(f.seq, &c[i]), LEDGER_ERR_OK);
        uint64_t depth = 1;
        for (int64_t deadline = mono_ms() + 2000; depth > 0 && mono_ms() < deadline;) {
            metric_commits(&f, &depth);
            if (depth > 0)
                nanosleep(&(struct timespec){0, 1000000}, NULL);
        }
    }
    pthread_mutex_lock(&w.mu);
    cr_assert_eq(w.done, 0, "nothing is answered while the committer is held");
    pthread_mutex_unlock(&w.mu);
    pthread_mutex_lock(&g.mu);
    g.hold = false;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    pthread_mutex_lock(&w.mu);
    while (w.done < LATE)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    cr_assert_eq(metric_commits(&f, NULL), commits_held + 1, "L1..L4 in one commit after L0's");
    for (int i = 0; i < LATE; i++) {
        cr_assert_eq(c[i].result, LEDGER_ERR_OK, "L%d: %s", i, ledger_err_name(c[i].result));
        if (i > 0)
            cr_assert_eq(c[i].seq, c[i - 1].seq + 1, "L%d follows L%d", i, i - 1);
        cr_assert(event_exists(&f, c[i].seq));
    }
    fx_restart(&f);
    cr_assert_eq(head_seq(&f), c[LATE - 1].seq, "all of it survives a restart");
    fx_release(&f);
}

/* ---- concurrency and group commit ------------------------------------------------------------- */

enum { THREADS = 8, PER_THREAD = 500, RING = 4, FUNDS = 1000000 };

struct worker {
    struct fx *f;
    int index;
    int failures;
};

static const char *ring_name(int i)
{
    static const char *const names[RING] = {"R0", "R1", "R2", "R3"};
    return names[i % RING];
}

static int64_t worker_amount(int thread, int i)
{
    return 1 + (thread * 7 + i) % 13;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        struct cmd c;
        struct transfer_item t;
        transfer_cmd(&c, &t, ring_name(w->index), ring_name(w->index + 1 + i % 3), worker_amount(w->index, i));
        if (sequencer_execute(w->f->seq, &c) != LEDGER_ERR_OK || c.result != LEDGER_ERR_OK ||
            t.result != LEDGER_ERR_OK || t.seq == 0)
            w->failures++;
    }
    return NULL;
}

Test(sequencer, group_commit_eight_threads, .timeout = 60)
{
    /* Proves 8 threads x 500 concurrent transfers all succeed, the balances equal the arithmetic
     * expectation, commits are shared by several commands (group commit), and every event is
     * counted and replays. */
    struct fx f;
    fx_init(&f);
    for (int i = 0; i < RING; i++) {
        exec_open(&f, ring_name(i), ring_name(i));
        exec_transfer(&f, NULL, ring_name(i), FUNDS, LEDGER_ERR_OK);
    }
    uint64_t setup_events = RING * 2 + 1; /* opens, deposits, the funding account */
    cr_assert_eq(head_seq(&f), setup_events);

    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        workers[i] = (struct worker){&f, i, 0};
        cr_assert_eq(pthread_create(&threads[i], NULL, worker_main, &workers[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        cr_assert_eq(workers[i].failures, 0, "thread %d", i);
    }

    int64_t expect[RING];
    for (int i = 0; i < RING; i++)
        expect[i] = FUNDS;
    for (int th = 0; th < THREADS; th++) {
        for (int i = 0; i < PER_THREAD; i++) {
            expect[th % RING] -= worker_amount(th, i);
            expect[(th + 1 + i % 3) % RING] += worker_amount(th, i);
        }
    }
    for (int i = 0; i < RING; i++)
        cr_assert_eq(posted_row(&f, ring_name(i)), expect[i], "%s", ring_name(i));

    struct sequencer_metrics m;
    sequencer_metrics_read(f.seq, &m);
    uint64_t events = setup_events + THREADS * PER_THREAD;
    uint64_t commands = RING * 2 + THREADS * PER_THREAD;
    cr_assert_eq(m.events_appended, events);
    cr_assert_eq(m.committed_seq, events);
    cr_assert_eq(m.commands, commands);
    cr_log_info("group commit: %llu commits for %llu commands", (unsigned long long)m.commits,
                (unsigned long long)m.commands);
    cr_assert_lt(m.commits, m.commands, "group commit: %llu commits for %llu commands",
                 (unsigned long long)m.commits, (unsigned long long)m.commands);
    uint64_t histogram = 0;
    for (int i = 0; i < 16; i++)
        histogram += m.batch_events_le[i];
    cr_assert_eq(histogram, m.commits);
    cr_assert_eq(m.queue_depth, 0);

    fx_stop(&f);
    char err[ERR_MAX] = "";
    f.store = store_open(f.dir, false, err, sizeof err);
    cr_assert_not_null(f.store, "%s", err);
    uint8_t digest[LEDGER_HASH_LEN];
    replay_digest(&f, digest);
    cr_assert(!event_exists(&f, events + 1) && event_exists(&f, events));
    store_close(f.store);
    f.store = NULL;
    fx_release(&f);
}

/* ---- back-pressure: busy and shutting down ---------------------------------------------------- */

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool closed;
    bool entered; /* the sequencer thread is waiting in the clock */
    int done;     /* commands completed */
};

static int64_t gate_clock(void *arg)
{
    struct gate *g = arg;
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    while (g->closed)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    return 1000;
}

static void gate_done(struct cmd *c)
{
    struct gate *g = c->ctx;
    pthread_mutex_lock(&g->mu);
    g->done++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void *stopper_main(void *arg)
{
    sequencer_stop(arg);
    return NULL;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

Test(sequencer, busy_then_shutting_down, .timeout = 60)
{
    /* Proves back-pressure: with the sequencer thread held inside a batch, exactly
     * LEDGER_QUEUE_COMMANDS_MAX commands queue and the next is BUSY; once sequencer_stop has
     * begun, submit answers SHUTTING_DOWN; stop still decides and completes everything queued. */
    struct fx f;
    fx_init(&f);
    struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, true, false, 0};
    sequencer_set_clock(f.seq, gate_clock, &g);
    size_t n = 1 + LEDGER_QUEUE_COMMANDS_MAX;
    struct cmd *cmds = calloc(n + 1, sizeof *cmds);
    cr_assert_not_null(cmds);
    for (size_t i = 0; i <= n; i++) {
        block_cmd(&cmds[i], CMD_BLOCK_ACCOUNT, "nobody", BLOCK_USER); /* rejected: no event, cheap */
        cmds[i].done = gate_done;
        cmds[i].ctx = &g;
    }
    /* the first command is taken at once; its clock call holds the sequencer thread */
    cr_assert_eq(sequencer_submit(f.seq, &cmds[0]), LEDGER_ERR_OK);
    pthread_mutex_lock(&g.mu);
    while (!g.entered)
        pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
    for (size_t i = 1; i < n; i++)
        cr_assert_eq(sequencer_submit(f.seq, &cmds[i]), LEDGER_ERR_OK, "command %zu", i);
    cr_assert_eq(sequencer_submit(f.seq, &cmds[n]), LEDGER_ERR_BUSY, "the queue holds %d", LEDGER_QUEUE_COMMANDS_MAX);

    pthread_t stopper;
    cr_assert_eq(pthread_create(&stopper, NULL, stopper_main, f.seq), 0);
    /* the queue is full, so every submit is refused; it turns to SHUTTING_DOWN once stop began */
    enum ledger_err rc = LEDGER_ERR_BUSY;
    int64_t deadline = mono_ms() + WAIT_MS_MAX;
    while (rc == LEDGER_ERR_BUSY && mono_ms() < deadline)
        rc = sequencer_submit(f.seq, &cmds[n]);
    cr_assert_eq(rc, LEDGER_ERR_SHUTTING_DOWN, "%s", ledger_err_name(rc));

    pthread_mutex_lock(&g.mu);
    g.closed = false;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    pthread_join(stopper, NULL);
    f.seq = NULL;
    cr_assert_eq(g.done, (int)n, "stop completes every queued command");
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(cmds[i].result, LEDGER_ERR_ACCOUNT_NOT_FOUND, "command %zu", i);
    free(cmds);
    store_close(f.store);
    f.store = NULL;
    fx_release(&f);
}

/* ---- time ------------------------------------------------------------------------------------- */

static int64_t constant_clock(void *arg)
{
    return *(const int64_t *)arg;
}

Test(sequencer, time_strictly_increases)
{
    /* Proves command times strictly increase even when the clock stands still, that events
     * carry their command's time, and that after a restart time continues after the last
     * event's ts_ns even with a clock that is behind it. */
    struct fx f;
    fx_init(&f);
    int64_t t0 = 1000000;
    sequencer_set_clock(f.seq, constant_clock, &t0);
    int64_t last = 0;
    for (int i = 0; i < 5; i++) {
        struct cmd c;
        char name[16];
        snprintf(name, sizeof name, "T%d", i);
        open_cmd(&c, name, "holder-t");
        exec_expect(&f, &c, LEDGER_ERR_OK);
        cr_assert_gt(c.now_ns, last, "command %d", i);
        cr_assert_eq(c.now_ns, t0 + i, "the first at the clock, then one ns apart");
        last = c.now_ns;
        struct event ev;
        uint8_t rec[LEDGER_RECORD_BYTES_MAX];
        size_t len;
        read_event(&f, c.seq, &ev, rec, &len);
        cr_assert_eq(ev.ts_ns, c.now_ns);
    }
    /* a rejected command takes a time too, and the next one still moves forward */
    struct cmd r;
    block_cmd(&r, CMD_BLOCK_ACCOUNT, "nobody", BLOCK_USER);
    exec_expect(&f, &r, LEDGER_ERR_ACCOUNT_NOT_FOUND);
    cr_assert_gt(r.now_ns, last);
    last = r.now_ns;
    uint64_t last_seq = head_seq(&f);
    struct event ev;
    uint8_t rec[LEDGER_RECORD_BYTES_MAX];
    size_t len;
    read_event(&f, last_seq, &ev, rec, &len);
    int64_t last_event_ts = ev.ts_ns;

    fx_restart(&f);
    int64_t behind = 5;
    sequencer_set_clock(f.seq, constant_clock, &behind);
    struct cmd c;
    open_cmd(&c, "after", "holder-t");
    exec_expect(&f, &c, LEDGER_ERR_OK);
    cr_assert_eq(c.now_ns, last_event_ts + 1, "continues after the last event's time");
    read_event(&f, c.seq, &ev, rec, &len);
    cr_assert_eq(ev.ts_ns, c.now_ns);
    /* a clock ahead of the log is used as is */
    fx_restart(&f);
    int64_t ahead = last + 1000000000;
    sequencer_set_clock(f.seq, constant_clock, &ahead);
    open_cmd(&c, "ahead", "holder-t");
    exec_expect(&f, &c, LEDGER_ERR_OK);
    cr_assert_eq(c.now_ns, ahead);
    fx_release(&f);
}
