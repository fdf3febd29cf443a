/*
 * internal.h: declarations shared by the files of api/ (not a public interface).
 */
#ifndef LEDGER_API_INTERNAL_H
#define LEDGER_API_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <nats/nats.h>
#include <stdbool.h>

#include "api/api.h"
#include "commands/commands.h"

#define API_URL_MAX 512

enum route {
    ROUTE_NONE = 0,
    ROUTE_ACCOUNTS_CREATE,
    ROUTE_ACCOUNTS_LIST,
    ROUTE_ACCOUNT_GET,
    ROUTE_ACCOUNT_BLOCK,
    ROUTE_ACCOUNT_UNBLOCK,
    ROUTE_ACCOUNT_CLOSE,
    ROUTE_ACCOUNT_BALANCE,
    ROUTE_DEPOSITS,
    ROUTE_TRANSFERS_CREATE,
    ROUTE_TRANSFERS_BATCH,
    ROUTE_TRANSFER_GET,
    ROUTE_EVENTS,
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
    /* cards (api/cards.c) */
    ROUTE_CARDS_ISSUE,
    ROUTE_CARD_GET,
    ROUTE_CARD_ACTIVATE,
    ROUTE_CARD_BLOCK,
    ROUTE_CARD_UNBLOCK,
    ROUTE_CARD_REPLACE,
    ROUTE_CARD_DESTROY,
    ROUTE_CARD_LIMITS,
    ROUTE_CARD_AUTHS_LIST,
    ROUTE_ACCOUNT_CARDS,
    ROUTE_CARD_AUTHORIZE,
    ROUTE_CARD_ADVICE,
    ROUTE_CARD_AUTH_GET,
    ROUTE_CARD_CAPTURE,
    ROUTE_CARD_REVERSE,
    ROUTE_CARD_REFUND,
    /* the read side and the business clock (api/reads.c) */
    ROUTE_ACCOUNT_OPERATIONS,
    ROUTE_ACCOUNT_STATEMENTS,
    ROUTE_ACCOUNT_STATEMENT_GET,
    ROUTE_STATEMENT_GET,
    ROUTE_ADMIN_CLOCK, /* GET and POST: served by reads.c, never submitted to the sequencer */
    /* access control (api/access_routes.c; POST /oauth/token: api/server.c) */
    ROUTE_OAUTH_TOKEN,
    ROUTE_CLIENTS_CREATE, /* POST /v1/clients */
    ROUTE_CLIENTS_LIST,   /* GET /v1/clients */
    ROUTE_CLIENT_REVOKE,  /* POST /v1/clients/{client_id}/revoke (path_text = client id) */
    ROUTE_TP_DECLARE,     /* POST /v1/accounts/{id}/third-parties */
    ROUTE_TP_REMOVE,      /* DELETE /v1/accounts/{id}/third-parties/{tp} (path_text = tp) */
    ROUTE_TP_ACCOUNTS,    /* GET /v1/third-parties/{tp}/accounts (path_text = tp) */
    ROUTE_AUDIT,          /* GET /v1/audit?actor=&from=&to=&after_seq=&limit= */
    ROUTE_HOLDER_ID_SET,  /* PUT /v1/holders/{holder_id}/identification (path_text = holder id) */
    ROUTE_HOLDER_ID_GET,  /* GET /v1/holders/{holder_id}/identification (path_text = holder id) */
};
#define ROUTE_LAST ROUTE_HOLDER_ID_GET

/* Access-control routes served by api/access_routes.c. */
#define ROUTE_IS_ACCESS(rt) ((rt) >= ROUTE_CLIENTS_CREATE && (rt) <= ROUTE_LAST)

/* Who is calling: set from the bearer token and the client's row (re-read on every request). */
struct principal {
    bool authenticated;
    char client_id[LEDGER_CLIENT_ID_MAX + 1];
    uint8_t role; /* enum client_role */
    char third_party_id[LEDGER_THIRD_PARTY_ID_MAX + 1]; /* "" unless role third_party */
};

/* Routes served by api/cards.c (writes and reads). */
#define ROUTE_IS_CARD(rt) ((rt) >= ROUTE_CARDS_ISSUE && (rt) <= ROUTE_CARD_REFUND)
/* Routes served by api/reads.c (POST /v1/admin/clock included: it sets the clock, no command). */
#define ROUTE_IS_READS(rt) ((rt) >= ROUTE_ACCOUNT_OPERATIONS && (rt) <= ROUTE_ADMIN_CLOCK)

/* A response waiting to be queued: status, body (malloc'd), content type. */
struct reply {
    int status;
    char *body;
    size_t len;
    const char *content_type;
    const char *www_authenticate; /* a WWW-Authenticate header (401), or NULL */
    bool no_store;                /* Cache-Control: no-store (tokens, secrets) */
};

struct api_server {
    struct MHD_Daemon *daemon;
    struct store *store;
    struct sequencer *seq;
    struct outbox *outbox;
    const struct nats_cmd *card_cmds; /* NULL: no ledger_card_command_seconds (api_metrics_card_commands) */
    uint16_t port;
    int quiesced_fd; /* the listening socket after api_quiesce, closed by api_stop; -1 before */
    bool ready;
    uint64_t requests_total; /* atomics */
    uint64_t responses_by_class[6]; /* 1xx..5xx */
};

struct request {
    struct api_server *srv;
    struct MHD_Connection *conn;
    enum route route;
    bool is_post; /* a write: POST, or PUT (is_put) */
    bool is_put;
    char url[API_URL_MAX];
    struct ledger_id path_id;
    struct ledger_id path_id2; /* /v1/accounts/{id}/statements/{path_id2} */
    char *body;
    size_t body_len, body_cap;
    bool too_large;
    bool submitted;
    bool answer_after_resume; /* refused at submit (busy): queue r->reply on the next call */
    struct reply reply;
    /* Set by the sequencer's done() before resuming, on the sequencer's thread: accessed with
     * __atomic builtins, and kept apart from the flags above (a load the compiler widens over
     * them must not take it along). */
    _Alignas(8) bool completed;
    struct cmd cmd;
    struct transfer_item one; /* the item of a single transfer or deposit */
    /* cards: the processor's authorization id from the path, and its capture/reversal/refund id
     * (the command carries only the ledger id derived from it; the answer echoes the text) */
    char auth_id[LEDGER_AUTH_ID_MAX + 1];
    char op_id[LEDGER_AUTH_ID_MAX + 1];
    bool is_delete;
    char path_text[LEDGER_HOLDER_ID_MAX + 1]; /* a client, third-party or holder id from the path */
    struct principal who;
    /* POST /v1/clients: the credential row written with client.registered, and the secret shown
     * once in the answer (never stored: that route keeps no idempotency record) */
    uint8_t credential[128];
    size_t credential_len;
    struct cmd_row credential_row;
    char client_secret[96];
};

/* Authenticates r from its bearer token and the client's row (re-read every time): true with
 * r->who set; false with a 401 reply. */
bool api_authenticate(struct request *r);
/* POST /oauth/token (no token needed): sets r->reply. */
void api_oauth_token(struct request *r);

/* permissions.c: the roles x permissions table of docs/SECURITY.md. Called once the request is
 * authenticated (r->who) and, for writes, once the body is parsed into r->cmd (the table looks at
 * accounts, reasons and kinds in it). true when allowed; false with r->reply set: 404 with the
 * route's usual not-found code when a third party asks about an account it is not declared on (or
 * a card, hold, transfer or statement of such an account), 403 FORBIDDEN otherwise. Reads RocksDB
 * rows (proj_third_parties, proj_cards, proj_auths, the log) on every call: a removal or a
 * revocation takes effect at the next request. */
bool access_check(struct request *r);
/* The part of access_check() that needs no body: a role the route refuses outright gets its 403
 * before the body is validated (docs/SECURITY.md: role before validation). true otherwise. */
bool access_check_role(struct request *r);

/* access_routes.c: the access-control routes. Reads (GET /v1/clients, third-party accounts, audit)
 * set r->reply; writes build r->cmd (client register/revoke, third party declare/remove) like
 * route_write, or set r->reply on bad input. */
void access_route_read(struct request *r);
void access_route_write(struct request *r);
size_t access_route_render(const struct cmd *c, int *status, char *out, size_t cap);

/* routes.c */
void route_write(struct request *r);                  /* builds r->cmd or sets r->reply */
/* The MHD-free part of route_write: parses r->body for r->route into r->cmd; false with r->reply
 * set (status, code, field) on bad input. Also the entry point of the JSON fuzz target. */
bool route_parse(struct request *r);
void route_read(struct request *r);                   /* sets r->reply */
/* An unsigned query argument in [min, max] (dflt when absent); false with a 422 reply otherwise. */
bool api_query_u64(struct request *r, const char *name, uint64_t dflt, uint64_t min, uint64_t max, uint64_t *out);
size_t route_render(const struct cmd *c, int *status, char *out, size_t cap);
void reply_rendered(struct request *r);              /* the response of a completed write */
void reply_error(struct reply *rep, enum ledger_err err, const char *field, const char *message);
void reply_json(struct reply *rep, int status, json_t *doc); /* steals doc */
/* Shared JSON pieces (routes.c): the error document {"error": {code, message, field}} (message
 * NULL: the code's own), an id as UUID text, "" as null, a query argument ("" as absent), and a
 * document dumped compactly into out (stolen; 0 when cap is too small). */
json_t *api_error_doc(enum ledger_err err, const char *field, const char *message);
json_t *api_id_json(const struct ledger_id *id);
json_t *api_str_or_null(const char *s);
const char *api_query_arg(struct request *r, const char *name);
size_t api_doc_dump(json_t *doc, char *out, size_t cap);
struct store_iter;
/* Frees it. When one of its reads failed, answers 500 IO, decrefs drop1 and drop2 (either may be
 * NULL) and returns false: a page cut short by an I/O error must never look complete. */
bool api_iter_close(struct request *r, struct store_iter *it, json_t *drop1, json_t *drop2);
/* RFC 3339 UTC with nanoseconds (api_time_format) as a JSON string. */
json_t *api_time_json(int64_t ts_ns);
void reply_text(struct reply *rep, int status, const char *content_type, char *body, size_t len);

/* cards.c: the card routes (docs/CARDS.md). */
#define API_CARDS_PAGE_MAX 1000 /* GET /v1/accounts/{id}/cards, /v1/cards/{id}/authorizations ?limit= */

/* A processor id (authorization, capture, reversal, refund): 1..64 of [A-Za-z0-9._:-]. */
bool card_proc_id_valid(const char *s, size_t n);
/* Parses r->body for a card write route into r->cmd; false with r->reply set on bad input. */
bool card_route_parse(struct request *r);
/* Serves a card read route into r->reply. */
void card_route_read(struct request *r);
/* The answer of a completed card command: *status and the JSON document (caller decrefs). op_id
 * is the processor's capture/reversal/refund id to echo ("" when none). Any thread. */
json_t *card_result_doc(const struct cmd *c, const char *op_id, int *status);
/* The answer when an authorization or advice cannot be submitted (busy, shutting down):
 * 503 with a declined "91" body. */
void card_reply_unavailable(struct request *r, enum ledger_err err);

/* The processor's JSON (shared by HTTP and the NATS listener). Each fills c from doc (the
 * authorization id of capture/reverse from auth_id when not NULL, else from the body) and returns
 * LEDGER_ERR_OK, or the validation error with *field (static or in field_buf). op_id receives the
 * capture/reversal/refund id text (LEDGER_AUTH_ID_MAX + 1 bytes). Any thread. */
enum card_verb { CARD_VERB_AUTHORIZE = 1, CARD_VERB_ADVICE, CARD_VERB_CAPTURE, CARD_VERB_REVERSE, CARD_VERB_REFUND };
enum ledger_err card_parse_verb(json_t *doc, enum card_verb verb, const char *auth_id, struct cmd *c,
                                char *op_id, const char **field);
/* The authorization answer {"authorization_id","result","response_code","approval_code",
 * "approved_amount","available","seq"} of a completed CMD_CARD_AUTHORIZE; when err is not OK (the
 * command was refused before a decision, or never reached decide), a declined answer with the
 * response code err maps to and an "error" object. Returns the length written, 0 if cap is short. */
size_t card_auth_reply_render(const struct cmd *c, enum ledger_err err, const char *field, char *out,
                              size_t cap);
/* The NATS reply to a card command (verb: enum card_verb, 0 for an unknown subject). With err OK,
 * the answer of the completed command c: authorize/advice as card_auth_reply_render(), the others
 * the HTTP answer plus "result": "accepted"|"rejected" (and "response_code" when rejected). With
 * err set, the refusal before decide (bad input "12"/"13", busy "91") with an "error" object.
 * Returns the length written into out, 0 if cap is short. Any thread. */
size_t card_nats_reply_render(const struct cmd *c, int verb, const char *op_id, enum ledger_err err,
                              const char *field, char *out, size_t cap);
/* nats_loop.c: an epoll thread owning one nats.c connection's socket (nats.c's external event
 * loop), so a commit's replies leave in one write instead of one send() each. Start it before
 * natsConnection_Connect() with nats_loop_options() on the connection's options; stop it after
 * natsConnection_Close() and before natsConnection_Destroy(). NULL + reason on failure. */
struct nats_loop;
struct nats_loop *nats_loop_start(const char *thread_name, char *err, size_t err_cap);
natsStatus nats_loop_options(struct nats_loop *lp, natsOptions *opts);
/* fn(arg) runs on the loop thread after each read event (the messages it parsed are queued on
 * their subscriptions). Before connecting. */
void nats_loop_after_read(struct nats_loop *lp, void (*fn)(void *arg), void *arg);
void nats_loop_stop(struct nats_loop *lp);

/* The ISO 8583 response code an error maps to ("12" invalid transaction, "13" invalid amount,
 * "14" no such card, "91" issuer inoperative, "96" system error, ...). Static string. */
const char *card_err_response_code(enum ledger_err err);
/* The hold lifetime for a category (enum auth_category), from api_cards_configure(). */
int64_t card_hold_ttl_ns(uint8_t category);

/* reads.c: the read side (docs/API.md "Read side", docs/STATEMENTS.md) and the business clock. */
#define API_OPERATIONS_PAGE_DEFAULT 50
#define API_OPERATIONS_PAGE_MAX 500          /* GET /v1/accounts/{id}/operations ?limit= */
#define API_MIN_SEQ_WAIT_MS 2000             /* ?min_seq= waits at most this long: 503 after */
#define API_STATEMENTS_PER_ACCOUNT_MAX 100000 /* GET /v1/accounts/{id}/statements (about 270 years daily) */
#define API_STATEMENT_ENTRIES_MAX (1u << 20) /* entries one statement download renders */
_Static_assert(API_OPERATIONS_PAGE_DEFAULT <= API_OPERATIONS_PAGE_MAX, "the default page fits the max");

/* Serves a route of ROUTE_IS_READS (GET, and POST /v1/admin/clock) into r->reply. */
void reads_route_read(struct request *r);
/* GET /v1/accounts/{id}/balance: handles ?min_seq= and ?at=; returns true when it set r->reply
 * (an answer at an instant, or an error), false when routes.c answers with the inline balance. */
bool reads_balance(struct request *r);

/* server.c */
void metrics_render(struct api_server *srv, struct reply *rep);

/* permissions.c: whether the caller may see account in a list (GET /v1/accounts?holder_id=): true
 * for the roles the table lets list accounts; for a third party, only the accounts it is declared
 * on with the right view (reads its proj_third_parties row). List routes call it per account. */
bool access_account_visible(struct request *r, const struct ledger_id *account);

/* access_routes.c: the answer of a completed access command (client register/revoke, third party
 * declare/remove) into r->reply: access_route_render() of r->cmd, with r->client_secret for a
 * registration. */
void access_reply_rendered(struct request *r);

#endif
