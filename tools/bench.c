/*
 * bench.c: `ledgerctl bench`, load generators that print figures (never timed tests).
 *
 *   bench transfers [--batch N] [--seconds S] [--accounts A] [--inflight K] [--data DIR]
 *       in-process: the sequencer and RocksDB with sync=true, K commands of N transfers in flight
 *   bench http --url HOST:PORT [--batch N] [--clients C] [--seconds S] [--accounts A]
 *       against a running ledgerd: C keep-alive connections driven by one epoll thread, each with
 *       one request in flight, POST /v1/transfers (N = 1) or POST /v1/transfers/batch (N > 1);
 *       throughput and latency percentiles
 * Every durable write is a real fsync; nothing is mocked.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api.h"
#include "commands/commands.h"
#include "store/store.h"
#include "tools/tools.h"

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1));
    return v[i];
}

/* ---- in-process ------------------------------------------------------------------------------- */

struct slot {
    struct cmd cmd;
    struct transfer_item *items;
    double submitted_at;
    bool busy;
};

struct inproc {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct slot *slots;
    size_t nslots;
    uint64_t transfers_ok, transfers_rejected, commands;
    double *lat;
    size_t nlat, lat_cap;
    bool measuring;
};

static void inproc_done(struct cmd *c)
{
    struct slot *sl = (struct slot *)c;
    struct inproc *b = c->ctx;
    double t = tool_now_s();
    pthread_mutex_lock(&b->mu);
    for (size_t i = 0; i < c->u.transfers.count; i++) {
        if (c->u.transfers.items[i].result == LEDGER_ERR_OK)
            b->transfers_ok += b->measuring;
        else
            b->transfers_rejected += b->measuring;
    }
    b->commands++;
    if (b->measuring && b->nlat < b->lat_cap)
        b->lat[b->nlat++] = (t - sl->submitted_at) * 1e3;
    sl->busy = false;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void fill_transfers(struct slot *sl, size_t n, const struct ledger_id *accounts, size_t nacc,
                           uint64_t *rng, uint64_t *counter, bool deposit)
{
    struct cmd *c = &sl->cmd;
    memset(c, 0, sizeof *c);
    c->type = CMD_TRANSFERS;
    c->u.transfers.items = sl->items;
    c->u.transfers.count = n;
    snprintf(c->actor, sizeof c->actor, "bench");
    store_u64_be(++*counter, c->cmd_id.b);
    for (size_t i = 0; i < n; i++) {
        struct transfer_item *t = &sl->items[i];
        memset(t, 0, sizeof *t);
        store_u64_be(++*counter, t->id.b + 8);
        t->id.b[0] = 0xbe;
        size_t d = rng_next(rng) % nacc, k = rng_next(rng) % (nacc - 1);
        t->debit_account_id = accounts[d];
        t->credit_account_id = accounts[k >= d ? k + 1 : k];
        t->amount_minor = deposit ? 1000000000 : 1 + (int64_t)(rng_next(rng) % 100);
        memcpy(t->currency, "EUR", 4);
        t->kind = deposit ? TRANSFER_KIND_DEPOSIT : TRANSFER_KIND_TRANSFER;
        if (deposit)
            t->credit_account_id = accounts[(*counter) % nacc];
    }
}

static struct slot *slot_wait(struct inproc *b)
{
    pthread_mutex_lock(&b->mu);
    struct slot *free_slot = NULL;
    while (free_slot == NULL) {
        for (size_t i = 0; i < b->nslots && !free_slot; i++)
            if (!b->slots[i].busy)
                free_slot = &b->slots[i];
        if (free_slot == NULL)
            pthread_cond_wait(&b->cv, &b->mu);
    }
    free_slot->busy = true;
    pthread_mutex_unlock(&b->mu);
    return free_slot;
}

static void drain(struct inproc *b)
{
    pthread_mutex_lock(&b->mu);
    for (;;) {
        bool any = false;
        for (size_t i = 0; i < b->nslots; i++)
            any |= b->slots[i].busy;
        if (!any)
            break;
        pthread_cond_wait(&b->cv, &b->mu);
    }
    pthread_mutex_unlock(&b->mu);
}

static void submit_slot(struct sequencer *seq, struct inproc *b, struct slot *sl)
{
    sl->cmd.done = inproc_done;
    sl->cmd.ctx = b;
    sl->submitted_at = tool_now_s();
    while (sequencer_submit(seq, &sl->cmd) == LEDGER_ERR_BUSY)
        usleep(100);
}

static void open_accounts(struct sequencer *seq, struct ledger_id *accounts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct cmd c = {.type = CMD_OPEN_ACCOUNT};
        c.u.open.account_id = ledger_id_new_v7();
        c.u.open.kind = ACCOUNT_KIND_CUSTOMER;
        snprintf(c.u.open.holder_id, sizeof c.u.open.holder_id, "bench-%zu", i);
        snprintf(c.u.open.friendly_name, sizeof c.u.open.friendly_name, "main");
        memcpy(c.u.open.currency, "EUR", 4);
        snprintf(c.actor, sizeof c.actor, "bench");
        c.cmd_id = ledger_id_new_v7();
        sequencer_execute(seq, &c);
        LEDGER_ASSERT(c.result == LEDGER_ERR_OK);
        accounts[i] = c.u.open.account_id;
    }
}

static int bench_inproc(int argc, char **argv)
{
    bool bad = false;
    const char *v;
    size_t batch = (v = tool_flag(argc, argv, "--batch", &bad)) ? strtoul(v, NULL, 10) : 8190;
    double seconds = (v = tool_flag(argc, argv, "--seconds", &bad)) ? strtod(v, NULL) : 10;
    size_t nacc = (v = tool_flag(argc, argv, "--accounts", &bad)) ? strtoul(v, NULL, 10) : 10000;
    size_t inflight = (v = tool_flag(argc, argv, "--inflight", &bad)) ? strtoul(v, NULL, 10) : 0;
    const char *dir = tool_flag(argc, argv, "--data", &bad);
    if (bad || batch < 1 || batch > LEDGER_BATCH_TRANSFERS_MAX || nacc < 2 || seconds <= 0) {
        fprintf(stderr, "usage: ledgerctl bench transfers [--batch 1..8190] [--seconds S] [--accounts A] "
                        "[--inflight K] [--data DIR]\n");
        return 2;
    }
    if (inflight == 0)
        inflight = batch >= 1000 ? 4 : batch >= 100 ? 32 : 256;
    char tmp[] = "/tmp/ledger-bench-XXXXXX", err[512];
    if (dir == NULL && (dir = mkdtemp(tmp)) == NULL)
        return 1;
    struct store *st = store_open(dir, false, err, sizeof err);
    struct sequencer *seq = st ? sequencer_start(st, NULL, NULL, err, sizeof err) : NULL;
    if (seq == NULL) {
        fprintf(stderr, "bench: %s\n", err);
        return 1;
    }
    struct ledger_id *accounts = calloc(nacc, sizeof *accounts);
    open_accounts(seq, accounts, nacc);

    struct inproc b = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .nslots = inflight};
    b.slots = calloc(inflight, sizeof *b.slots);
    for (size_t i = 0; i < inflight; i++)
        b.slots[i].items = calloc(LEDGER_BATCH_TRANSFERS_MAX, sizeof(struct transfer_item));
    b.lat_cap = 1 << 22;
    b.lat = calloc(b.lat_cap, sizeof *b.lat);
    uint64_t rng = 0x9e3779b97f4a7c15ull, counter = 0;
    for (size_t done = 0; done < nacc; done += LEDGER_BATCH_TRANSFERS_MAX) { /* fund every account */
        struct slot *sl = slot_wait(&b);
        fill_transfers(sl, nacc - done < LEDGER_BATCH_TRANSFERS_MAX ? nacc - done : LEDGER_BATCH_TRANSFERS_MAX,
                       accounts, nacc, &rng, &counter, true);
        submit_slot(seq, &b, sl);
    }
    drain(&b);
    b.measuring = true;
    double t0 = tool_now_s(), t_end = t0 + seconds;
    struct sequencer_metrics m0, m1;
    sequencer_metrics_read(seq, &m0);
    while (tool_now_s() < t_end) {
        struct slot *sl = slot_wait(&b);
        fill_transfers(sl, batch, accounts, nacc, &rng, &counter, false);
        submit_slot(seq, &b, sl);
    }
    drain(&b);
    double elapsed = tool_now_s() - t0;
    sequencer_metrics_read(seq, &m1);
    qsort(b.lat, b.nlat, sizeof *b.lat, cmp_double);
    uint64_t commits = m1.commits - m0.commits;
    printf("bench transfers: batch=%zu inflight=%zu accounts=%zu seconds=%.1f\n", batch, inflight, nacc, elapsed);
    printf("bench transfers: transfers/s=%.0f executed=%" PRIu64 " rejected=%" PRIu64 " commits=%" PRIu64
           " events/commit=%.0f commit_ms_avg=%.3f\n",
           (double)b.transfers_ok / elapsed, b.transfers_ok, b.transfers_rejected, commits,
           commits ? (double)(m1.events_appended - m0.events_appended) / (double)commits : 0.0,
           commits ? (double)(m1.commit.sum_us - m0.commit.sum_us) / (double)commits / 1e3 : 0.0);
    printf("bench transfers: command latency ms p50=%.3f p99=%.3f p99.9=%.3f (n=%zu)\n",
           percentile(b.lat, b.nlat, 0.50), percentile(b.lat, b.nlat, 0.99), percentile(b.lat, b.nlat, 0.999),
           b.nlat);
    sequencer_stop(seq);
    store_close(st);
    for (size_t i = 0; i < inflight; i++)
        free(b.slots[i].items);
    free(b.slots);
    free(b.lat);
    free(accounts);
    return 0;
}

/* ---- over HTTP -------------------------------------------------------------------------------- */

struct http_conn {
    int fd;
    char *buf;
    size_t cap;
};

static int http_connect(const struct sockaddr_in *sa, struct http_conn *hc)
{
    hc->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(hc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (hc->fd < 0 || connect(hc->fd, (const struct sockaddr *)sa, sizeof *sa) != 0)
        return -1;
    hc->cap = 1 << 20;
    hc->buf = malloc(hc->cap);
    return hc->buf ? 0 : -1;
}

static int http_read_response(struct http_conn *hc, const char **resp_body);

/* Sends one request and reads the response; returns the status (or -1); *body points into hc->buf. */
static int http_post(struct http_conn *hc, const char *path, const char *body, size_t len, const char **resp_body)
{
    char head[1800];
    int n = snprintf(head, sizeof head,
                     "POST %s HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n%s"
                     "Content-Length: %zu\r\n\r\n", path, tool_auth_header(), len);
    if (write(hc->fd, head, (size_t)n) != n || write(hc->fd, body, len) != (ssize_t)len)
        return -1;
    return http_read_response(hc, resp_body);
}

static int http_get(struct http_conn *hc, const char *path, const char **resp_body)
{
    char head[2400];
    int n = snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: bench\r\n%s\r\n", path, tool_auth_header());
    if (n <= 0 || (size_t)n >= sizeof head || write(hc->fd, head, (size_t)n) != n)
        return -1;
    return http_read_response(hc, resp_body);
}

static int http_read_response(struct http_conn *hc, const char **resp_body)
{
    size_t got = 0, need = 0, hdr_end = 0;
    for (int guard = 0; guard < 100000; guard++) {
        ssize_t r = read(hc->fd, hc->buf + got, hc->cap - got - 1);
        if (r <= 0)
            return -1;
        got += (size_t)r;
        hc->buf[got] = '\0';
        if (hdr_end == 0) {
            char *e = strstr(hc->buf, "\r\n\r\n");
            if (e == NULL)
                continue;
            hdr_end = (size_t)(e - hc->buf) + 4;
            char *cl = strcasestr(hc->buf, "Content-Length:");
            need = hdr_end + (cl ? strtoul(cl + 15, NULL, 10) : 0);
            if (need >= hc->cap)
                return -1;
        }
        if (got >= need) {
            *resp_body = hc->buf + hdr_end;
            return (int)strtol(hc->buf + 9, NULL, 10);
        }
    }
    return -1;
}

struct http_bench {
    struct sockaddr_in sa;
    size_t batch;
    double t_end;
    char (*accounts)[LEDGER_ID_TEXT_LEN + 1];
    size_t nacc;
    uint64_t ok, failed, requests;
    double *lat;
    size_t nlat, lat_cap;
};

static size_t build_body(struct http_bench *hb, uint64_t *rng, char *out, size_t cap)
{
    LEDGER_ASSERT(hb->nacc >= 2); /* checked with the flags: two distinct accounts per transfer */
    size_t len = 0;
    if (hb->batch > 1)
        len += (size_t)snprintf(out, cap, "{\"transfers\":[");
    for (size_t i = 0; i < hb->batch; i++) {
        size_t d = rng_next(rng) % hb->nacc, k = rng_next(rng) % (hb->nacc - 1);
        len += (size_t)snprintf(out + len, cap - len,
                                "%s{\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":%d,"
                                "\"currency\":\"EUR\",\"reference\":\"bench\"}",
                                i ? "," : "", hb->accounts[d], hb->accounts[k >= d ? k + 1 : k],
                                1 + (int)(rng_next(rng) % 100));
    }
    if (hb->batch > 1)
        len += (size_t)snprintf(out + len, cap - len, "]}");
    return len;
}

/* One keep-alive connection of the epoll client. */
struct econn {
    int fd;
    char *out;
    size_t out_len, out_off;
    char *in;
    size_t in_len, in_cap;
    double t0;
};

static void econn_send(struct http_bench *hb, struct econn *c, uint64_t *rng, char *body, size_t cap)
{
    size_t len = build_body(hb, rng, body, cap);
    const char *path = hb->batch > 1 ? "/v1/transfers/batch" : "/v1/transfers";
    int n = snprintf(c->out, 2048, "POST %s HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n%s"
                     "Content-Length: %zu\r\n\r\n", path, tool_auth_header(), len);
    memcpy(c->out + n, body, len);
    c->out_len = (size_t)n + len;
    c->out_off = 0;
    c->in_len = 0;
    c->t0 = tool_now_s();
    while (c->out_off < c->out_len) { /* loopback: the kernel takes a request whole or nearly */
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w <= 0) {
            usleep(50);
            continue;
        }
        c->out_off += (size_t)w;
    }
}

/* Returns the status once the whole response is in c->in, 0 while incomplete, -1 on error. */
static int econn_read(struct econn *c, const char **body)
{
    ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1);
    if (r <= 0)
        return r == 0 ? -1 : 0;
    c->in_len += (size_t)r;
    c->in[c->in_len] = '\0';
    char *e = strstr(c->in, "\r\n\r\n");
    if (e == NULL)
        return 0;
    char *cl = strcasestr(c->in, "Content-Length:");
    size_t need = (size_t)(e - c->in) + 4 + (cl ? strtoul(cl + 15, NULL, 10) : 0);
    if (need >= c->in_cap)
        return -1;
    if (c->in_len < need)
        return 0;
    *body = e + 4;
    return (int)strtol(c->in + 9, NULL, 10);
}

static void econn_record(struct http_bench *hb, struct econn *c, int status, const char *resp)
{
    uint64_t ok = 0;
    if (hb->batch == 1)
        ok = status == 201;
    else
        for (const char *p = resp; (p = strstr(p, "\"executed\"")) != NULL; p++)
            ok++;
    hb->ok += ok;
    hb->failed += hb->batch - ok;
    hb->requests++;
    if (hb->nlat < hb->lat_cap)
        hb->lat[hb->nlat++] = (tool_now_s() - c->t0) * 1e3;
}

/* One thread, every connection non-blocking under epoll: the load generator stays light so the
 * server under test gets the machine's cores. */
static int http_run_epoll(struct http_bench *hb, size_t clients)
{
    int ep = epoll_create1(0);
    struct econn *conns = calloc(clients, sizeof *conns);
    size_t cap = hb->batch * 256 + 1024;
    char *body = malloc(cap);
    uint64_t rng = 0x2545f4914f6cdd1dull;
    for (size_t i = 0; i < clients; i++) {
        struct http_conn hc;
        if (http_connect(&hb->sa, &hc) != 0)
            return -1; /* NOLINT(clang-analyzer-unix.Malloc): an error exit of the tool */
        free(hc.buf);
        conns[i].fd = hc.fd;
        conns[i].out = malloc(cap + 2048);
        conns[i].in_cap = (hb->batch * 160 + 4096);
        conns[i].in = malloc(conns[i].in_cap);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
        econn_send(hb, &conns[i], &rng, body, cap);
    }
    size_t open = clients;
    struct epoll_event evs[256];
    while (open > 0) {
        int n = epoll_wait(ep, evs, 256, 1000);
        for (int k = 0; k < n; k++) {
            struct econn *c = &conns[evs[k].data.u64];
            const char *resp = NULL;
            int status = econn_read(c, &resp);
            if (status == 0)
                continue;
            if (status > 0)
                econn_record(hb, c, status, resp);
            if (status < 0 || tool_now_s() >= hb->t_end) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                open--;
                continue;
            }
            econn_send(hb, c, &rng, body, cap);
        }
    }
    for (size_t i = 0; i < clients; i++) {
        free(conns[i].out);
        free(conns[i].in);
    }
    free(conns);
    free(body);
    close(ep);
    return 0;
}

/* Opens nacc accounts over HTTP and funds each with a deposit. */
static int http_setup(struct http_bench *hb)
{
    struct http_conn hc;
    if (http_connect(&hb->sa, &hc) != 0)
        return -1;
    char body[512];
    const char *resp;
    uint64_t tag = (uint64_t)time(NULL);
    for (size_t i = 0; i < hb->nacc; i++) {
        int n = snprintf(body, sizeof body,
                         "{\"holder_id\":\"bench-%" PRIu64 "-%zu\",\"currency\":\"EUR\",\"friendly_name\":\"main\"}",
                         tag, i);
        if (http_post(&hc, "/v1/accounts", body, (size_t)n, &resp) != 201)
            return -1; /* NOLINT(clang-analyzer-unix.Malloc): an error exit of the tool */
        const char *id = strstr(resp, "\"id\":\"");
        if (id == NULL)
            return -1;
        memcpy(hb->accounts[i], id + 6, LEDGER_ID_TEXT_LEN);
        hb->accounts[i][LEDGER_ID_TEXT_LEN] = '\0';
        n = snprintf(body, sizeof body,
                     "{\"account_id\":\"%s\",\"amount\":100000000000,\"currency\":\"EUR\",\"reference\":\"fund\"}",
                     hb->accounts[i]);
        if (http_post(&hc, "/v1/deposits", body, (size_t)n, &resp) != 201)
            return -1;
    }
    close(hc.fd);
    free(hc.buf);
    return 0;
}

static int bench_http(int argc, char **argv)
{
    bool bad = false;
    const char *v;
    const char *url = tool_flag(argc, argv, "--url", &bad);
    size_t batch = (v = tool_flag(argc, argv, "--batch", &bad)) ? strtoul(v, NULL, 10) : 1;
    size_t clients = (v = tool_flag(argc, argv, "--clients", &bad)) ? strtoul(v, NULL, 10) : 64;
    double seconds = (v = tool_flag(argc, argv, "--seconds", &bad)) ? strtod(v, NULL) : 10;
    struct http_bench hb = {.batch = batch};
    hb.nacc = (v = tool_flag(argc, argv, "--accounts", &bad)) ? strtoul(v, NULL, 10) : 1000;
    const char *colon = url ? strrchr(url, ':') : NULL;
    if (bad || colon == NULL || batch < 1 || batch > LEDGER_BATCH_TRANSFERS_MAX || clients < 1 || clients > 1024 ||
        hb.nacc < 2) {
        fprintf(stderr, "usage: ledgerctl bench http --url HOST:PORT [--batch N] [--clients C] [--seconds S] "
                        "[--accounts A]\n");
        return 2;
    }
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(colon - url), url);
    hb.sa.sin_family = AF_INET;
    hb.sa.sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &hb.sa.sin_addr) != 1)
        return 2;
    hb.accounts = calloc(hb.nacc, sizeof *hb.accounts);
    if (http_setup(&hb) != 0) {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): an error exit of the tool */
        fprintf(stderr, "bench http: setup failed (is ledgerd running at %s?)\n", url);
        return 1;
    }
    hb.lat_cap = 1 << 22;
    hb.lat = calloc(hb.lat_cap, sizeof *hb.lat);
    double t0 = tool_now_s();
    hb.t_end = t0 + seconds;
    if (http_run_epoll(&hb, clients) != 0) {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): an error exit of the tool */
        fprintf(stderr, "bench http: cannot connect %zu clients\n", clients);
        return 1;
    }
    double elapsed = tool_now_s() - t0;
    qsort(hb.lat, hb.nlat, sizeof *hb.lat, cmp_double);
    printf("bench http: batch=%zu clients=%zu seconds=%.1f requests=%" PRIu64 "\n", batch, clients, elapsed,
           hb.requests);
    printf("bench http: transfers/s=%.0f executed=%" PRIu64 " not_executed=%" PRIu64 "\n", (double)hb.ok / elapsed,
           hb.ok, hb.failed);
    printf("bench http: request latency ms p50=%.3f p99=%.3f p99.9=%.3f\n", percentile(hb.lat, hb.nlat, 0.5),
           percentile(hb.lat, hb.nlat, 0.99), percentile(hb.lat, hb.nlat, 0.999));
    free(hb.lat);
    free(hb.accounts);
    return hb.ok > 0 ? 0 : 1;
}

/* ---- reads: operations pages and balance-at lookups (ledgerctl bench reads) ------------------ */

#define READS_HISTORIES 3
static const size_t reads_history_ops[READS_HISTORIES] = {10, 1000, 100000};

struct reads_account {
    char id[LEDGER_ID_TEXT_LEN + 1];
    int64_t t_first_ns, t_last_ns; /* wall clock around its history (ledgerd on the real clock) */
    uint64_t last_seq;
};

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Opens an account for holder; its id into out. */
static int reads_open(struct http_conn *hc, const char *holder, char out[LEDGER_ID_TEXT_LEN + 1])
{
    char body[256];
    const char *resp;
    int n = snprintf(body, sizeof body, "{\"holder_id\":\"%s\",\"currency\":\"EUR\",\"friendly_name\":\"main\"}",
                     holder);
    const char *id;
    if (http_post(hc, "/v1/accounts", body, (size_t)n, &resp) != 201 || (id = strstr(resp, "\"id\":\"")) == NULL)
        return -1;
    memcpy(out, id + 6, LEDGER_ID_TEXT_LEN);
    out[LEDGER_ID_TEXT_LEN] = '\0';
    return 0;
}

/* Gives a a history of n operations: batches of 1-unit transfers from the funded account src. */
static int reads_history(struct http_conn *hc, const char *src, struct reads_account *a, size_t n)
{
    size_t cap = 160 * LEDGER_BATCH_TRANSFERS_MAX + 64;
    char *body = malloc(cap);
    const char *resp;
    a->t_first_ns = wall_ns();
    for (size_t done = 0; done < n;) {
        size_t k = n - done < LEDGER_BATCH_TRANSFERS_MAX ? n - done : LEDGER_BATCH_TRANSFERS_MAX;
        size_t len = (size_t)snprintf(body, cap, "{\"transfers\":[");
        for (size_t i = 0; i < k; i++)
            len += (size_t)snprintf(body + len, cap - len,
                                    "%s{\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":1,"
                                    "\"currency\":\"EUR\"}", i ? "," : "", src, a->id);
        len += (size_t)snprintf(body + len, cap - len, "]}");
        if (http_post(hc, "/v1/transfers/batch", body, len, &resp) != 200) {
            free(body);
            return -1;
        }
        const char *seq = NULL; /* the last item's */
        for (const char *p = strstr(resp, "\"seq\":"); p != NULL; p = strstr(p + 1, "\"seq\":"))
            seq = p;
        a->last_seq = seq ? strtoull(seq + 6, NULL, 10) : a->last_seq;
        done += k;
    }
    a->t_last_ns = wall_ns();
    free(body);
    return 0;
}

static int reads_setup(struct http_conn *hc, struct reads_account acc[READS_HISTORIES])
{
    char src[LEDGER_ID_TEXT_LEN + 1], holder[64], body[256];
    const char *resp;
    uint64_t tag = (uint64_t)time(NULL);
    snprintf(holder, sizeof holder, "bench-reads-%" PRIu64 "-src", tag);
    if (reads_open(hc, holder, src) != 0)
        return -1;
    int n = snprintf(body, sizeof body, "{\"account_id\":\"%s\",\"amount\":1000000000,\"currency\":\"EUR\"}", src);
    if (http_post(hc, "/v1/deposits", body, (size_t)n, &resp) != 201)
        return -1;
    for (size_t i = 0; i < READS_HISTORIES; i++) {
        snprintf(holder, sizeof holder, "bench-reads-%" PRIu64 "-%zu", tag, i);
        if (reads_open(hc, holder, acc[i].id) != 0 || reads_history(hc, src, &acc[i], reads_history_ops[i]) != 0)
            return -1;
    }
    char path[256]; /* wait until the projector has the last history */
    snprintf(path, sizeof path, "/v1/accounts/%s/operations?limit=1&min_seq=%" PRIu64, acc[READS_HISTORIES - 1].id,
             acc[READS_HISTORIES - 1].last_seq);
    for (int i = 0; i < 60; i++)
        if (http_get(hc, path, &resp) == 200)
            return 0;
    return -1;
}

/* A connection of the pages client: idle, or waiting for the answer to a request scheduled at
 * c->t0; each walks the history with its own cursor. */
struct page_conn {
    struct econn c;
    bool busy;
    char cursor[2 * OPERATION_KEY_BYTES + 1];
};

static int page_send(struct page_conn *pc, const char *account, double scheduled)
{
    int n = snprintf(pc->c.out, 2048, "GET /v1/accounts/%s/operations?limit=50%s%s HTTP/1.1\r\nHost: bench\r\n%s\r\n",
                     account, pc->cursor[0] ? "&cursor=" : "", pc->cursor, tool_auth_header());
    if (n <= 0 || n >= 2048 || write(pc->c.fd, pc->c.out, (size_t)n) != n)
        return -1;
    pc->c.in_len = 0;
    pc->c.t0 = scheduled;
    pc->busy = true;
    return 0;
}

/* Pages of 50 through the longest history at a fixed offered rate from `clients` keep-alive
 * connections (one epoll thread). Open loop: request i is due at t0 + i/rate and its latency is
 * measured from then, so a request that waits for a free connection counts against the server;
 * a timerfd wakes the client at the next due time. Prints throughput and p50/p99/p99.9. */
static int reads_pages(const struct sockaddr_in *sa, const struct reads_account *a, double rate, double seconds,
                       size_t clients)
{
    size_t cap = (size_t)(rate * seconds) + 16, n = 0, next = 0, busy = 0;
    double *lat = calloc(cap, sizeof *lat);
    struct page_conn *pcs = calloc(clients, sizeof *pcs);
    int ep = epoll_create1(0), tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    uint64_t failed = 0;
    LEDGER_ASSERT(lat != NULL && pcs != NULL && ep >= 0 && tfd >= 0);
    struct epoll_event tev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);
    for (size_t i = 0; i < clients; i++) {
        struct http_conn hc;
        if (http_connect(sa, &hc) != 0)
            return 1; /* NOLINT(clang-analyzer-unix.Malloc): an error exit of the tool */
        free(hc.buf);
        pcs[i].c.fd = hc.fd;
        pcs[i].c.out = malloc(2048);
        pcs[i].c.in_cap = 1 << 16;
        pcs[i].c.in = malloc(pcs[i].c.in_cap);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, hc.fd, &ev);
    }
    double t0 = tool_now_s(), t_stop = t0 + seconds;
    size_t idle_at = 0;
    for (int guard = 0; guard < 100000000; guard++) {
        double now = tool_now_s();
        /* send every due request on an idle connection */
        while (next < cap && t0 + (double)next / rate <= now && t0 + (double)next / rate < t_stop && busy < clients) {
            while (pcs[idle_at].busy)
                idle_at = (idle_at + 1) % clients;
            if (page_send(&pcs[idle_at], a->id, t0 + (double)next / rate) != 0)
                failed++;
            else
                busy++;
            next++;
        }
        double due = t0 + (double)next / rate;
        if (busy == 0 && (due >= t_stop || next >= cap))
            break;
        if (busy < clients && due < t_stop && next < cap) { /* wake at the next due time */
            double wait = due - now > 1e-6 ? due - now : 1e-6;
            struct itimerspec its = {.it_value = {.tv_sec = (time_t)wait,
                                                  .tv_nsec = (long)((wait - (double)(time_t)wait) * 1e9)}};
            timerfd_settime(tfd, 0, &its, NULL);
        }
        struct epoll_event evs[64];
        int k = epoll_wait(ep, evs, 64, 1000);
        if (k < 0 && now > t_stop + 5)
            break;
        for (int e = 0; e < k; e++) {
            if (evs[e].data.u64 == UINT64_MAX) {
                uint64_t expirations;
                if (read(tfd, &expirations, sizeof expirations) < 0)
                    continue;
                continue;
            }
            struct page_conn *pc = &pcs[evs[e].data.u64];
            const char *resp = NULL;
            int status = econn_read(&pc->c, &resp);
            if (status == 0)
                continue;
            pc->busy = false;
            busy--;
            if (status != 200) {
                failed++;
                continue;
            }
            if (n < cap)
                lat[n++] = (tool_now_s() - pc->c.t0) * 1e3;
            const char *c = strstr(resp, "\"next_cursor\":\"");
            pc->cursor[0] = '\0';
            if (c != NULL)
                snprintf(pc->cursor, sizeof pc->cursor, "%.*s", 2 * OPERATION_KEY_BYTES, c + 15);
        }
        if (tool_now_s() > t_stop + 10) /* answers that never come */
            break;
    }
    double elapsed = tool_now_s() - t0;
    qsort(lat, n, sizeof *lat, cmp_double);
    printf("bench reads: operations pages of 50 (history %zu, %zu connections): offered %.0f/s, served %.0f/s, "
           "failed %" PRIu64 ", latency ms p50=%.3f p99=%.3f p99.9=%.3f\n",
           reads_history_ops[READS_HISTORIES - 1], clients, rate, (double)n / elapsed, failed,
           percentile(lat, n, 0.5), percentile(lat, n, 0.99), percentile(lat, n, 0.999));
    for (size_t i = 0; i < clients; i++) {
        close(pcs[i].c.fd);
        free(pcs[i].c.out);
        free(pcs[i].c.in);
    }
    free(pcs);
    free(lat);
    close(tfd);
    close(ep);
    return n > 0 ? 0 : 1;
}

/* Mean time of GET balance?at= at random instants of each history (one connection, sequential).
 * The histories take turns, 500 lookups at a time, so that whatever the server does meanwhile
 * (a flush, a compaction) weighs on each of them alike. */
static int reads_balance_at(struct http_conn *hc, const struct reads_account acc[READS_HISTORIES])
{
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    double secs[READS_HISTORIES] = {0};
    int ok[READS_HISTORIES] = {0}, per_turn = 500, turns = 4;
    for (int turn = 0; turn < turns; turn++)
        for (size_t h = 0; h < READS_HISTORIES; h++) {
            const struct reads_account *a = &acc[h];
            char path[512], at[API_TIME_TEXT_MAX];
            const char *resp;
            double t0 = tool_now_s();
            for (int i = 0; i < per_turn; i++) {
                int64_t span = a->t_last_ns - a->t_first_ns + 1;
                api_time_format(a->t_first_ns + (int64_t)(rng_next(&rng) % (uint64_t)span), at);
                snprintf(path, sizeof path, "/v1/accounts/%s/balance?at=%s", a->id, at);
                ok[h] += http_get(hc, path, &resp) == 200;
            }
            secs[h] += tool_now_s() - t0;
        }
    for (size_t h = 0; h < READS_HISTORIES; h++)
        printf("bench reads: balance at an instant, history of %6zu operations: mean %.1f us per lookup "
               "(%d lookups over HTTP, %d ok)\n", reads_history_ops[h], secs[h] * 1e6 / (per_turn * turns),
               per_turn * turns, ok[h]);
    return 0;
}

static int bench_reads(int argc, char **argv)
{
    bool bad = false;
    const char *v;
    const char *url = tool_flag(argc, argv, "--url", &bad);
    double rate = (v = tool_flag(argc, argv, "--rate", &bad)) ? strtod(v, NULL) : 1000;
    double seconds = (v = tool_flag(argc, argv, "--seconds", &bad)) ? strtod(v, NULL) : 10;
    size_t clients = (v = tool_flag(argc, argv, "--clients", &bad)) ? strtoul(v, NULL, 10) : 16;
    const char *colon = url ? strrchr(url, ':') : NULL;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    char host[64];
    if (!bad && colon != NULL)
        snprintf(host, sizeof host, "%.*s", (int)(colon - url), url);
    if (bad || colon == NULL || rate <= 0 || rate > 1e6 || seconds <= 0 || clients < 1 || clients > 1024 ||
        inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &sa.sin_addr) != 1) {
        fprintf(stderr, "usage: ledgerctl bench reads --url HOST:PORT [--rate R] [--seconds S] [--clients C]\n");
        return 2;
    }
    sa.sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
    struct http_conn hc;
    struct reads_account acc[READS_HISTORIES];
    if (http_connect(&sa, &hc) != 0 || reads_setup(&hc, acc) != 0) {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): an error exit of the tool */
        fprintf(stderr, "bench reads: setup failed (is ledgerd running at %s?)\n", url);
        return 1;
    }
    int status = reads_pages(&sa, &acc[READS_HISTORIES - 1], rate, seconds, clients);
    status |= reads_balance_at(&hc, acc);
    close(hc.fd);
    free(hc.buf);
    return status;
}

int cmd_bench(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "reads") == 0)
        return bench_reads(argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "transfers") == 0)
        return bench_inproc(argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "http") == 0)
        return bench_http(argc - 1, argv + 1);
    fprintf(stderr, "usage: ledgerctl bench transfers|http|reads [options]\n"
                    "  reads --url HOST:PORT [--rate R] [--seconds S] [--clients C]\n"
                    "                                  operations pages (C connections, default 16), balance-at\n"
                    "  transfers [--batch N] [--seconds S] [--accounts A] [--inflight K] [--data DIR]\n"
                    "  http --url HOST:PORT [--batch N] [--clients C] [--seconds S] [--accounts A]\n"
                    "  (verify speed: ledgerctl verify prints events/s)\n");
    return 2;
}
