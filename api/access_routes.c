/*
 * access_routes.c: the access-control routes of docs/SECURITY.md.
 *
 *   POST   /v1/clients                          {name, role, third_party_id?} -> 201 client + secret
 *   GET    /v1/clients?cursor=&limit=           the clients (never a secret or credential)
 *   POST   /v1/clients/{id}/revoke              -> 200 client
 *   POST   /v1/accounts/{id}/third-parties      {third_party_id, rights} -> 201
 *   DELETE /v1/accounts/{id}/third-parties/{tp} -> 200 {"removed": true}
 *   GET    /v1/third-parties/{tp}/accounts?cursor=&limit=
 *   GET    /v1/audit?actor=&from=&to=&after_seq=&limit=
 *
 * Writes build the command (decide_access.c decides every business rule); a registration's secret
 * is generated here, shown once in the answer and never stored: only its credential, written in
 * the batch of the client.registered event (cmd.rows), and the route keeps no idempotency record.
 * Reads come from the proj_clients / proj_third_parties rows and from the log.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/auth.h"
#include "api/internal.h"
#include "store/store.h"

#define ACCESS_PAGE_DEFAULT 100
#define ACCESS_PAGE_MAX 1000
#define AUDIT_PAGE_DEFAULT 100
#define AUDIT_PAGE_MAX 1000
#define AUDIT_SCAN_MAX 100000 /* events one GET /v1/audit looks at; the caller continues from next_after_seq */

/* ---- shared helpers --------------------------------------------------------------------------- */

/* The rights bits as names, in the order of the table (view, initiate_transfers, manage_cards). */
static json_t *rights_json(uint8_t rights)
{
    json_t *a = json_array();
    for (unsigned bit = TP_RIGHT_VIEW; bit <= TP_RIGHT_MANAGE_CARDS; bit <<= 1)
        if (rights & bit)
            json_array_append_new(a, json_string(tp_right_name((enum tp_right)bit)));
    return a;
}

static json_t *client_doc(const struct client *c, bool revoked)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:s}", "client_id", c->id, "name", c->name, "role",
                     client_role_name((enum client_role)c->role), "third_party_id", api_str_or_null(c->third_party_id),
                     "state", revoked ? "revoked" : "active");
}

/* ---- writes ----------------------------------------------------------------------------------- */

/* A string member: "" when absent or null; false with the error (422) otherwise. */
static bool body_string(json_t *doc, const char *key, size_t max, char *out, size_t cap, enum ledger_err *err)
{
    json_t *v = json_object_get(doc, key);
    out[0] = '\0';
    if (v == NULL || json_is_null(v))
        return true;
    if (!json_is_string(v))
        return *err = LEDGER_ERR_FIELD_INVALID, false;
    size_t n = json_string_length(v);
    if (n > max || n >= cap)
        return *err = LEDGER_ERR_FIELD_TOO_LONG, false;
    if (memchr(json_string_value(v), '\0', n) != NULL)
        return *err = LEDGER_ERR_FIELD_INVALID, false;
    memcpy(out, json_string_value(v), n + 1);
    return true;
}

/* Parses the body as a JSON object; NULL with r->reply set (400) otherwise. */
static json_t *parse_body(struct request *r)
{
    json_error_t je;
    json_t *doc = json_loadb(r->body ? r->body : "", r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL || !json_is_object(doc)) {
        json_decref(doc);
        reply_error(&r->reply, LEDGER_ERR_MALFORMED_JSON, NULL,
                    doc == NULL ? "the body is not valid JSON" : "the body must be a JSON object");
        return NULL;
    }
    return doc;
}

/* POST /v1/clients: a new id and secret; the secret's credential rides with the event (cmd.rows). */
static bool build_register(struct request *r, json_t *doc, const char **field, enum ledger_err *err)
{
    struct cmd_client_register *c = &r->cmd.u.client_register;
    char role[32];
    enum client_role rl;
    r->cmd.type = CMD_CLIENT_REGISTER;
    if (!body_string(doc, "name", LEDGER_CLIENT_NAME_MAX, c->name, sizeof c->name, err))
        return *field = "name", false;
    if (c->name[0] == '\0')
        return *field = "name", *err = LEDGER_ERR_FIELD_MISSING, false;
    if (!body_string(doc, "role", sizeof role - 1, role, sizeof role, err))
        return *field = "role", *err = *err == LEDGER_ERR_FIELD_TOO_LONG ? LEDGER_ERR_ROLE_UNKNOWN : *err, false;
    if (role[0] == '\0')
        return *field = "role", *err = LEDGER_ERR_FIELD_MISSING, false;
    if (!client_role_parse(role, &rl))
        return *field = "role", *err = LEDGER_ERR_ROLE_UNKNOWN, false;
    c->role = (uint8_t)rl;
    *field = "third_party_id";
    if (!body_string(doc, "third_party_id", LEDGER_THIRD_PARTY_ID_MAX, c->third_party_id, sizeof c->third_party_id,
                     err))
        return false;
    bool has_tp = c->third_party_id[0] != '\0';
    if (rl == ROLE_THIRD_PARTY && !has_tp)
        return *err = LEDGER_ERR_THIRD_PARTY_ID_REQUIRED, false;
    if (has_tp && (rl != ROLE_THIRD_PARTY || !access_id_valid(c->third_party_id, LEDGER_THIRD_PARTY_ID_MAX)))
        return *err = LEDGER_ERR_FIELD_INVALID, false;
    *field = NULL;
    *err = LEDGER_ERR_INTERNAL;
    if (!auth_client_id_new(c->client_id) || !auth_secret_new(r->client_secret) ||
        !auth_credential_new(r->client_secret, strlen(r->client_secret), AUTH_PBKDF2_ITERATIONS, r->credential))
        return false;
    r->credential_len = AUTH_CREDENTIAL_BYTES;
    r->credential_row = (struct cmd_row){.cf = STORE_CF_CREDENTIALS, .key = c->client_id,
                                         .klen = strlen(c->client_id), .val = r->credential,
                                         .vlen = r->credential_len};
    r->cmd.rows = &r->credential_row;
    r->cmd.rows_n = 1;
    return true;
}

/* The rights array: a non-empty set of known names, each once. */
static bool parse_rights(json_t *doc, uint8_t *rights, const char **field, enum ledger_err *err)
{
    static _Thread_local char fbuf[32];
    json_t *a = json_object_get(doc, "rights");
    *field = "rights";
    *rights = 0;
    if (a == NULL || json_is_null(a))
        return *err = LEDGER_ERR_FIELD_MISSING, false;
    if (!json_is_array(a))
        return *err = LEDGER_ERR_FIELD_INVALID, false;
    if (json_array_size(a) == 0)
        return *err = LEDGER_ERR_RIGHTS_EMPTY, false;
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *v = json_array_get(a, i);
        enum tp_right bit;
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
            !tp_right_parse(json_string_value(v), &bit) || (*rights & bit) != 0) {
            snprintf(fbuf, sizeof fbuf, "rights[%zu]", i);
            *field = fbuf;
            return *err = LEDGER_ERR_FIELD_INVALID, false;
        }
        *rights |= (uint8_t)bit;
    }
    return true;
}

static bool build_declare(struct request *r, json_t *doc, const char **field, enum ledger_err *err)
{
    struct cmd_third_party *t = &r->cmd.u.third_party;
    r->cmd.type = CMD_THIRD_PARTY_DECLARE;
    t->account_id = r->path_id;
    *field = "third_party_id";
    if (!body_string(doc, "third_party_id", LEDGER_THIRD_PARTY_ID_MAX, t->third_party_id, sizeof t->third_party_id,
                     err))
        return false;
    if (t->third_party_id[0] == '\0')
        return *err = LEDGER_ERR_THIRD_PARTY_ID_REQUIRED, false;
    if (!access_id_valid(t->third_party_id, LEDGER_THIRD_PARTY_ID_MAX))
        return *err = LEDGER_ERR_FIELD_INVALID, false;
    return parse_rights(doc, &t->rights, field, err);
}

/* "<client id>:<role>" (docs/SECURITY.md), at most LEDGER_ACTOR_MAX bytes. */
static void set_actor(struct request *r)
{
    snprintf(r->cmd.actor, sizeof r->cmd.actor, "%s:%s", r->who.client_id,
             client_role_name((enum client_role)r->who.role));
}

/* Idempotency-Key (revoke, declare, remove, identification): scoped by the calling client, hash of the request. */
static bool set_idempotency(struct request *r, const char *method)
{
    const char *key = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Idempotency-Key");
    if (key == NULL)
        return true;
    size_t n = strlen(key), cn = strnlen(r->who.client_id, LEDGER_CLIENT_ID_MAX);
    if (n == 0 || n > LEDGER_IDEMPOTENCY_KEY_MAX) {
        reply_error(&r->reply, LEDGER_ERR_FIELD_INVALID, "Idempotency-Key", NULL);
        return false;
    }
    memcpy(r->cmd.idem_key, r->who.client_id, cn);
    r->cmd.idem_key[cn] = 0;
    memcpy(r->cmd.idem_key + cn + 1, key, n);
    r->cmd.idem_key_len = cn + 1 + n;
    r->cmd.has_idempotency = true;
    char head[API_URL_MAX + 16];
    int hn = snprintf(head, sizeof head, "%s %s\n", method, r->url);
    ledger_sha256_2(head, (size_t)hn, r->body ? r->body : "", r->body_len, r->cmd.request_hash);
    return true;
}

static bool content_type_ok(struct request *r)
{
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    return ct == NULL || strncasecmp(ct, "application/json", 16) == 0;
}

/* PUT /v1/holders/{holder_id}/identification {"status": "identified" | "unidentified"}. */
static bool build_identify(struct request *r, json_t *doc, const char **field, enum ledger_err *err)
{
    struct cmd_holder_identify *h = &r->cmd.u.holder_identify;
    char status[16];
    r->cmd.type = CMD_HOLDER_IDENTIFY;
    snprintf(h->holder_id, sizeof h->holder_id, "%s", r->path_text);
    *field = "status";
    if (!body_string(doc, "status", sizeof status - 1, status, sizeof status, err))
        return *err = *err == LEDGER_ERR_FIELD_TOO_LONG ? LEDGER_ERR_FIELD_INVALID : *err, false;
    if (status[0] == '\0')
        return *err = LEDGER_ERR_FIELD_MISSING, false;
    if (strcmp(status, "identified") != 0 && strcmp(status, "unidentified") != 0)
        return *err = LEDGER_ERR_FIELD_INVALID, false;
    h->identified = strcmp(status, "identified") == 0;
    if (strcmp(h->holder_id, LEDGER_INTERNAL_HOLDER) == 0)
        return *field = "holder_id", *err = LEDGER_ERR_FIELD_INVALID, false; /* the ledger's own */
    return true;
}

void access_route_write(struct request *r)
{
    bool has_body = r->route == ROUTE_CLIENTS_CREATE || r->route == ROUTE_TP_DECLARE || r->route == ROUTE_HOLDER_ID_SET;
    if (has_body && !content_type_ok(r))
        return reply_error(&r->reply, LEDGER_ERR_UNSUPPORTED_MEDIA_TYPE, "Content-Type", NULL);
    r->cmd.cmd_id = ledger_id_new_v7();
    r->cmd.has_idempotency = false;
    set_actor(r);
    const char *field = NULL;
    enum ledger_err err = LEDGER_ERR_OK;
    bool ok = true;
    switch (r->route) {
    case ROUTE_CLIENTS_CREATE:
    case ROUTE_TP_DECLARE:
    case ROUTE_HOLDER_ID_SET: {
        json_t *doc = parse_body(r);
        if (doc == NULL)
            return;
        ok = r->route == ROUTE_CLIENTS_CREATE ? build_register(r, doc, &field, &err)
             : r->route == ROUTE_TP_DECLARE   ? build_declare(r, doc, &field, &err)
                                              : build_identify(r, doc, &field, &err);
        json_decref(doc);
        break;
    }
    case ROUTE_CLIENT_REVOKE:
        r->cmd.type = CMD_CLIENT_REVOKE;
        snprintf(r->cmd.u.client_revoke.client_id, sizeof r->cmd.u.client_revoke.client_id, "%s", r->path_text);
        if (!access_id_valid(r->path_text, LEDGER_CLIENT_ID_MAX))
            ok = false, err = LEDGER_ERR_CLIENT_NOT_FOUND, field = "client_id";
        break;
    case ROUTE_TP_REMOVE:
        r->cmd.type = CMD_THIRD_PARTY_REMOVE;
        r->cmd.u.third_party.account_id = r->path_id;
        snprintf(r->cmd.u.third_party.third_party_id, sizeof r->cmd.u.third_party.third_party_id, "%s",
                 r->path_text);
        if (!access_id_valid(r->path_text, LEDGER_THIRD_PARTY_ID_MAX))
            ok = false, err = LEDGER_ERR_THIRD_PARTY_NOT_DECLARED, field = "third_party_id";
        break;
    default: return reply_error(&r->reply, LEDGER_ERR_NOT_FOUND, NULL, NULL);
    }
    if (!ok)
        return reply_error(&r->reply, err, field, NULL);
    if (r->route != ROUTE_CLIENTS_CREATE) /* a registration's answer holds the secret: never stored */
        set_idempotency(r, r->is_delete ? "DELETE" : r->is_put ? "PUT" : "POST");
}

/* ---- rendering -------------------------------------------------------------------------------- */

/* The revoked client: its row (name, role and third party never change) with state revoked. */
static json_t *revoked_doc(const struct request *r, const struct cmd *c)
{
    struct client cl;
    if (r != NULL && access_store_client(r->srv->store, c->u.client_revoke.client_id, &cl) == LEDGER_ERR_OK)
        return client_doc(&cl, true);
    return json_pack("{s:s, s:s}", "client_id", c->u.client_revoke.client_id, "state", "revoked");
}

static json_t *access_result_doc(const struct cmd *c, int *status)
{
    const struct request *r = c->ctx;
    if (c->result != LEDGER_ERR_OK) {
        *status = ledger_err_http_status(c->result);
        return api_error_doc(c->result, c->field, NULL);
    }
    const struct cmd_client_register *reg = &c->u.client_register;
    const struct cmd_third_party *t = &c->u.third_party;
    json_t *doc = NULL;
    *status = 200;
    switch (c->type) {
    case CMD_CLIENT_REGISTER:
        *status = 201;
        doc = json_pack("{s:s, s:s, s:s, s:s, s:o}", "client_id", reg->client_id, "client_secret",
                        /* never rendered into a stored (idempotent) answer */
                        r != NULL && !c->has_idempotency ? r->client_secret : "", "name", reg->name, "role",
                        client_role_name((enum client_role)reg->role), "third_party_id",
                        api_str_or_null(reg->third_party_id));
        break;
    case CMD_CLIENT_REVOKE: doc = revoked_doc(r, c); break;
    case CMD_THIRD_PARTY_DECLARE:
        *status = 201;
        doc = json_pack("{s:o, s:s, s:o, s:I}", "account_id", api_id_json(&t->account_id), "third_party_id",
                        t->third_party_id, "rights", rights_json(t->rights), "seq", (json_int_t)t->seq);
        break;
    case CMD_THIRD_PARTY_REMOVE:
        doc = json_pack("{s:o, s:s, s:b, s:I}", "account_id", api_id_json(&t->account_id), "third_party_id",
                        t->third_party_id, "removed", 1, "seq", (json_int_t)t->seq);
        break;
    case CMD_HOLDER_IDENTIFY:
        doc = json_pack("{s:s, s:s}", "holder_id", c->u.holder_identify.holder_id, "status",
                        c->u.holder_identify.identified ? "identified" : "unidentified");
        break;
    default: *status = 500; return api_error_doc(LEDGER_ERR_INTERNAL, NULL, NULL);
    }
    if (json_object_get(doc, "seq") == NULL)
        json_object_set_new(doc, "seq", json_integer((json_int_t)c->seq));
    return doc;
}

size_t access_route_render(const struct cmd *c, int *status, char *out, size_t cap)
{
    return api_doc_dump(access_result_doc(c, status), out, cap);
}

void access_reply_rendered(struct request *r)
{
    int status = 0;
    json_t *doc = access_result_doc(&r->cmd, &status);
    reply_json(&r->reply, status, doc);
}

/* ---- reads ------------------------------------------------------------------------------------ */

/* GET /v1/clients?cursor=<client id>&limit=: in client id order; never a secret or credential. */
static void read_clients(struct request *r)
{
    const char *cursor = api_query_arg(r, "cursor");
    uint64_t limit;
    if (cursor != NULL && !access_id_valid(cursor, LEDGER_CLIENT_ID_MAX))
        return reply_error(&r->reply, LEDGER_ERR_FIELD_INVALID, "cursor", NULL);
    if (!api_query_u64(r, "limit", ACCESS_PAGE_DEFAULT, 1, ACCESS_PAGE_MAX, &limit))
        return;
    static const uint8_t none[1] = {0};
    struct store_iter *it = cursor != NULL ? store_iter_from(r->srv->store, STORE_CF_PROJ_CLIENTS, none, 0, cursor,
                                                             strlen(cursor))
                                           : store_iter_prefix(r->srv->store, STORE_CF_PROJ_CLIENTS, none, 0);
    const uint8_t *k, *v;
    size_t kl, vl;
    json_t *list = json_array(), *next = json_null();
    struct client cl, prev;
    prev.id[0] = '\0';
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        if (cursor != NULL && kl == strlen(cursor) && memcmp(k, cursor, kl) == 0)
            continue;
        if (!client_row_decode(v, vl, &cl))
            continue;
        if (json_array_size(list) == limit) {
            json_decref(next);
            next = json_string(prev.id);
            break;
        }
        json_array_append_new(list, client_doc(&cl, cl.revoked));
        prev = cl;
    }
    if (!api_iter_close(r, it, list, next))
        return;
    reply_json(&r->reply, 200, json_pack("{s:o, s:o}", "clients", list, "next_cursor", next));
}

/* GET /v1/third-parties/{tp}/accounts?cursor=<account id>&limit=: the "t" keys of proj_third_parties. */
static void read_tp_accounts(struct request *r)
{
    const char *tp = r->path_text, *cursor = api_query_arg(r, "cursor");
    struct ledger_id after;
    uint64_t limit;
    if (!access_id_valid(tp, LEDGER_THIRD_PARTY_ID_MAX))
        return reply_error(&r->reply, LEDGER_ERR_NOT_FOUND, "third_party_id", NULL);
    if (cursor != NULL && !ledger_id_parse(cursor, strlen(cursor), &after))
        return reply_error(&r->reply, LEDGER_ERR_FIELD_INVALID, "cursor", NULL);
    if (!api_query_u64(r, "limit", ACCESS_PAGE_DEFAULT, 1, ACCESS_PAGE_MAX, &limit))
        return;
    uint8_t prefix[TP_KEY_MAX], from[TP_KEY_MAX];
    size_t plen = tp_key(tp, NULL, prefix);
    size_t flen = cursor != NULL ? tp_key(tp, &after, from) : plen;
    struct store_iter *it = store_iter_from(r->srv->store, STORE_CF_PROJ_THIRD_PARTIES, prefix, plen,
                                            cursor != NULL ? from : prefix, flen);
    const uint8_t *k, *v;
    size_t kl, vl;
    json_t *list = json_array(), *next = json_null();
    struct ledger_id prev = {{0}};
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        struct ledger_id account;
        struct tp_grant g;
        if (kl != plen + 16 || !tp_key_account(k, kl, &account) || !tp_row_decode(v, vl, &g))
            continue;
        if (cursor != NULL && ledger_id_equal(&account, &after))
            continue;
        if (json_array_size(list) == limit) {
            json_decref(next);
            next = api_id_json(&prev);
            break;
        }
        json_array_append_new(list, json_pack("{s:o, s:o}", "account_id", api_id_json(&account), "rights",
                                               rights_json(g.rights)));
        prev = account;
    }
    if (!api_iter_close(r, it, list, next))
        return;
    reply_json(&r->reply, 200,
               json_pack("{s:s, s:o, s:o}", "third_party_id", tp, "accounts", list, "next_cursor", next));
}

struct audit_query {
    const char *actor; /* NULL: every actor */
    size_t actor_len;
    int64_t from_ns, to_ns; /* [from, to) */
    uint64_t after_seq, limit;
};

/* An event's actor matches: equal, or the query followed by ':' ("cli_x" matches "cli_x:admin",
 * not "cli_xy:admin"). */
static bool actor_matches(const struct audit_query *q, const char *actor)
{
    if (q->actor == NULL)
        return true;
    if (strncmp(actor, q->actor, q->actor_len) != 0)
        return false;
    char next = actor[q->actor_len];
    return next == '\0' || next == ':' || q->actor[q->actor_len - 1] == ':';
}

static bool audit_args(struct request *r, struct audit_query *q)
{
    const char *from = api_query_arg(r, "from"), *to = api_query_arg(r, "to");
    q->actor = api_query_arg(r, "actor");
    q->actor_len = q->actor != NULL ? strlen(q->actor) : 0;
    q->from_ns = 0;
    q->to_ns = INT64_MAX;
    if (q->actor_len > LEDGER_ACTOR_MAX)
        return reply_error(&r->reply, LEDGER_ERR_FIELD_TOO_LONG, "actor", NULL), false;
    if (from != NULL && !api_time_parse(from, &q->from_ns))
        return reply_error(&r->reply, LEDGER_ERR_FIELD_INVALID, "from",
                           "not an RFC 3339 date-time (2026-11-20T10:00:00Z)"),
               false;
    if (to != NULL && !api_time_parse(to, &q->to_ns))
        return reply_error(&r->reply, LEDGER_ERR_FIELD_INVALID, "to", "not an RFC 3339 date-time (2026-11-20T10:00:00Z)"),
               false;
    if (q->to_ns <= q->from_ns)
        return reply_error(&r->reply, LEDGER_ERR_FIELD_INVALID, "to", "to must be after from"), false;
    return api_query_u64(r, "after_seq", 0, 0, UINT64_MAX - 1, &q->after_seq) &&
           api_query_u64(r, "limit", AUDIT_PAGE_DEFAULT, 1, AUDIT_PAGE_MAX, &q->limit);
}

/* GET /v1/audit: the log from after_seq, events of the actor in [from, to); at most limit results
 * and AUDIT_SCAN_MAX events looked at; next_after_seq = the last event looked at. */
static void read_audit(struct request *r)
{
    struct audit_query q;
    if (!audit_args(r, &q))
        return;
    char *buf = NULL, *json = malloc(LEDGER_EVENT_JSON_MAX);
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    LEDGER_ASSERT(f != NULL && json != NULL);
    fputs("{\"events\":[", f);
    struct store_iter *it = store_iter_events(r->srv->store, q.after_seq + 1);
    const uint8_t *k, *v;
    size_t kl, vl;
    uint64_t found = 0, scanned = 0, last = q.after_seq;
    enum ledger_err err = LEDGER_ERR_OK;
    struct event ev;
    while (found < q.limit && scanned < AUDIT_SCAN_MAX && store_iter_next(it, &k, &kl, &v, &vl)) {
        if (event_decode(v, vl, &ev) != LEDGER_ERR_OK) {
            err = LEDGER_ERR_DECODE;
            break;
        }
        scanned++;
        last = ev.seq;
        if (ev.ts_ns < q.from_ns || ev.ts_ns >= q.to_ns || !actor_matches(&q, ev.actor))
            continue;
        if (event_to_json(&ev, json, LEDGER_EVENT_JSON_MAX) == 0) {
            err = LEDGER_ERR_INTERNAL;
            break;
        }
        fprintf(f, "%s%s", found ? "," : "", json);
        found++;
    }
    if (err == LEDGER_ERR_OK && store_iter_failed(it))
        err = LEDGER_ERR_IO;
    store_iter_free(it);
    free(json);
    fprintf(f, "],\"next_after_seq\":%" PRIu64 "}", last);
    fclose(f);
    if (err != LEDGER_ERR_OK) {
        free(buf);
        return reply_error(&r->reply, err, NULL, NULL);
    }
    reply_text(&r->reply, 200, "application/json", buf, blen);
}

/* GET /v1/holders/{holder_id}/identification: "unidentified" (seq and updated_at null) until
 * compliance has said otherwise. */
static void read_identification(struct request *r)
{
    char *val = NULL;
    size_t vlen = 0;
    struct holder_identification h;
    enum ledger_err err = store_get(r->srv->store, STORE_CF_PROJ_KYC, r->path_text, strlen(r->path_text), &val, &vlen);
    if (err == LEDGER_ERR_OK && !holder_row_decode(val, vlen, &h))
        err = LEDGER_ERR_DECODE;
    free(val);
    if (err == LEDGER_ERR_NOT_FOUND) {
        return reply_json(&r->reply, 200,
                          json_pack("{s:s, s:s, s:n, s:n}", "holder_id", r->path_text, "status", "unidentified",
                                    "seq", "updated_at"));
    }
    if (err != LEDGER_ERR_OK)
        return reply_error(&r->reply, err, NULL, NULL);
    reply_json(&r->reply, 200,
               json_pack("{s:s, s:s, s:I, s:o}", "holder_id", h.holder_id, "status",
                         h.identified ? "identified" : "unidentified", "seq", (json_int_t)h.seq, "updated_at",
                         api_time_json(h.ts_ns)));
}

void access_route_read(struct request *r)
{
    switch (r->route) {
    case ROUTE_CLIENTS_LIST: return read_clients(r);
    case ROUTE_TP_ACCOUNTS: return read_tp_accounts(r);
    case ROUTE_AUDIT: return read_audit(r);
    case ROUTE_HOLDER_ID_GET: return read_identification(r);
    default: return reply_error(&r->reply, LEDGER_ERR_NOT_FOUND, NULL, NULL);
    }
}
