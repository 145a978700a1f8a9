/* xport_peer's traffic: building and checking test messages, the sender's window, round
 * trips, deciding when the run is over, and the JSON report. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/crc.h"
#include "frame/frame.h"
#include "peer.h"

#define PEER_STALL_NS (200ull * 1000 * 1000)
#define PEER_PING_TIMEOUT_NS (200ull * 1000 * 1000)
#define PEER_RECV_LINGER_NS (50ull * 1000 * 1000)
#define PEER_FLAG_ACK_WANTED 1

bool peer_lane_mine(const struct peer *p, unsigned loop_index, uint16_t lane)
{
	return lane % p->o.loops == loop_index;
}

/* Messages shorter than a header are a fixed pattern of their length. */
static void peer_short_fill(uint8_t *buf, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(len * 31 + i);
}

static void peer_hdr_write(uint8_t *buf, uint8_t kind, uint8_t flags, uint8_t loop, uint64_t seq,
			   uint32_t len, uint32_t crc, uint64_t ts_ns)
{
	frame_put_le32(buf, PEER_MAGIC);
	buf[4] = kind;
	buf[5] = loop;
	buf[6] = flags;
	buf[7] = 0;
	frame_put_le64(buf + 8, seq);
	frame_put_le32(buf + 16, len);
	frame_put_le32(buf + 20, crc);
	frame_put_le64(buf + 24, ts_ns);
}

/* Checks a received message; returns its kind, or 0 if it is not intact. */
static int peer_msg_check(const uint8_t *msg, size_t len)
{
	if (len < PEER_MSG_HDR_BYTES) {
		for (size_t i = 0; i < len; i++) {
			if (msg[i] != (uint8_t)(len * 31 + i))
				return 0;
		}
		return PEER_KIND_DATA;
	}
	if (frame_get_le32(msg) != PEER_MAGIC || frame_get_le32(msg + 16) != len)
		return 0;
	if (crc32c(msg + PEER_MSG_HDR_BYTES, len - PEER_MSG_HDR_BYTES) != frame_get_le32(msg + 20))
		return 0;
	return msg[4] >= PEER_KIND_DATA && msg[4] <= PEER_KIND_PONG ? msg[4] : 0;
}

/* Builds message seq of size len into buf (a slice of the pattern behind a header). */
static uint32_t peer_msg_build(struct peer *p, struct peer_loop *pl, uint8_t *buf, uint32_t len,
			       uint8_t kind, uint8_t flags, uint64_t seq)
{
	if (len < PEER_MSG_HDR_BYTES) {
		peer_short_fill(buf, len);
		return len;
	}
	uint32_t body = len - PEER_MSG_HDR_BYTES;
	uint32_t off = (uint32_t)(seq % 7) * 61;
	memcpy(buf + PEER_MSG_HDR_BYTES, p->pattern + off, body);
	peer_hdr_write(buf, kind, flags, (uint8_t)pl->index, seq, len,
		       crc32c(buf + PEER_MSG_HDR_BYTES, body), time_mono_ns());
	return len;
}

static void peer_reply(struct peer_loop *pl, uint16_t dst, uint16_t lane, uint8_t kind,
		       const uint8_t *msg, size_t len)
{
	static _Thread_local uint8_t *scratch;
	if (scratch == NULL)
		scratch = malloc(XPORT_MSG_BYTES_MAX);
	memcpy(scratch, msg, len);
	scratch[4] = kind;
	int rc = xport_send(pl->x, dst, lane, scratch, len);
	if (rc != 0)
		pl->send_refused++;
}

static void peer_on_data(struct peer_loop *pl, uint16_t src, uint16_t lane, const uint8_t *msg,
			 size_t len)
{
	struct peer *p = pl->peer;
	uint64_t now = time_mono_ns();
	if (pl->first_rx_ns == 0)
		pl->first_rx_ns = now;
	pl->last_rx_ns = now;
	pl->received++;
	pl->bytes += len;
	atomic_fetch_add(&p->received_total, 1);
	if (!peer_lane_mine(p, pl->index, lane))
		pl->wrong_lane++;
	if (len >= PEER_MSG_HDR_BYTES && (msg[6] & PEER_FLAG_ACK_WANTED)) {
		uint8_t ack[PEER_MSG_HDR_BYTES];
		peer_hdr_write(ack, PEER_KIND_ACK, 0, msg[5], frame_get_le64(msg + 8),
			       PEER_MSG_HDR_BYTES, crc32c(ack, 0), 0);
		if (xport_send(pl->x, src, lane, ack, sizeof(ack)) == 0)
			pl->acks_sent++;
	}
}

void peer_recv(void *ctx, uint16_t src, uint16_t lane, const uint8_t *msg, size_t len)
{
	struct peer_loop *pl = ctx;
	int kind = peer_msg_check(msg, len);
	if (kind == 0) {
		pl->corrupt++;
		return;
	}
	if (kind == PEER_KIND_DATA) {
		peer_on_data(pl, src, lane, msg, len);
	} else if (kind == PEER_KIND_ACK) {
		uint64_t seq = frame_get_le64(msg + 8);
		if (seq + 1 > pl->acked) {
			pl->acked = seq + 1;
			pl->ack_progress_ns = time_mono_ns();
		}
	} else if (kind == PEER_KIND_PING) {
		peer_on_data(pl, src, lane, msg, len);
		peer_reply(pl, src, lane, PEER_KIND_PONG, msg, len);
	} else if (kind == PEER_KIND_PONG && pl->ping_waiting) {
		uint64_t now = time_mono_ns();
		if (pl->rtt_count < PEER_RTT_SAMPLES_MAX)
			pl->rtt_ns[pl->rtt_count++] = now - frame_get_le64(msg + 24);
		pl->ping_waiting = false;
	}
}

/* The messages this loop sends in all: its share of --count. */
static uint64_t peer_quota(const struct peer *p, const struct peer_loop *pl)
{
	uint64_t share = p->o.count / p->o.loops;
	return share + (pl->index == 0 ? p->o.count % p->o.loops : 0);
}

static uint16_t peer_next_lane(struct peer *p, struct peer_loop *pl)
{
	for (unsigned i = 0; i < p->o.lanes; i++) {
		uint16_t lane = pl->next_lane;
		pl->next_lane = (uint16_t)((pl->next_lane + 1) % p->o.lanes);
		if (peer_lane_mine(p, pl->index, lane))
			return lane;
	}
	return 0;
}

/* Bytes of the messages with sequence numbers below seq (sizes cycle through the list). */
static uint64_t peer_bytes_before(const struct peer *p, uint64_t seq)
{
	uint64_t n = p->o.sizes_count, bytes = seq / n * p->o.sizes_sum;
	for (uint64_t i = 0; i < seq % n; i++)
		bytes += p->o.sizes[i];
	return bytes;
}

static bool peer_window_open(const struct peer *p, const struct peer_loop *pl)
{
	if (p->o.window == 0)
		return true;
	if (pl->sent - pl->acked >= p->o.window)
		return false;
	return p->o.window_bytes == 0 || pl->sent == pl->acked ||
	       peer_bytes_before(p, pl->sent) - peer_bytes_before(p, pl->acked) < p->o.window_bytes;
}

static int peer_send_some(struct peer *p, struct peer_loop *pl, uint8_t *buf)
{
	uint64_t quota = peer_quota(p, pl), now = time_mono_ns();
	int sent = 0;
	if (pl->ack_progress_ns == 0)
		pl->ack_progress_ns = now;
	if (!peer_window_open(p, pl) && now - pl->ack_progress_ns > PEER_STALL_NS) {
		pl->stalls++; /* acknowledgements lost: move the window on */
		pl->acked = pl->sent;
		pl->ack_progress_ns = now;
	}
	while (pl->sent < quota && sent < PEER_SEND_BATCH_MAX && peer_window_open(p, pl)) {
		uint32_t size = p->o.sizes[pl->sent % p->o.sizes_count];
		uint16_t lane = peer_next_lane(p, pl);
		/* Ask for an acknowledgement every few messages, and whenever the window is about
		 * to close or the last message goes, so that the window never waits on a timer. */
		pl->sent++;
		bool ack = p->o.window && (pl->sent % PEER_ACK_EVERY == 0 || pl->sent == quota ||
					   !peer_window_open(p, pl));
		pl->sent--;
		uint32_t len = peer_msg_build(p, pl, buf, size, PEER_KIND_DATA,
					      ack ? PEER_FLAG_ACK_WANTED : 0, pl->sent);
		int rc = xport_send(pl->x, p->o.to, lane, buf, len);
		if (rc == -ENOBUFS || rc == -EAGAIN) {
			pl->send_refused++;
			break; /* the queue is full or the peer unresolved: next turn */
		}
		if (rc != 0) {
			fprintf(stderr, "send: %s\n", strerror(-rc));
			exit(2);
		}
		pl->sent++;
		sent++;
		atomic_fetch_add(&p->sent_total, 1);
	}
	return sent;
}

static int peer_ping_some(struct peer *p, struct peer_loop *pl, uint8_t *buf)
{
	uint64_t now = time_mono_ns();
	if (pl->index != 0 || pl->rtt_count >= p->o.count)
		return 0;
	if (pl->ping_waiting && now - pl->ping_sent_ns < PEER_PING_TIMEOUT_NS)
		return 0;
	uint32_t len = peer_msg_build(p, pl, buf, MAX(p->o.sizes[0], (uint32_t)PEER_MSG_HDR_BYTES),
				      PEER_KIND_PING, 0, pl->next_seq++);
	if (xport_send(pl->x, p->o.to, peer_next_lane(p, pl), buf, len) != 0) {
		pl->send_refused++;
		return 0;
	}
	pl->ping_waiting = true;
	pl->ping_sent_ns = now;
	pl->sent++;
	return 1;
}

int peer_poll(void *arg)
{
	struct peer_loop *pl = arg;
	struct peer *p = pl->peer;
	static _Thread_local uint8_t *buf;
	if (buf == NULL)
		buf = malloc(XPORT_MSG_BYTES_MAX);
	int work = xport_poll(pl->x);
	if (atomic_load(&p->stopping))
		return work;
	if (p->o.role == PEER_SEND)
		work += peer_send_some(p, pl, buf);
	else if (p->o.role == PEER_PING)
		work += peer_ping_some(p, pl, buf);
	return work;
}

int peer_flush(void *arg)
{
	struct peer_loop *pl = arg;
	return xport_flush(pl->x);
}

static void peer_stop_all(struct peer *p)
{
	atomic_store(&p->stopping, true);
	for (unsigned i = 0; i < p->o.loops; i++)
		loop_stop(p->loops[i].loop);
}

/* Whether a receiving or echoing node has seen the end of its traffic. */
static bool peer_recv_done(struct peer *p, uint64_t now)
{
	uint64_t last = 0;
	for (unsigned i = 0; i < p->o.loops; i++)
		last = MAX(last, p->loops[i].last_rx_ns);
	if (p->o.expect && atomic_load(&p->received_total) >= p->o.expect)
		return now - last >= PEER_RECV_LINGER_NS;
	return last != 0 && now - last >= (uint64_t)p->o.idle_exit_ms * NS_PER_MS;
}

void peer_tick(struct loop *loop, struct loop_timer *t)
{
	struct peer *p = t->arg;
	uint64_t now = time_mono_ns();
	bool done = now - p->start_ns >= (uint64_t)p->o.duration_ms * NS_PER_MS;
	if (p->o.role == PEER_SEND && p->send_done_ns == 0 &&
	    atomic_load(&p->sent_total) >= p->o.count)
		p->send_done_ns = now;
	if (p->o.role == PEER_SEND && p->send_done_ns != 0)
		done |= now - p->send_done_ns >= (uint64_t)p->o.linger_ms * NS_PER_MS;
	if (p->o.role == PEER_RECV || p->o.role == PEER_ECHO)
		done |= peer_recv_done(p, now);
	if (p->o.role == PEER_PING)
		done |= p->loops[0].rtt_count >= p->o.count;
	if (done)
		peer_stop_all(p);
	else
		loop_timer_start(loop, t, 10 * NS_PER_MS, peer_tick, p);
}

static int peer_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double peer_percentile_us(uint64_t *v, uint64_t n, double q)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), peer_cmp_u64);
	uint64_t i = (uint64_t)(q * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}

void peer_report(struct peer *p)
{
	uint64_t sent = 0, received = 0, corrupt = 0, bytes = 0, refused = 0, stalls = 0;
	uint64_t acks = 0, wrong_lane = 0, first = UINT64_MAX, last = 0;
	for (unsigned i = 0; i < p->o.loops; i++) {
		struct peer_loop *pl = &p->loops[i];
		sent += pl->sent;
		received += pl->received;
		corrupt += pl->corrupt;
		bytes += pl->bytes;
		refused += pl->send_refused;
		stalls += pl->stalls;
		acks += pl->acks_sent;
		wrong_lane += pl->wrong_lane;
		if (pl->first_rx_ns)
			first = MIN(first, pl->first_rx_ns);
		last = MAX(last, pl->last_rx_ns);
	}
	double rx_s = last > first && first != UINT64_MAX ? (double)(last - first) / 1e9 : 0;
	double tx_s = p->send_done_ns ? (double)(p->send_done_ns - p->start_ns) / 1e9 : 0;
	struct peer_loop *l0 = &p->loops[0];
	printf("{\"node\": %u, \"role\": %d, \"sent\": %lu, \"send_refused\": %lu, \"stalls\": %lu, "
	       "\"received\": %lu, \"corrupt\": %lu, \"wrong_lane\": %lu, \"bytes\": %lu, "
	       "\"acks_sent\": %lu, \"rx_seconds\": %.6f, \"tx_seconds\": %.6f, "
	       "\"rtt_samples\": %lu, \"rtt_p50_us\": %.1f, \"rtt_p99_us\": %.1f, \"loops\": [",
	       p->o.node, p->o.role, sent, refused, stalls, received, corrupt, wrong_lane, bytes,
	       acks, rx_s, tx_s, l0->rtt_count, peer_percentile_us(l0->rtt_ns, l0->rtt_count, 0.5),
	       peer_percentile_us(l0->rtt_ns, l0->rtt_count, 0.99));
	for (unsigned i = 0; i < p->o.loops; i++) {
		char stats[2048];
		peer_transport_stats(p, &p->loops[i], stats, sizeof(stats));
		printf("%s{\"received\": %lu, \"sent\": %lu, \"xport\": %s}", i ? ", " : "",
		       p->loops[i].received, p->loops[i].sent, stats);
	}
	printf("]}\n");
	fflush(stdout);
}
