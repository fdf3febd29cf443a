/*
 * nats_retire.h: nats.c messages destroyed in batches.
 *
 * nats.c hands every natsMsg_Destroy() to its garbage-collector thread and wakes that thread
 * whenever it is idle: at moderate rates one wake-up (two context switches, a few microseconds of
 * a core on a virtual machine) per message created or received. Retiring messages and destroying
 * them NATS_MSG_RETIRE_MAX at a time wakes it about once per batch. A retire list belongs to one
 * thread (or is used under its owner's lock); until the next batch fills or the owner calls
 * nats_msg_retire_flush(), at most NATS_MSG_RETIRE_MAX - 1 messages wait, already done with.
 */
#ifndef LEDGER_NATS_RETIRE_H
#define LEDGER_NATS_RETIRE_H

#include <nats/nats.h>
#include <stddef.h>

#define NATS_MSG_RETIRE_MAX 64

struct nats_msg_retire {
    natsMsg *msgs[NATS_MSG_RETIRE_MAX];
    size_t n;
};

/* Takes msg (NULL is ignored); destroys the whole batch when it is full. */
void nats_msg_retire(struct nats_msg_retire *r, natsMsg *msg);
/* Destroys every retired message now. */
void nats_msg_retire_flush(struct nats_msg_retire *r);

#endif
