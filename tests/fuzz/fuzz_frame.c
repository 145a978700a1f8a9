/* libFuzzer target for the frame decoders and the reassembler.
 *
 * The input is read twice. First whole, as one Ethernet frame (frame_decode, and the ARP
 * decoder). Then as a sequence of records, each "[len: u16 LE][flags: u8][len bytes]", fed
 * as spindle frames to frame_hdr_decode and, when accepted, to a small reassembler. Flag
 * bit 0 recomputes the frame's CRC32C first, so that the fuzzer gets past the checksum and
 * explores the field checks and reassembly; bit 1 advances the clock and expires old
 * messages. Each record is copied into its own allocation, which the reassembler owns
 * until it releases it, so ASan sees any read outside a fragment or after its release.
 *
 * Checked: a delivered message is no longer than the limit and matches the CRC32C every
 * fragment carried; every fragment is released exactly once (LeakSanitizer and ASan's
 * double-free detection); the reassembler's gauges return to zero once peers are dropped. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/crc.h"
#include "frame/frame.h"
#include "frame/reasm.h"
#include "fuzz.h"

#define FUZZ_CLUSTER 0x53504e31u
#define FUZZ_SELF 0
#define FUZZ_LANES 8
#define FUZZ_PORT_BASE 17500
#define FUZZ_SELF_IP 0x0a630001u
#define FUZZ_RECORD_HDR_BYTES 3
#define FUZZ_TICK_NS 1000000ull

static const struct frame_filter fuzz_filter = {
	.cluster_id = FUZZ_CLUSTER, .self_node = FUZZ_SELF, .lanes = FUZZ_LANES,
	.peers_mask = 0x0eull, .self_ip = FUZZ_SELF_IP, .port_base = FUZZ_PORT_BASE,
};

struct fuzz_expect {
	uint32_t msg_crc;
};

static void fuzz_release(void *ctx, void *token)
{
	(void)ctx;
	free(token);
}

static void fuzz_deliver(void *ctx, uint16_t src, uint16_t lane, const uint8_t *msg, size_t len)
{
	const struct fuzz_expect *e = ctx;
	if (len > FRAME_MSG_BYTES_MAX || src == FUZZ_SELF || lane >= FUZZ_LANES ||
	    crc32c(msg, len) != e->msg_crc)
		abort();
}

static void fuzz_whole_frame(const uint8_t *data, size_t size)
{
	struct frame_addr a;
	struct frame_hdr h;
	const uint8_t *payload;
	if (frame_decode(data, size, &fuzz_filter, &a, &h, &payload) == FRAME_RX_OK) {
		if (payload + h.frag_len > data + size || h.lane >= FUZZ_LANES)
			abort();
	}
	struct frame_arp arp;
	(void)frame_arp_decode(data, size, &arp);
}

static void fuzz_reseal(uint8_t *buf, size_t len)
{
	if (len < FRAME_HDR_BYTES)
		return;
	uint32_t crc = crc32c_extend(0, buf, FRAME_HDR_CRC_OFFSET);
	crc = crc32c_extend(crc, buf + FRAME_HDR_BYTES, len - FRAME_HDR_BYTES);
	frame_put_le32(buf + FRAME_HDR_CRC_OFFSET, crc);
}

static void fuzz_record(struct frame_reasm *r, const uint8_t *rec, size_t len, uint8_t flags,
			uint64_t now_ns)
{
	uint8_t *buf = malloc(len ? len : 1);
	if (buf == NULL)
		abort();
	memcpy(buf, rec, len);
	if (flags & 1)
		fuzz_reseal(buf, len);
	struct frame_hdr h;
	if (frame_hdr_decode(buf, len, &fuzz_filter, &h) != FRAME_RX_OK) {
		free(buf);
		return;
	}
	struct fuzz_expect e = { .msg_crc = h.msg_crc };
	if (h.frag_count == 1) {
		/* Single-fragment messages bypass reassembly; the frame CRC covered them. */
		if (h.frag_len != h.msg_len || FRAME_HDR_BYTES + (size_t)h.frag_len != len)
			abort();
		free(buf);
		return;
	}
	frame_reasm_add(r, &h, buf + FRAME_HDR_BYTES, buf, now_ns, fuzz_deliver, &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_whole_frame(data, size);

	struct frame_reasm_config cfg = { .msgs_max = 8, .msgs_per_peer_max = 4,
		.bytes_max = 256 * 1024, .frames_max = 512, .timeout_ns = 5 * FUZZ_TICK_NS,
		.release = fuzz_release };
	struct frame_reasm *r = frame_reasm_create(&cfg);
	if (r == NULL)
		abort();
	uint64_t now_ns = 0;
	while (size >= FUZZ_RECORD_HDR_BYTES) {
		size_t len = frame_get_le16(data);
		uint8_t flags = data[2];
		data += FUZZ_RECORD_HDR_BYTES;
		size -= FUZZ_RECORD_HDR_BYTES;
		len = len < size ? len : size;
		fuzz_record(r, data, len, flags, now_ns);
		data += len;
		size -= len;
		if (flags & 2) {
			now_ns += FUZZ_TICK_NS;
			frame_reasm_expire(r, now_ns);
		}
	}
	for (uint16_t p = 0; p < FRAME_NODES_MAX; p++)
		frame_reasm_peer_drop(r, p);
	struct frame_reasm_stats s;
	frame_reasm_stats_get(r, &s);
	if (s.msgs_held != 0 || s.frames_held != 0 || s.bytes_reserved != 0)
		abort();
	frame_reasm_destroy(r);
	return 0;
}
