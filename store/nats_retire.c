/* nats_retire.c: see nats_retire.h. */
#include "store/nats_retire.h"

void nats_msg_retire(struct nats_msg_retire *r, natsMsg *msg)
{
    if (msg == NULL)
        return;
    r->msgs[r->n++] = msg;
    if (r->n == NATS_MSG_RETIRE_MAX)
        nats_msg_retire_flush(r);
}

void nats_msg_retire_flush(struct nats_msg_retire *r)
{
    for (size_t i = 0; i < r->n; i++)
        natsMsg_Destroy(r->msgs[i]);
    r->n = 0;
}
