/*
 * nats_loop.c: one epoll thread that drives the socket of one nats.c connection, through nats.c's
 * external event loop (natsOptions_SetEventLoop).
 *
 * Why: with its own read thread and SendAsap, nats.c writes every publish with its own send(); a
 * commit that answers twenty card authorizations made twenty system calls and twenty TCP
 * segments for nats-server to read. With an event loop, a publish only appends to the
 * connection's buffer and asks for write readiness once (nats.c's el.writeAdded); this thread then
 * writes everything buffered so far in one go. Reads: this thread reads and parses, then calls
 * the owner's after_read, which takes what arrived for a synchronous subscription on this same
 * thread (no hand-off to a delivery thread).
 *
 * nats.c calls the callbacks below from any thread (the committer publishing, this thread inside
 * ProcessRead/WriteEvent, its reconnect thread), always holding the connection's lock; they only
 * record the interest and tell epoll, under lp->mu. Lock order: connection, then lp->mu; this
 * thread never calls into nats.c while holding lp->mu.
 *
 * Lifetime: nats_loop_start() before natsConnection_Connect(); attach comes with every
 * (re)connect, detach once the connection is closed. nats_loop_stop() after natsConnection_Close()
 * and before natsConnection_Destroy(): it joins the thread, so nothing touches the connection
 * afterwards.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "api/internal.h"

#define NATS_LOOP_EVENTS_MAX 4

struct nats_loop {
    int ep;   /* epoll: the connection's socket and wake */
    int wake; /* eventfd: nats_loop_stop */
    pthread_t thread;
    char name[16];
    pthread_mutex_t mu; /* guards the fields below */
    natsConnection *nc; /* NULL while detached */
    int fd;             /* the socket being polled; -1 when none */
    uint32_t events;    /* EPOLLIN / EPOLLOUT wanted by nats.c */
    bool stop;
    void (*after_read)(void *arg); /* set before connecting (nats_loop_after_read) */
    void *after_read_arg;
};

/* Applies lp->events to the socket; with lp->mu held. An error is nats.c's to handle (it then
 * treats the connection as broken and reconnects). */
static natsStatus loop_update(struct nats_loop *lp, int op)
{
    struct epoll_event ev = {.events = lp->events, .data.fd = lp->fd};
    if (epoll_ctl(lp->ep, op, lp->fd, &ev) == 0)
        return NATS_OK;
    if (op == EPOLL_CTL_ADD && errno == EEXIST && epoll_ctl(lp->ep, EPOLL_CTL_MOD, lp->fd, &ev) == 0)
        return NATS_OK;
    return NATS_ERR;
}

static natsStatus loop_attach(void **user, void *loop, natsConnection *nc, natsSock sock)
{
    struct nats_loop *lp = loop;
    pthread_mutex_lock(&lp->mu);
    if (lp->fd >= 0 && lp->fd != (int)sock)
        epoll_ctl(lp->ep, EPOLL_CTL_DEL, lp->fd, NULL); /* a reconnect: the old socket (closed by now) */
    lp->nc = nc;
    lp->fd = (int)sock;
    lp->events = EPOLLIN;
    natsStatus s = loop_update(lp, EPOLL_CTL_ADD);
    pthread_mutex_unlock(&lp->mu);
    *user = lp;
    return s;
}

static natsStatus loop_interest(void *user, uint32_t bit, bool add)
{
    struct nats_loop *lp = user;
    pthread_mutex_lock(&lp->mu);
    natsStatus s = NATS_OK;
    uint32_t want = add ? lp->events | bit : lp->events & ~bit;
    if (lp->fd >= 0 && want != lp->events) {
        lp->events = want;
        s = loop_update(lp, EPOLL_CTL_MOD);
    }
    pthread_mutex_unlock(&lp->mu);
    return s;
}

static natsStatus loop_read(void *user, bool add)
{
    return loop_interest(user, EPOLLIN, add);
}

static natsStatus loop_write(void *user, bool add)
{
    return loop_interest(user, EPOLLOUT, add);
}

static natsStatus loop_detach(void *user)
{
    struct nats_loop *lp = user;
    pthread_mutex_lock(&lp->mu);
    if (lp->fd >= 0)
        epoll_ctl(lp->ep, EPOLL_CTL_DEL, lp->fd, NULL);
    lp->fd = -1;
    lp->nc = NULL;
    lp->events = 0;
    pthread_mutex_unlock(&lp->mu);
    return NATS_OK;
}

static void *loop_main(void *arg)
{
    struct nats_loop *lp = arg;
    pthread_setname_np(pthread_self(), lp->name);
    struct epoll_event evs[NATS_LOOP_EVENTS_MAX];
    for (;;) {
        int n = epoll_wait(lp->ep, evs, NATS_LOOP_EVENTS_MAX, -1);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "ledgerd: nats event loop %s: epoll_wait: %s\n", lp->name, strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd == lp->wake) {
                uint64_t v;
                if (read(lp->wake, &v, sizeof v) < 0 && errno != EAGAIN)
                    fprintf(stderr, "ledgerd: nats event loop %s: eventfd: %s\n", lp->name, strerror(errno));
                continue;
            }
            pthread_mutex_lock(&lp->mu);
            natsConnection *nc = evs[i].data.fd == lp->fd ? lp->nc : NULL; /* else a socket since replaced */
            pthread_mutex_unlock(&lp->mu);
            if (nc == NULL)
                continue;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                natsConnection_ProcessReadEvent(nc);
                if (lp->after_read != NULL)
                    lp->after_read(lp->after_read_arg);
            }
            if (evs[i].events & EPOLLOUT)
                natsConnection_ProcessWriteEvent(nc);
        }
        pthread_mutex_lock(&lp->mu);
        bool stop = lp->stop;
        pthread_mutex_unlock(&lp->mu);
        if (stop)
            break;
    }
    return NULL;
}

struct nats_loop *nats_loop_start(const char *thread_name, char *err, size_t err_cap)
{
    struct nats_loop *lp = calloc(1, sizeof *lp);
    if (lp == NULL) {
        snprintf(err, err_cap, "out of memory for the NATS event loop");
        return NULL;
    }
    snprintf(lp->name, sizeof lp->name, "%s", thread_name);
    lp->fd = -1;
    lp->ep = epoll_create1(EPOLL_CLOEXEC);
    lp->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lp->wake};
    pthread_mutex_init(&lp->mu, NULL);
    if (lp->ep < 0 || lp->wake < 0 || epoll_ctl(lp->ep, EPOLL_CTL_ADD, lp->wake, &ev) != 0 ||
        pthread_create(&lp->thread, NULL, loop_main, lp) != 0) {
        snprintf(err, err_cap, "cannot start the NATS event loop: %s", strerror(errno));
        if (lp->ep >= 0)
            close(lp->ep);
        if (lp->wake >= 0)
            close(lp->wake);
        pthread_mutex_destroy(&lp->mu);
        free(lp);
        return NULL;
    }
    return lp;
}

void nats_loop_after_read(struct nats_loop *lp, void (*fn)(void *arg), void *arg)
{
    lp->after_read = fn;
    lp->after_read_arg = arg;
}

natsStatus nats_loop_options(struct nats_loop *lp, natsOptions *opts)
{
    return natsOptions_SetEventLoop(opts, lp, loop_attach, loop_read, loop_write, loop_detach);
}

void nats_loop_stop(struct nats_loop *lp)
{
    if (lp == NULL)
        return;
    pthread_mutex_lock(&lp->mu);
    lp->stop = true;
    pthread_mutex_unlock(&lp->mu);
    uint64_t one = 1;
    if (write(lp->wake, &one, sizeof one) != (ssize_t)sizeof one)
        fprintf(stderr, "ledgerd: nats event loop %s: cannot wake it to stop: %s\n", lp->name, strerror(errno));
    pthread_join(lp->thread, NULL);
    close(lp->ep);
    close(lp->wake);
    pthread_mutex_destroy(&lp->mu);
    free(lp);
}
