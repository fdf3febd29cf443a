/*
 * main.c: ledgerd, the ledger service.
 *
 *   ledgerd --data DIR --http HOST:PORT --nats URL|none [--hold-expiry-days N]
 *           [--preauth-expiry-days N]
 *   (fallbacks: LEDGER_DATA, LEDGER_HTTP, LEDGER_NATS; defaults ./data, 127.0.0.1:8080,
 *    nats://127.0.0.1:4222)
 *
 * Start-up: open the store (checks the chain head), replay the log into the sequencer's state,
 * start the outbox (NATS), the HTTP server and the card command listener (NATS request-reply,
 * ledger.cmd.card.>). SIGTERM/SIGINT: stop accepting (HTTP and NATS), let the sequencer decide and
 * commit what is queued, answer it, give the outbox a bounded time to publish, close.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
               "  --preauth-expiry-days N  the same for PRE_AUTH (1..365, default 30)\n");
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

static int parse_args(int argc, char **argv, struct config *cfg)
{
    cfg->hold_expiry_days = LEDGER_HOLD_EXPIRY_DAYS_DEFAULT;
    cfg->preauth_expiry_days = LEDGER_PREAUTH_EXPIRY_DAYS_DEFAULT;
    cfg->data = env_or("LEDGER_DATA", "./data");
    cfg->http = env_or("LEDGER_HTTP", "127.0.0.1:8080");
    cfg->nats = env_or("LEDGER_NATS", "nats://127.0.0.1:4222");
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
        if (strcmp(a, "--data") == 0)
            cfg->data = argv[++i];
        else if (strcmp(a, "--http") == 0)
            cfg->http = argv[++i];
        else if (strcmp(a, "--nats") == 0)
            cfg->nats = argv[++i];
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
    return 0;
}

static void on_commit(void *arg, uint64_t seq)
{
    outbox_notify(arg, seq);
}

int main(int argc, char **argv)
{
    struct config cfg;
    if (parse_args(argc, argv, &cfg) != 0) {
        usage(stderr);
        return 2;
    }
    /* signals are taken by sigwait in this thread only; every thread started later inherits the mask */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[512];
    LEDGER_ASSERT(api_cards_configure(cfg.hold_expiry_days, cfg.preauth_expiry_days)); /* checked above */
    struct store *st = store_open(cfg.data, false, err, sizeof err);
    if (st == NULL) {
        fprintf(stderr, "ledgerd: cannot open data directory %s: %s\n", cfg.data, err);
        return 1;
    }
    struct store_head head = store_head(st);
    struct outbox *ob = outbox_start(st, cfg.nats, head.seq, err, sizeof err);
    if (ob == NULL) {
        fprintf(stderr, "ledgerd: outbox: %s\n", err);
        store_close(st);
        return 1;
    }
    struct sequencer *seq = sequencer_start(st, on_commit, ob, err, sizeof err);
    if (seq == NULL) {
        fprintf(stderr, "ledgerd: the log does not replay: %s\nrun 'ledgerctl verify --data %s'\n", err, cfg.data);
        outbox_stop(ob);
        store_close(st);
        return 1;
    }
    struct api_server *api = api_start(cfg.http, st, seq, ob, err, sizeof err);
    if (api == NULL) {
        fprintf(stderr, "ledgerd: http: %s\n", err);
        sequencer_stop(seq);
        outbox_stop(ob);
        store_close(st);
        return 1;
    }
    struct nats_cmd *cards_nats = NULL;
    if (strcmp(cfg.nats, "none") != 0) {
        cards_nats = nats_cmd_start(cfg.nats, seq, err, sizeof err);
        if (cards_nats == NULL) {
            fprintf(stderr, "ledgerd: %s\n", err);
            api_stop(api);
            sequencer_stop(seq);
            outbox_stop(ob);
            store_close(st);
            return 1;
        }
    }
    /* time-driven commands (hold expiry) start once everything that answers is up */
    struct scheduler *sched = scheduler_start(seq, LEDGER_SCHEDULER_TICK_MS, PERIOD_MONTHLY, "Europe/Paris");
    uint64_t replayed;
    double secs;
    sequencer_replay_stats(seq, &replayed, &secs);
    char lid[LEDGER_ID_TEXT_LEN + 1];
    struct ledger_id id = store_ledger_id(st);
    ledger_id_format(&id, lid);
    fprintf(stderr, "ledgerd: ledger %s, head seq %llu (replayed in %.3f s), nats %s\n", lid,
            (unsigned long long)replayed, secs, cfg.nats);
    fprintf(stderr, "ledgerd: listening on port %u\n", api_port(api));

    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "ledgerd: signal %d: draining\n", sig);
    api_quiesce(api);
    nats_cmd_quiesce(cards_nats); /* NATS requests from now on: "91" */
    scheduler_stop(sched);
    sequencer_stop(seq); /* decides, commits and answers everything queued */
    usleep(200 * 1000);  /* let the HTTP threads send the last answers */
    nats_cmd_stop(cards_nats);
    api_stop(api);
    outbox_stop(ob);
    store_close(st);
    fprintf(stderr, "ledgerd: stopped cleanly\n");
    return 0;
}
