/* The replication frame codec: pure functions that lay out and check the bytes of a frame,
 * with no I/O, no clock and no allocation, so that they can be unit-tested exhaustively and
 * fuzzed. Both transports use it: drivers/dpdk writes and parses the whole frame (Ethernet +
 * IPv4 + UDP + spindle header + payload); drivers/udp only the spindle part (the kernel adds
 * and strips the others). Minimal ARP (request, reply) lives here too.
 *
 * The spindle header, 48 bytes, every field little-endian and written byte by byte:
 *
 *   off len field
 *     0   4 magic "SPND"
 *     4   1 version (FRAME_VERSION)
 *     5   1 type (enum frame_type)
 *     6   2 flags (reserved, zero)
 *     8   4 cluster id
 *    12   2 source node
 *    14   2 destination node
 *    16   2 lane
 *    18   2 fragment index
 *    20   2 fragment count
 *    22   2 fragment length (payload bytes in this frame)
 *    24   4 fragment offset (in the message)
 *    28   4 message length
 *    32   8 message id (unique per sender and lane; random start)
 *    40   4 CRC32C of the whole message (checked after reassembly)
 *    44   4 CRC32C of bytes 0..43 and the fragment's payload
 *
 * Every fragment but the last carries the same number of bytes (the sender's stride), so
 * offset == index * stride; frame_hdr_decode() rejects any fragment that cannot be part of
 * such a layout and the reassembler rejects fragments that disagree with each other. */
#ifndef SPINDLE_FRAME_FRAME_H
#define SPINDLE_FRAME_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/panic.h"
#include "lane/xport.h"

#define FRAME_VERSION 1
#define FRAME_MAGIC_BYTES 4
#define FRAME_HDR_BYTES 48
#define FRAME_HDR_CRC_OFFSET 44

#define FRAME_ETH_BYTES 14
#define FRAME_IP4_BYTES 20
#define FRAME_UDP_BYTES 8
#define FRAME_L2L4_BYTES (FRAME_ETH_BYTES + FRAME_IP4_BYTES + FRAME_UDP_BYTES)
#define FRAME_ARP_BYTES 28 /* the ARP body for Ethernet/IPv4, after the Ethernet header */
#define FRAME_ETH_MIN_BYTES 60 /* shortest Ethernet frame without FCS: shorter ones are padded */

#define FRAME_ETHERTYPE_IPV4 0x0800
#define FRAME_ETHERTYPE_ARP 0x0806
#define FRAME_IPPROTO_UDP 17
#define FRAME_IP_TTL 64

/* MTU here is the IP MTU (what `ip link` shows): the IPv4 packet, not the Ethernet header. */
#define FRAME_MTU_MIN 1280u
#define FRAME_MTU_MAX 65535u
#define FRAME_MTU_DEFAULT 1500u
#define FRAME_IP_OVERHEAD_BYTES (FRAME_IP4_BYTES + FRAME_UDP_BYTES + FRAME_HDR_BYTES)
#define FRAME_PAYLOAD_BYTES_MIN (FRAME_MTU_MIN - FRAME_IP_OVERHEAD_BYTES)
/* The largest fragment payload any MTU allows: frag_len is a 16-bit field. */
#define FRAME_PAYLOAD_BYTES_MAX (FRAME_MTU_MAX - FRAME_IP_OVERHEAD_BYTES)
#define FRAME_MSG_BYTES_MAX XPORT_MSG_BYTES_MAX
/* The most fragments a message can have: a largest message at the smallest MTU. */
#define FRAME_FRAGS_MAX \
	((FRAME_MSG_BYTES_MAX + FRAME_PAYLOAD_BYTES_MIN - 1) / FRAME_PAYLOAD_BYTES_MIN)
#define FRAME_NODES_MAX XPORT_NODES_MAX

STATIC_ASSERT(FRAME_FRAGS_MAX <= UINT16_MAX, "fragment count fits its 16-bit field");
STATIC_ASSERT(FRAME_PAYLOAD_BYTES_MAX <= UINT16_MAX, "fragment length fits its 16-bit field");
STATIC_ASSERT(FRAME_MSG_BYTES_MAX <= UINT32_MAX, "message length fits its 32-bit field");

enum frame_type {
	FRAME_TYPE_DATA = 1, /* one fragment of a message */
};

/* What a decoder says about received bytes; each kind has its own counter. */
enum frame_verdict {
	FRAME_RX_OK = 0,
	FRAME_RX_ARP,       /* an ARP packet for the driver (frame_l2l4_decode only) */
	FRAME_RX_FOREIGN,   /* not ours: other ethertype, protocol, address, port, cluster */
	FRAME_RX_VERSION,   /* a spindle frame of another version */
	FRAME_RX_CHECKSUM,  /* a bad CRC32C (spindle header) or IPv4 header checksum */
	FRAME_RX_MALFORMED, /* truncated, impossible lengths or fields, unknown node or lane */
};

const char *frame_verdict_name(enum frame_verdict v);

/* The decoded spindle header. */
struct frame_hdr {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t cluster_id;
	uint16_t src_node;
	uint16_t dst_node;
	uint16_t lane;
	uint16_t frag_index;
	uint16_t frag_count;
	uint16_t frag_len;
	uint32_t frag_offset;
	uint32_t msg_len;
	uint64_t msg_id;
	uint32_t msg_crc;
	uint32_t crc;
};

/* What a receiver accepts: its cluster, its own node, the nodes it knows and its lanes. */
struct frame_filter {
	uint32_t cluster_id;
	uint16_t self_node;
	uint16_t lanes;           /* lanes 0..lanes-1 exist */
	uint64_t peers_mask;      /* bit n set: node n is a known peer */
	/* Only for frame_eth_decode(): */
	uint32_t self_ip;         /* host byte order */
	uint16_t port_base;       /* lane l travels to UDP port port_base + l */
};

/* Addresses of a frame on the wire; IPs and ports in host byte order. */
struct frame_addr {
	uint8_t src_mac[6];
	uint8_t dst_mac[6];
	uint32_t src_ip;
	uint32_t dst_ip;
	uint16_t src_port;
	uint16_t dst_port;
};

/* ---- Little-endian and network-order field access, byte by byte ---- */
static inline void frame_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void frame_put_le32(uint8_t *p, uint32_t v)
{
	frame_put_le16(p, (uint16_t)v);
	frame_put_le16(p + 2, (uint16_t)(v >> 16));
}
static inline void frame_put_le64(uint8_t *p, uint64_t v)
{
	frame_put_le32(p, (uint32_t)v);
	frame_put_le32(p + 4, (uint32_t)(v >> 32));
}
static inline uint16_t frame_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}
static inline uint32_t frame_get_le32(const uint8_t *p)
{
	return frame_get_le16(p) | (uint32_t)frame_get_le16(p + 2) << 16;
}
static inline uint64_t frame_get_le64(const uint8_t *p)
{
	return frame_get_le32(p) | (uint64_t)frame_get_le32(p + 4) << 32;
}
static inline void frame_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void frame_put_be32(uint8_t *p, uint32_t v)
{
	frame_put_be16(p, (uint16_t)(v >> 16));
	frame_put_be16(p + 2, (uint16_t)v);
}
static inline uint16_t frame_get_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t frame_get_be32(const uint8_t *p)
{
	return (uint32_t)frame_get_be16(p) << 16 | frame_get_be16(p + 2);
}

/* ---- Fragmenting ---- */
/* Payload bytes per fragment for an IP MTU (FRAME_MTU_MIN..FRAME_MTU_MAX). */
static inline uint32_t frame_stride_bytes(uint32_t mtu)
{
	ASSERT(mtu >= FRAME_MTU_MIN && mtu <= FRAME_MTU_MAX);
	return mtu - FRAME_IP_OVERHEAD_BYTES;
}
/* Fragments a message of msg_len bytes takes at this stride (one for an empty message). */
static inline uint32_t frame_frag_count(uint32_t msg_len, uint32_t stride)
{
	ASSERT(stride >= FRAME_PAYLOAD_BYTES_MIN && stride <= FRAME_PAYLOAD_BYTES_MAX);
	return msg_len == 0 ? 1 : (msg_len + stride - 1) / stride;
}
/* Fills the fragment fields of h (index, count, offset, length) for fragment index. */
void frame_hdr_frag_set(struct frame_hdr *h, uint32_t index, uint32_t stride);

/* ---- The spindle header ---- */
/* Writes h to buf[0..FRAME_HDR_BYTES), version and magic included, and sets h->crc to the
 * CRC32C of the header and of the h->frag_len payload bytes that must already follow it at
 * buf + FRAME_HDR_BYTES. h->msg_crc is the caller's: the CRC32C of the whole message. */
void frame_hdr_encode(uint8_t *buf, struct frame_hdr *h);
/* Checks and decodes a spindle header followed by exactly frag_len payload bytes (len is
 * the header plus payload). FRAME_RX_OK fills h; FRAME_RX_VERSION sets h->version (the
 * version the frame says it is); any other verdict leaves h undefined. */
enum frame_verdict frame_hdr_decode(const uint8_t *buf, size_t len, const struct frame_filter *f,
				    struct frame_hdr *h);

/* ---- The version spoken ----
 * Frames are written with, and only accepted at, the version this process speaks:
 * FRAME_VERSION. Only the transports' fault-hooks builds change it (SPINDLE_FRAME_VERSION in
 * spindled-faults), so that a test can run a node of another release. Set before any
 * transport starts. */
uint8_t frame_version_get(void);
/* 1..255; -EINVAL otherwise. */
int frame_version_set(unsigned version);

/* Frames of another version are refused one by one, but said once in a while: the first,
 * then at most one log line per FRAME_VERSION_LOG_EVERY_NS, each with the count so far. */
#define FRAME_VERSION_LOG_EVERY_NS (10ull * 1000 * 1000 * 1000)
struct frame_version_log {
	uint64_t refused;
	uint64_t next_ns;
};
/* Counts a refused frame; true when the caller should write the log line now. */
bool frame_version_log_due(struct frame_version_log *l, uint64_t now_ns);

/* ---- Ethernet + IPv4 + UDP ---- */
/* Writes the 42 bytes of Ethernet, IPv4 and UDP headers for a UDP payload of payload_len
 * bytes. The IPv4 header checksum is computed unless ip_csum_offload; the UDP checksum is
 * left zero (legal in IPv4) for frame_udp_csum_set() or the NIC to fill in. */
void frame_l2l4_encode(uint8_t *buf, const struct frame_addr *a, size_t payload_len,
		       bool ip_csum_offload);
/* Computes and stores the UDP checksum of a frame written by frame_l2l4_encode() whose
 * payload follows it (the software fallback when the NIC cannot). */
void frame_udp_csum_set(uint8_t *frame, size_t frame_len);
/* Checks Ethernet, IPv4 (header checksum, no fragments) and UDP (our port range, the
 * lengths). FRAME_RX_OK gives the UDP payload's offset and length; FRAME_RX_ARP says the caller
 * should pass the frame to frame_arp_decode(). The UDP checksum is not verified: the spindle
 * CRC32C covers everything the UDP checksum would. */
enum frame_verdict frame_l2l4_decode(const uint8_t *buf, size_t len, const struct frame_filter *f,
				     struct frame_addr *a, size_t *payload_off,
				     size_t *payload_len);
/* frame_l2l4_decode() and then frame_hdr_decode() of the payload. */
enum frame_verdict frame_decode(const uint8_t *buf, size_t len, const struct frame_filter *f,
				struct frame_addr *a, struct frame_hdr *h, const uint8_t **payload);

/* The Internet checksum (RFC 1071) of len bytes, folded, not complemented, extending sum. */
uint32_t frame_inet_sum(uint32_t sum, const uint8_t *p, size_t len);
static inline uint16_t frame_inet_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* ---- Minimal ARP (Ethernet, IPv4) ---- */
enum frame_arp_op { FRAME_ARP_REQUEST = 1, FRAME_ARP_REPLY = 2 };
struct frame_arp {
	uint16_t op;
	uint8_t sender_mac[6];
	uint32_t sender_ip;  /* host byte order */
	uint8_t target_mac[6];
	uint32_t target_ip;
};
/* Writes an Ethernet frame carrying an ARP packet, padded to FRAME_ETH_MIN_BYTES; returns
 * its length. A request goes to the broadcast address, a reply to its target. */
size_t frame_arp_encode(uint8_t *buf, const struct frame_arp *arp);
/* Parses an Ethernet frame carrying an ARP packet for Ethernet and IPv4; FRAME_RX_OK or
 * FRAME_RX_MALFORMED (or FRAME_RX_FOREIGN for another hardware or protocol type). */
enum frame_verdict frame_arp_decode(const uint8_t *buf, size_t len, struct frame_arp *arp);

#endif
