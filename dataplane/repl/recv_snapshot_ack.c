/* The primary receives SNAPSHOT_ACK: the follower wrote a chunk and wants the next one (or
 * asks to start over at offset 0). The transfer ends with an ordinary ACK whose match index
 * reaches the snapshot's index (recv_ack.c). */
#include "repl/internal.h"

void repl_recv_snapshot_ack(struct repl *r, const struct repl_msg *m)
{
	if (m->epoch > r->meta.epoch) {
		repl_epoch_adopt(r, m->epoch, REPL_NODE_NONE);
		return;
	}
	if (m->epoch < r->meta.epoch || r->role != REPL_ROLE_PRIMARY || !r->peers[m->src])
		return;
	struct repl_peer *p = r->peers[m->src];
	const struct repl_msg_snapshot_ack *a = &m->snapshot_ack;
	p->last_ack_ms = repl_now(r);
	if (!p->snap || a->snap_index != p->snap_meta.index || a->snap_epoch != p->snap_meta.epoch)
		return;
	if (a->next_offset > p->snap_meta.total_bytes) {
		r->counters[REPL_CNT_RX_DROPPED]++;
		return;
	}
	if (a->next_offset == 0 || a->next_offset > p->snap_acked) {
		p->snap_acked = a->next_offset;
		p->snap_sent_ms = 0; /* send the next chunk now */
		p->progress_ms = p->last_ack_ms;
	}
	if (p->snap_acked < p->snap_meta.total_bytes)
		repl_replicate_peer(r, m->src);
}
