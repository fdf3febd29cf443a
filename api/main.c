/*
 * main.c: ledgerd, the ledger service.
 *
 *   ledgerd --data DIR --http HOST:PORT --nats URL|none [--hold-expiry-days N]
 *           [--preauth-expiry-days N] [--clock realtime|manual] [--clock-start RFC3339]
 *           [--statement-tz ZONE] [--statement-period daily|weekly|monthly]
 *   (fallbacks: LEDGER_DATA, LEDGER_HTTP, LEDGER_NATS; defaults ./data, 127.0.0.1:8080,
 *    nats://127.0.0.1:4222)
 *
 * Start-up: set the statement time zone (TZ, before any thread), open the store (checks the chain
 * head), start the outbox (NATS) and the catch-up projector, replay the log into the sequencer's
 * state and give it the business clock, start the HTTP server, the card command listener (NATS
 * request-reply, ledger.cmd.card.>) and the scheduler (hold expiry, statement seals). Each commit
 * notifies the outbox and the projector. SIGTERM/SIGINT: stop accepting (HTTP and NATS), stop the
 * scheduler, let the sequencer decide and commit what is queued, answer it, let the projector
 * catch up and stop, give the outbox a bounded time to publish, close.
 */
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "commands/commands.h"
#include "store/outbox.h"
#include "store/store.h"

struct config {
    const char *data;
    const char *http;
    const char *nats;
    int hold_expiry_days;
    int preauth_expiry_days;
    enum clock_mode clock_mode;
    int64_t clock_start_ns; /* manual clock; 0 = now */
    const char *statement_tz;
    enum period_kind statement_period;
    const char *tls_cert; /* PEM files; both or neither (HTTPS only when set) */
    const char *tls_key;
};

/* What each durable commit wakes: the outbox (publishes) and the catch-up projector. */
struct commit_fanout {
    struct outbox *outbox;
    struct projector *projector;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: ledgerd [--data DIR] [--http HOST:PORT] [--nats URL|none] [--hold-expiry-days N]\n"
               "               [--preauth-expiry-days N]\n"
               "  --data DIR        data directory (RocksDB); env LEDGER_DATA; default ./data\n"
               "  --http HOST:PORT  HTTP listen address; env LEDGER_HTTP; default 127.0.0.1:8080\n"
               "  --nats URL|none   NATS server for the JetStream outbox; env LEDGER_NATS;\n"
               "                    default nats://127.0.0.1:4222; 'none' disables publishing and the card\n"
               "                    command listener (ledger.cmd.card.>, docs/CARDS.md)\n"
               "  --hold-expiry-days N     days an approved FINAL_AUTH authorization holds funds before\n"
               "                           it expires (1..365, default 7)\n"
               "  --preauth-expiry-days N  the same for PRE_AUTH (1..365, default 30)\n"
               "  --clock realtime|manual  the business clock: the system clock (default), or a clock\n"
               "                           that moves only when set (POST /v1/admin/clock; tests, demos)\n"
               "  --clock-start RFC3339    where a manual clock starts (default: now)\n"
               "  --statement-tz ZONE      IANA time zone of statement periods (default Europe/Paris)\n"
               "  --statement-period daily|weekly|monthly  statement period (default monthly)\n"
               "  --tls-cert FILE --tls-key FILE  serve HTTPS only, with this PEM certificate (chain) and\n"
               "                           private key; env LEDGER_TLS_CERT, LEDGER_TLS_KEY\n");
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : dflt;
}

/* A whole decimal number in 1..API_HOLD_EXPIRY_DAYS_MAX, or -1. */
static int parse_days(const char *text)
{
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < 1 || v > API_HOLD_EXPIRY_DAYS_MAX)
        return -1;
    return (int)v;
}

/* The options of the read side: business clock and statements; 1 = not one of them, -1 = bad. */
static int parse_read_side_arg(const char *a, const char *v, struct config *cfg)
{
    if (strcmp(a, "--clock") == 0) {
        if (strcmp(v, "realtime") != 0 && strcmp(v, "manual") != 0) {
            fprintf(stderr, "ledgerd: --clock wants realtime or manual, got '%s'\n", v);
            return -1;
        }
        cfg->clock_mode = strcmp(v, "manual") == 0 ? BUSINESS_CLOCK_MANUAL : BUSINESS_CLOCK_REALTIME;
    } else if (strcmp(a, "--clock-start") == 0) {
        if (!api_time_parse(v, &cfg->clock_start_ns)) {
            fprintf(stderr, "ledgerd: --clock-start wants an RFC 3339 time (2026-11-20T10:00:00Z), got '%s'\n", v);
            return -1;
        }
    } else if (strcmp(a, "--statement-tz") == 0) {
        if (v[0] == '\0' || strlen(v) > LEDGER_TIME_ZONE_MAX) {
            fprintf(stderr, "ledgerd: --statement-tz wants an IANA zone name (Europe/Paris), got '%s'\n", v);
            return -1;
        }
        cfg->statement_tz = v;
    } else if (strcmp(a, "--statement-period") == 0) {
        if (!period_kind_parse(v, &cfg->statement_period)) {
            fprintf(stderr, "ledgerd: --statement-period wants daily, weekly or monthly, got '%s'\n", v);
            return -1;
        }
    } else {
        return 1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
    cfg->hold_expiry_days = LEDGER_HOLD_EXPIRY_DAYS_DEFAULT;
    cfg->preauth_expiry_days = LEDGER_PREAUTH_EXPIRY_DAYS_DEFAULT;
    cfg->data = env_or("LEDGER_DATA", "./data");
    cfg->http = env_or("LEDGER_HTTP", "127.0.0.1:8080");
    cfg->nats = env_or("LEDGER_NATS", "nats://127.0.0.1:4222");
    cfg->clock_mode = BUSINESS_CLOCK_REALTIME;
    cfg->clock_start_ns = 0;
    cfg->statement_tz = "Europe/Paris";
    cfg->statement_period = PERIOD_MONTHLY;
    cfg->tls_cert = env_or("LEDGER_TLS_CERT", NULL);
    cfg->tls_key = env_or("LEDGER_TLS_KEY", NULL);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "ledgerd: %s needs a value\n", a);
            return -1;
        }
        int rs = parse_read_side_arg(a, argv[i + 1], cfg);
        if (rs < 0)
            return -1;
        if (rs == 0)
            i++;
        else if (strcmp(a, "--data") == 0)
            cfg->data = argv[++i];
        else if (strcmp(a, "--http") == 0)
            cfg->http = argv[++i];
        else if (strcmp(a, "--nats") == 0)
            cfg->nats = argv[++i];
        else if (strcmp(a, "--tls-cert") == 0)
            cfg->tls_cert = argv[++i];
        else if (strcmp(a, "--tls-key") == 0)
            cfg->tls_key = argv[++i];
        else if (strcmp(a, "--hold-expiry-days") == 0 || strcmp(a, "--preauth-expiry-days") == 0) {
            int days = parse_days(argv[++i]);
            if (days < 0) {
                fprintf(stderr, "ledgerd: %s wants a number of days in 1..%d, got '%s'\n", a,
                        API_HOLD_EXPIRY_DAYS_MAX, argv[i]);
                return -1;
            }
            *(strcmp(a, "--hold-expiry-days") == 0 ? &cfg->hold_expiry_days : &cfg->preauth_expiry_days) = days;
        } else {
            fprintf(stderr, "ledgerd: unknown option %s\n", a);
            return -1;
        }
    }
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
        fprintf(stderr, "ledgerd: --tls-cert and --tls-key go together\n");
        return -1;
    }
    if (cfg->clock_start_ns != 0 && cfg->clock_mode != BUSINESS_CLOCK_MANUAL) {
        fprintf(stderr, "ledgerd: --clock-start needs --clock manual\n");
        return -1;
    }
    return 0;
}

static void on_commit(void *arg, uint64_t seq)
{
    struct commit_fanout *f = arg;
    outbox_notify(f->outbox, seq);
    projector_notify(f->projector, seq);
}

/* The business clock of cfg (a manual clock without --clock-start starts now). */
static struct ledger_clock *clock_of(const struct config *cfg)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    return ledger_clock_new(cfg->clock_mode, cfg->clock_start_ns != 0 ? cfg->clock_start_ns : now_ns);
}

/* Everything ledgerd runs, in start order. */
struct daemon {
    struct store *st;
    struct outbox *ob;
    struct projector *proj;
    struct ledger_clock *clock;
    struct commit_fanout fanout;
    struct sequencer *seq;
    struct api_server *api;
    struct nats_cmd *cards_nats;
    struct scheduler *sched;
};

/* Releases what d holds, in reverse start order (a failed start; the SIGTERM path is main's). */
static void daemon_abort(struct daemon *d)
{
    api_stop(d->api); /* first: its /metrics reads the NATS listener */
    nats_cmd_stop(d->cards_nats);
    if (d->seq != NULL)
        sequencer_stop(d->seq);
    if (d->proj != NULL)
        projector_stop(d->proj);
    if (d->ob != NULL)
        outbox_stop(d->ob);
    store_close(d->st);
    if (d->clock != NULL)
        ledger_clock_free(d->clock);
}

/* Opens the store and starts outbox, projector and sequencer; 1 (printed, released) on failure. */
static int daemon_start_core(struct daemon *d, const struct config *cfg, char *err, size_t err_cap)
{
    d->st = store_open(cfg->data, false, err, err_cap);
    if (d->st == NULL) {
        fprintf(stderr, "ledgerd: cannot open data directory %s: %s\n", cfg->data, err);
        return 1;
    }
    if (!statement_config_check(d->st, true, cfg->statement_period, cfg->statement_tz, err, err_cap)) {
        fprintf(stderr, "ledgerd: %s\n", err);
        store_close(d->st);
        return 1;
    }
    struct store_head head = store_head(d->st);
    d->ob = outbox_start(d->st, cfg->nats, head.seq, err, err_cap);
    if (d->ob == NULL) {
        fprintf(stderr, "ledgerd: outbox: %s\n", err);
        daemon_abort(d);
        return 1;
    }
    if (catchup_reset_stale(d->st)) /* older rows, or a rebuild cut short: the projector rebuilds it */
        fprintf(stderr, "ledgerd: the operations projection was written in an older row format or by a rebuild "
                        "that did not finish; it is rebuilt from the log in the background (reads wait with "
                        "min_seq)\n");
    d->proj = projector_start(d->st, cfg->statement_period, head.seq);
    LEDGER_ASSERT(d->proj != NULL);
    d->fanout = (struct commit_fanout){d->ob, d->proj};
    d->clock = clock_of(cfg);
    d->seq = sequencer_start(d->st, on_commit, &d->fanout, err, err_cap);
    if (d->seq == NULL) {
        fprintf(stderr, "ledgerd: the log does not replay: %s\nrun 'ledgerctl verify --data %s'\n", err, cfg->data);
        daemon_abort(d);
        return 1;
    }
    sequencer_set_clock(d->seq, ledger_clock_now, d->clock); /* before anything submits */
    return 0;
}

/* Starts HTTP, the NATS card listener and the scheduler; 1 (printed, released) on failure. */
static int daemon_start_edges(struct daemon *d, const struct config *cfg, char *err, size_t err_cap)
{
    api_reads_configure(d->proj, d->clock, NULL);
    if (!api_auth_configure(cfg->data, err, err_cap)) {
        fprintf(stderr, "ledgerd: auth: %s\n", err);
        daemon_abort(d);
        return 1;
    }
    if (cfg->tls_cert != NULL && !api_tls_configure(cfg->tls_cert, cfg->tls_key, err, err_cap)) {
        fprintf(stderr, "ledgerd: tls: %s\n", err);
        daemon_abort(d);
        return 1;
    }
    d->api = api_start(cfg->http, d->st, d->seq, d->ob, err, err_cap);
    if (d->api == NULL) {
        fprintf(stderr, "ledgerd: http: %s\n", err);
        daemon_abort(d);
        return 1;
    }
    if (strcmp(cfg->nats, "none") != 0) {
        d->cards_nats = nats_cmd_start(cfg->nats, d->seq, err, err_cap);
        if (d->cards_nats == NULL) {
            fprintf(stderr, "ledgerd: %s\n", err);
            daemon_abort(d);
            return 1;
        }
        api_metrics_card_commands(d->api, d->cards_nats);
    }
    /* time-driven commands (hold expiry, statement seals) start once everything that answers is up */
    d->sched = scheduler_start(d->seq, d->st, LEDGER_SCHEDULER_TICK_MS, (uint8_t)cfg->statement_period, cfg->statement_tz);
    api_reads_configure(d->proj, d->clock, d->sched);
    return 0;
}

/* A fatal signal (an abort from a library that says nothing, a crash) leaves its name and the
 * stack of the thread that got it in the log, then ends the process as the signal would have:
 * the handler is reset on entry and the signal raised again. Only async-signal-safe calls, and
 * backtrace() was called once at start so that it does not load libgcc while handling. Under the
 * address and thread sanitizers only SIGABRT is taken: they report the others themselves. */
static void on_fatal_signal(int sig)
{
    static const char head[] = "ledgerd: FATAL: signal ";
    char num[4] = {(char)('0' + sig / 10 % 10), (char)('0' + sig % 10), '\n', 0};
    ssize_t w = write(STDERR_FILENO, head, sizeof head - 1);
    w += write(STDERR_FILENO, sig >= 10 ? num : num + 1, sig >= 10 ? 3 : 2);
    (void)w; /* nothing to do if the log cannot be written */
    void *frames[64];
    int n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
    raise(sig);
}

static void fatal_signals_report(void)
{
    void *warm[1];
    (void)backtrace(warm, 1);
    struct sigaction sa = {.sa_handler = on_fatal_signal, .sa_flags = SA_RESETHAND | SA_NODEFER};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, NULL);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
#endif
}

int main(int argc, char **argv)
{
    struct config cfg;
    if (parse_args(argc, argv, &cfg) != 0) {
        usage(stderr);
        return 2;
    }
    /* statement periods are local dates of this zone: set before any thread reads the time zone */
    setenv("TZ", cfg.statement_tz, 1);
    tzset();
    /* signals are taken by sigwait in this thread only; every thread started later inherits the mask */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    fatal_signals_report();

    char err[512];
    LEDGER_ASSERT(api_cards_configure(cfg.hold_expiry_days, cfg.preauth_expiry_days)); /* checked above */
    struct daemon d = {0};
    if (daemon_start_core(&d, &cfg, err, sizeof err) != 0 || daemon_start_edges(&d, &cfg, err, sizeof err) != 0)
        return 1;
    uint64_t replayed;
    double secs;
    sequencer_replay_stats(d.seq, &replayed, &secs);
    char lid[LEDGER_ID_TEXT_LEN + 1], now[API_TIME_TEXT_MAX];
    struct ledger_id id = store_ledger_id(d.st);
    ledger_id_format(&id, lid);
    api_time_format(ledger_clock_now(d.clock), now);
    char nats_shown[256];
    ledger_url_redact(cfg.nats, nats_shown, sizeof nats_shown);
    fprintf(stderr, "ledgerd: ledger %s, head seq %llu (replayed in %.3f s), nats %s\n", lid,
            (unsigned long long)replayed, secs, nats_shown);
    fprintf(stderr, "ledgerd: clock %s at %s, statements %s in %s\n",
            cfg.clock_mode == BUSINESS_CLOCK_MANUAL ? "manual" : "realtime", now,
            period_kind_name(cfg.statement_period), cfg.statement_tz);
    fprintf(stderr, "ledgerd: listening on port %u\n", api_port(d.api));

    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "ledgerd: signal %d: draining\n", sig);
    api_quiesce(d.api);
    nats_cmd_quiesce(d.cards_nats); /* NATS requests from now on: "91" */
    scheduler_stop(d.sched);
    sequencer_stop(d.seq); /* decides, commits and answers everything queued */
    usleep(200 * 1000);    /* let the HTTP threads send the last answers */
    api_stop(d.api);       /* no request can reach the projector, the clock or the NATS listener after this */
    nats_cmd_stop(d.cards_nats);
    projector_stop(d.proj);
    outbox_stop(d.ob);
    store_close(d.st);
    ledger_clock_free(d.clock);
    fprintf(stderr, "ledgerd: stopped cleanly\n");
    return 0;
}
