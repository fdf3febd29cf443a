/*
 * bench_cards.c: `ledgerctl bench cards`, card authorizations over NATS request-reply against a
 * running ledgerd (docs/CARDS.md), figures printed (never a timed test).
 *
 *   bench cards --nats URL --url HOST:PORT [--rate R|max] [--seconds S] [--cards N] [--window W]
 *               [--dump FILE]   (FILE: each request's scheduled time and latency, one per line)
 *
 * Set-up over HTTP: N accounts, each funded by a deposit, each with an active card. Then
 * authorizations on ledger.cmd.card.authorize, each with its own reply subject <inbox>.<i> under
 * one inbox subscription, so any number are in flight:
 *   --rate R  open loop: request i is scheduled at t0 + i/R and sent then (late if the sender
 *             falls behind); latency runs from the scheduled time, so a stalled server shows in
 *             the figures instead of slowing the offered load (no coordinated omission)
 *   --rate max  closed loop with a window of W requests in flight; latency from the send
 * Prints throughput (replies/s), approvals, declines, "91" answers, lost replies and latency
 * p50/p99/p99.9, then ledgerd's own share over the run from its ledger_card_command_seconds
 * histogram (GET /metrics; bucket bounds, so "p99<=1" reads "99% took at most 1 ms inside").
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "events/events.h"
#include "store/nats_retire.h"
#include "tools/tools.h"

#define BENCH_CARDS_REQUESTS_MAX (1u << 22) /* requests one run may send (latency slots) */
#define BENCH_CARDS_DRAIN_S 10.0            /* wait this long for the last replies */
#define BENCH_CARDS_HTTP_BUF 65536
#define BENCH_CARDS_DEPOSIT 100000000000LL  /* minor units per account: never the limiting factor */

/* ---- a minimal blocking HTTP/1.1 client for the set-up ----------------------------------------- */

struct bc_http {
    int fd;
    char buf[BENCH_CARDS_HTTP_BUF];
};

static bool bc_http_connect(struct bc_http *h, const char *hostport)
{
    const char *colon = strrchr(hostport, ':');
    if (colon == NULL || colon - hostport >= 64)
        return false;
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(colon - hostport), hostport);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    char *end = NULL;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || port == 0 || port > 65535)
        return false;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 || host[0] == '\0' ? "127.0.0.1" : host, &sa.sin_addr) != 1)
        return false;
    h->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return h->fd >= 0 && connect(h->fd, (struct sockaddr *)&sa, sizeof sa) == 0;
}

/* Sends method path (body NULL: none); returns the status (or -1) with *resp pointing at the
 * answer's body in h->buf. */
static int bc_http_request(struct bc_http *h, const char *method, const char *path, const char *body,
                           const char **resp)
{
    char head[1800];
    size_t len = body != NULL ? strlen(body) : 0;
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n%sContent-Length: %zu\r\n\r\n",
                     method, path, tool_auth_header(), len);
    if (write(h->fd, head, (size_t)n) != n || write(h->fd, body, len) != (ssize_t)len)
        return -1;
    size_t got = 0, need = 0;
    char *hdr_end = NULL;
    while (got + 1 < sizeof h->buf) {
        ssize_t r = read(h->fd, h->buf + got, sizeof h->buf - got - 1);
        if (r <= 0)
            return -1;
        got += (size_t)r;
        h->buf[got] = '\0';
        if (hdr_end == NULL) {
            if ((hdr_end = strstr(h->buf, "\r\n\r\n")) == NULL)
                continue;
            const char *cl = strcasestr(h->buf, "Content-Length:");
            need = (size_t)(hdr_end - h->buf) + 4 + (cl ? strtoul(cl + 15, NULL, 10) : 0);
        }
        if (got >= need) {
            *resp = hdr_end + 4;
            return (int)strtol(h->buf + 9, NULL, 10);
        }
    }
    return -1;
}

/* Copies the string value of "key" in a flat JSON answer (an id: no escapes) into out. */
static bool bc_json_str(const char *json, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    if (p == NULL)
        return false;
    p += strlen(pat);
    const char *e = strchr(p, '"');
    if (e == NULL || (size_t)(e - p) >= cap)
        return false;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return true;
}

/* One account with a deposit and an active card; the card id into card. */
static bool bc_setup_card(struct bc_http *h, uint64_t tag, size_t i, char card[LEDGER_ID_TEXT_LEN + 1])
{
    char body[512], account[LEDGER_ID_TEXT_LEN + 1], path[128];
    const char *resp = NULL;
    snprintf(body, sizeof body, "{\"holder_id\":\"bench-cards-%" PRIu64 "-%zu\",\"currency\":\"EUR\",\"friendly_name\":\"main\"}",
             tag, i);
    if (bc_http_request(h, "POST", "/v1/accounts", body, &resp) != 201 || !bc_json_str(resp, "id", account, sizeof account))
        return false;
    snprintf(body, sizeof body, "{\"account_id\":\"%s\",\"amount\":%lld,\"currency\":\"EUR\",\"reference\":\"fund\"}",
             account, BENCH_CARDS_DEPOSIT);
    if (bc_http_request(h, "POST", "/v1/deposits", body, &resp) != 201)
        return false;
    snprintf(body, sizeof body,
             "{\"account_id\":\"%s\",\"type\":\"virtual\",\"brand\":\"VISA\",\"name_on_card\":\"BENCH %zu\"}", account, i);
    if (bc_http_request(h, "POST", "/v1/cards", body, &resp) != 201 || !bc_json_str(resp, "id", card, LEDGER_ID_TEXT_LEN + 1))
        return false;
    snprintf(path, sizeof path, "/v1/cards/%s/activate", card);
    return bc_http_request(h, "POST", path, "{}", &resp) == 200;
}

/* ---- the load -------------------------------------------------------------------------------- */

struct bc_run {
    double *sched;   /* scheduled (or, at max, actual) send time of request i, seconds */
    double *lat_ms;  /* latency of request i, -1 until answered */
    size_t total;    /* slots */
    uint64_t sent;   /* written by the sender */
    uint64_t received, approved, declined, unavailable, bad; /* atomics, written by the reply thread */
    uint64_t no_responders; /* the server's status reply when no ledgerd listens (not counted received) */
    double last_reply_s;
    pthread_mutex_t mu; /* max mode: window */
    pthread_cond_t cv;
    uint64_t inflight;
    struct nats_msg_retire retired; /* replies, destroyed in batches (under mu) */
    size_t prefix_len; /* "<inbox>." */
};

static void bc_on_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    struct bc_run *b = closure;
    double now = tool_now_s();
    const char *subj = natsMsg_GetSubject(msg);
    char *end = NULL;
    unsigned long long i = strlen(subj) > b->prefix_len ? strtoull(subj + b->prefix_len, &end, 10) : ~0ull;
    const char *data = natsMsg_GetData(msg);
    if (natsMsg_GetDataLength(msg) == 0) { /* a 503 status message: nobody subscribed */
        __atomic_add_fetch(&b->no_responders, 1, __ATOMIC_RELAXED);
        pthread_mutex_lock(&b->mu);
        b->inflight--;
        nats_msg_retire(&b->retired, msg);
        pthread_cond_signal(&b->cv);
        pthread_mutex_unlock(&b->mu);
        return;
    }
    if (i < b->total && end != NULL && *end == '\0' && b->lat_ms[i] < 0) {
        b->lat_ms[i] = (now - b->sched[i]) * 1e3;
        if (strstr(data, "\"result\":\"approved\"") != NULL)
            __atomic_add_fetch(&b->approved, 1, __ATOMIC_RELAXED);
        else if (strstr(data, "\"response_code\":\"91\"") != NULL)
            __atomic_add_fetch(&b->unavailable, 1, __ATOMIC_RELAXED);
        else
            __atomic_add_fetch(&b->declined, 1, __ATOMIC_RELAXED);
        b->last_reply_s = now;
        __atomic_add_fetch(&b->received, 1, __ATOMIC_RELEASE);
        pthread_mutex_lock(&b->mu);
        b->inflight--;
        pthread_cond_signal(&b->cv);
    } else {
        __atomic_add_fetch(&b->bad, 1, __ATOMIC_RELAXED);
        pthread_mutex_lock(&b->mu);
    }
    nats_msg_retire(&b->retired, msg);
    pthread_mutex_unlock(&b->mu);
}

/* Sleeps until t without spinning (a spinning client took 65% of a core from the server at
 * 10k/s). Oversleeping delays the send, and latency is measured from the scheduled time, so any
 * scheduling error of the client counts against the ledger, never in its favour. */
static void bc_sleep_until(double t)
{
    double d = t - tool_now_s();
    if (d <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)d, .tv_nsec = (long)((d - (double)(time_t)d) * 1e9)};
    nanosleep(&ts, NULL);
}

static natsStatus bc_send(natsConnection *nc, const char *inbox, uint64_t tag, size_t i,
                          char (*cards)[LEDGER_ID_TEXT_LEN + 1], size_t ncards)
{
    char reply[128], body[512];
    snprintf(reply, sizeof reply, "%s.%zu", inbox, i);
    int n = snprintf(body, sizeof body,
                     "{\"authorization_id\":\"bench-%" PRIu64 "-%zu\",\"card_id\":\"%s\",\"amount\":%zu,"
                     "\"currency\":\"EUR\",\"merchant\":{\"name\":\"Bench Store\",\"mcc\":5411,\"country\":\"FR\","
                     "\"id\":\"m-1\"},\"channel\":\"POS\",\"category\":\"FINAL_AUTH\",\"partial_allowed\":false}",
                     tag, i, cards[i % ncards], 1 + i % 100);
    return natsConnection_PublishRequest(nc, "ledger.cmd.card.authorize", reply, body, n);
}

static void bc_run_load(struct bc_run *b, natsConnection *nc, const char *inbox, uint64_t tag, double rate,
                        double seconds, size_t window, char (*cards)[LEDGER_ID_TEXT_LEN + 1], size_t ncards)
{
    double t0 = tool_now_s() + 0.05, t_end = t0 + seconds;
    for (size_t i = 0; i < b->total; i++) {
        if (rate > 0) {
            double t = t0 + (double)i / rate;
            bc_sleep_until(t);
            b->sched[i] = t;
        } else {
            pthread_mutex_lock(&b->mu);
            while (b->inflight >= window && tool_now_s() < t_end) { /* bounded: lost replies never free a slot */
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 10 * 1000 * 1000;
                if (ts.tv_nsec >= 1000000000) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&b->cv, &b->mu, &ts);
            }
            pthread_mutex_unlock(&b->mu);
            if (tool_now_s() >= t_end)
                break;
            b->sched[i] = tool_now_s();
        }
        pthread_mutex_lock(&b->mu);
        b->inflight++;
        pthread_mutex_unlock(&b->mu);
        __atomic_store_n(&b->sent, i + 1, __ATOMIC_RELEASE);
        if (bc_send(nc, inbox, tag, i, cards, ncards) != NATS_OK) {
            fprintf(stderr, "bench cards: publish failed: %s\n", nats_GetLastError(NULL));
            break;
        }
    }
    natsConnection_FlushTimeout(nc, 5000);
    double drain_end = tool_now_s() + BENCH_CARDS_DRAIN_S;
    while (__atomic_load_n(&b->received, __ATOMIC_ACQUIRE) < b->sent && tool_now_s() < drain_end)
        usleep(1000);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, double p)
{
    return n == 0 ? 0 : v[(size_t)(p * (double)(n - 1))];
}

static void bc_report(struct bc_run *b, const char *rate_text, double seconds, size_t ncards)
{
    uint64_t received = __atomic_load_n(&b->received, __ATOMIC_ACQUIRE);
    double *lat = malloc((received + 1) * sizeof *lat);
    size_t n = 0;
    for (size_t i = 0; i < b->sent && n < received; i++)
        if (b->lat_ms[i] >= 0)
            lat[n++] = b->lat_ms[i];
    qsort(lat, n, sizeof *lat, cmp_double);
    double span = b->sent > 0 ? b->last_reply_s - b->sched[0] : 0;
    printf("bench cards: rate=%s seconds=%.1f cards=%zu sent=%" PRIu64 " replies=%" PRIu64 " lost=%" PRIu64 "\n",
           rate_text, seconds, ncards, b->sent, received, b->sent - received);
    printf("bench cards: authorizations/s=%.0f approved=%" PRIu64 " declined=%" PRIu64 " issuer_inoperative_91=%" PRIu64
           " no_responders=%" PRIu64 "\n",
           span > 0 ? (double)received / span : 0.0, b->approved, b->declined, b->unavailable, b->no_responders);
    printf("bench cards: latency ms p50=%.3f p99=%.3f p99.9=%.3f max=%.3f (n=%zu)\n", pct(lat, n, 0.5),
           pct(lat, n, 0.99), pct(lat, n, 0.999), n ? lat[n - 1] : 0.0, n);
    free(lat);
}

/* The cumulative buckets of ledgerd's ledger_card_command_seconds (GET /metrics), le in ms;
 * false when ledgerd does not answer or has no such histogram. */
#define BC_BUCKETS_MAX 24
struct bc_served {
    size_t n;
    double le_ms[BC_BUCKETS_MAX]; /* the last is +Inf */
    uint64_t cum[BC_BUCKETS_MAX];
};

static bool bc_served_read(const char *url, struct bc_served *out)
{
    static const char key[] = "ledger_card_command_seconds_bucket{le=\"";
    static struct bc_http h;
    const char *body = NULL;
    memset(out, 0, sizeof *out);
    h.fd = -1;
    bool ok = bc_http_connect(&h, url) && bc_http_request(&h, "GET", "/metrics", NULL, &body) == 200;
    if (h.fd >= 0)
        close(h.fd);
    for (const char *p = ok ? strstr(body, key) : NULL; p != NULL && out->n < BC_BUCKETS_MAX; p = strstr(p + 1, key)) {
        const char *le = p + sizeof key - 1;
        out->le_ms[out->n] = strncmp(le, "+Inf", 4) == 0 ? INFINITY : strtod(le, NULL) * 1e3;
        const char *count = strchr(le, ' ');
        out->cum[out->n++] = count != NULL ? strtoull(count + 1, NULL, 10) : 0;
    }
    return out->n > 0;
}

/* The least bucket bound under which q of the requests between a and b fall (ms). */
static double bc_served_quantile(const struct bc_served *a, const struct bc_served *b, double q)
{
    uint64_t total = b->cum[b->n - 1] - a->cum[a->n - 1];
    for (size_t k = 0; k < b->n; k++)
        if ((double)(b->cum[k] - a->cum[k]) >= q * (double)total)
            return b->le_ms[k];
    return INFINITY;
}

/* "<=X" for a quantile in the bucket of bound X, ">Y" above the last finite bound Y. */
static const char *bc_bound_text(const struct bc_served *b, double ms, char out[32])
{
    if (isinf(ms))
        snprintf(out, 32, ">%g", b->n > 1 ? b->le_ms[b->n - 2] : 0.0);
    else
        snprintf(out, 32, "<=%g", ms);
    return out;
}

/* What share of the latency is ledgerd's: its own histogram over the run. */
static void bc_report_served(const struct bc_served *a, const struct bc_served *b)
{
    if (a->n == 0 || b->n != a->n)
        return;
    char t50[32], t99[32], t999[32];
    printf("bench cards: inside ledgerd ms p50%s p99%s p99.9%s (ledger_card_command_seconds, n=%" PRIu64 ")\n",
           bc_bound_text(b, bc_served_quantile(a, b, 0.5), t50), bc_bound_text(b, bc_served_quantile(a, b, 0.99), t99),
           bc_bound_text(b, bc_served_quantile(a, b, 0.999), t999), b->cum[b->n - 1] - a->cum[a->n - 1]);
}

/* --dump FILE: one line per request, "<scheduled s from the first> <latency ms>" (-1: no reply),
 * to see when the slow ones happened. */
static bool bc_dump(const struct bc_run *b, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return false;
    for (size_t i = 0; i < b->sent; i++)
        fprintf(f, "%.6f %.3f\n", b->sched[i] - b->sched[0], b->lat_ms[i]);
    return fclose(f) == 0;
}

static int bc_usage(void)
{
    fprintf(stderr, "usage: ledgerctl bench cards --nats URL --url HOST:PORT [--rate R|max] [--seconds S] "
                    "[--cards N] [--window W] [--dump FILE]\n");
    return 2;
}

int cmd_bench_cards(int argc, char **argv)
{
    bool bad = false;
    const char *v;
    const char *nats_url = tool_flag(argc, argv, "--nats", &bad);
    const char *url = tool_flag(argc, argv, "--url", &bad);
    const char *rate_text = (v = tool_flag(argc, argv, "--rate", &bad)) ? v : "1000";
    double seconds = (v = tool_flag(argc, argv, "--seconds", &bad)) ? strtod(v, NULL) : 10;
    size_t ncards = (v = tool_flag(argc, argv, "--cards", &bad)) ? strtoul(v, NULL, 10) : 100;
    size_t window = (v = tool_flag(argc, argv, "--window", &bad)) ? strtoul(v, NULL, 10) : 512;
    const char *dump = tool_flag(argc, argv, "--dump", &bad);
    double rate = strcmp(rate_text, "max") == 0 ? 0 : strtod(rate_text, NULL);
    if (bad || nats_url == NULL || url == NULL || seconds <= 0 || ncards < 1 || ncards > 100000 || window < 1 ||
        (rate <= 0 && strcmp(rate_text, "max") != 0))
        return bc_usage();
    struct bc_http h;
    char(*cards)[LEDGER_ID_TEXT_LEN + 1] = calloc(ncards, sizeof *cards);
    uint64_t tag = (uint64_t)time(NULL) * 1000 + (uint64_t)getpid() % 1000;
    if (!bc_http_connect(&h, url)) {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): an error exit of the tool */
        fprintf(stderr, "bench cards: cannot connect to ledgerd at %s\n", url);
        return 1;
    }
    for (size_t i = 0; i < ncards; i++) {
        if (!bc_setup_card(&h, tag, i, cards[i])) {
            fprintf(stderr, "bench cards: set-up over HTTP failed at card %zu\n", i);
            return 1;
        }
    }
    close(h.fd);

    struct bc_run b = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    double want = rate > 0 ? rate * seconds + 1 : (double)BENCH_CARDS_REQUESTS_MAX;
    b.total = want < BENCH_CARDS_REQUESTS_MAX ? (size_t)want : BENCH_CARDS_REQUESTS_MAX;
    b.sched = calloc(b.total, sizeof *b.sched);
    b.lat_ms = malloc(b.total * sizeof *b.lat_ms);
    for (size_t i = 0; i < b.total; i++)
        b.lat_ms[i] = -1;
    natsConnection *nc = NULL;
    natsSubscription *sub = NULL;
    natsInbox *inbox = NULL;
    natsOptions *opts = NULL;
    char wildcard[128];
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK)
        s = natsOptions_SetURL(opts, nats_url);
    if (s == NATS_OK)
        s = natsOptions_SetSendAsap(opts, rate > 0); /* open loop: each request on time; max: batch writes */
    if (s == NATS_OK)
        s = natsOptions_SetMaxPendingMsgs(opts, 1 << 20);
    if (s == NATS_OK)
        s = natsConnection_Connect(&nc, opts);
    if (s == NATS_OK)
        s = natsInbox_Create(&inbox);
    if (s == NATS_OK) {
        snprintf(wildcard, sizeof wildcard, "%s.*", (const char *)inbox);
        b.prefix_len = strlen(inbox) + 1;
        s = natsConnection_Subscribe(&sub, nc, wildcard, bc_on_reply, &b);
    }
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(sub, -1, -1);
    if (s == NATS_OK)
        s = natsConnection_FlushTimeout(nc, 5000);
    if (s != NATS_OK) {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): an error exit of the tool */
        fprintf(stderr, "bench cards: NATS at %s: %s\n", nats_url, natsStatus_GetText(s));
        return 1;
    }
    struct bc_served served0, served1;
    bc_served_read(url, &served0);
    bc_run_load(&b, nc, inbox, tag, rate, seconds, window, cards, ncards);
    natsSubscription_Unsubscribe(sub); /* late replies no longer touch b */
    natsConnection_Close(nc);
    bc_report(&b, rate_text, seconds, ncards);
    if (bc_served_read(url, &served1))
        bc_report_served(&served0, &served1);
    if (dump != NULL && !bc_dump(&b, dump))
        fprintf(stderr, "bench cards: cannot write %s\n", dump);
    int rc = b.received > 0 ? 0 : 1;
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(nc);
    pthread_mutex_lock(&b.mu);
    nats_msg_retire_flush(&b.retired);
    pthread_mutex_unlock(&b.mu);
    natsInbox_Destroy(inbox);
    natsOptions_Destroy(opts);
    free(b.sched);
    free(b.lat_ms);
    free(cards);
    return rc;
}
