/*
 * internal.h: declarations shared by the files of api/ (not a public interface).
 */
#ifndef LEDGER_API_INTERNAL_H
#define LEDGER_API_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
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
};

/* A response waiting to be queued: status, body (malloc'd), content type. */
struct reply {
    int status;
    char *body;
    size_t len;
    const char *content_type;
};

struct api_server {
    struct MHD_Daemon *daemon;
    struct store *store;
    struct sequencer *seq;
    struct outbox *outbox;
    uint16_t port;
    bool ready;
    uint64_t requests_total; /* atomics */
    uint64_t responses_by_class[6]; /* 1xx..5xx */
};

struct request {
    struct api_server *srv;
    struct MHD_Connection *conn;
    enum route route;
    bool is_post;
    char url[API_URL_MAX];
    struct ledger_id path_id;
    char *body;
    size_t body_len, body_cap;
    bool too_large;
    bool submitted;
    bool completed; /* set by the sequencer's done() before resuming */
    bool answer_after_resume; /* refused at submit (busy): queue r->reply on the next call */
    struct reply reply;
    struct cmd cmd;
    struct transfer_item one; /* the item of a single transfer or deposit */
};

/* routes.c */
void route_write(struct request *r);                  /* builds r->cmd or sets r->reply */
/* The MHD-free part of route_write: parses r->body for r->route into r->cmd; false with r->reply
 * set (status, code, field) on bad input. Also the entry point of the JSON fuzz target. */
bool route_parse(struct request *r);
void route_read(struct request *r);                   /* sets r->reply */
size_t route_render(const struct cmd *c, int *status, char *out, size_t cap);
void reply_rendered(struct request *r);              /* the response of a completed write */
void reply_error(struct reply *rep, enum ledger_err err, const char *field, const char *message);
void reply_json(struct reply *rep, int status, json_t *doc); /* steals doc */
void reply_text(struct reply *rep, int status, const char *content_type, char *body, size_t len);

/* server.c */
void metrics_render(struct api_server *srv, struct reply *rep);

#endif
