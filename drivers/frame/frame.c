/* The replication frame codec: encoding and checking the spindle header, the Ethernet, IPv4
 * and UDP headers around it, and minimal ARP. Nothing here trusts a byte it has not checked:
 * every length is compared with what is actually there before it is used. */
#include <errno.h>
#include <string.h>

#include "base/crc.h"
#include "frame/frame.h"

static const uint8_t frame_magic[FRAME_MAGIC_BYTES] = { 'S', 'P', 'N', 'D' };
static const uint8_t frame_mac_broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* Offsets in the IPv4 header and the UDP header. */
#define IP4_OFF_VIHL 0
#define IP4_OFF_LEN 2
#define IP4_OFF_FRAG 6
#define IP4_OFF_TTL 8
#define IP4_OFF_PROTO 9
#define IP4_OFF_CSUM 10
#define IP4_OFF_SRC 12
#define IP4_OFF_DST 16
#define IP4_FLAG_DF 0x4000
#define IP4_FLAG_MF 0x2000
#define IP4_FRAG_OFFSET_MASK 0x1fff
#define UDP_OFF_LEN 4
#define UDP_OFF_CSUM 6

/* Written once at start-up (frame_version_set), before the transports' loops run. */
static uint8_t frame_version_spoken = FRAME_VERSION;

uint8_t frame_version_get(void)
{
	return frame_version_spoken;
}

int frame_version_set(unsigned version)
{
	if (version == 0 || version > UINT8_MAX)
		return -EINVAL;
	frame_version_spoken = (uint8_t)version;
	return 0;
}

bool frame_version_log_due(struct frame_version_log *l, uint64_t now_ns)
{
	l->refused++;
	if (l->refused > 1 && now_ns < l->next_ns)
		return false;
	l->next_ns = now_ns + FRAME_VERSION_LOG_EVERY_NS;
	return true;
}

const char *frame_verdict_name(enum frame_verdict v)
{
	switch (v) {
	case FRAME_RX_OK: return "ok";
	case FRAME_RX_ARP: return "arp";
	case FRAME_RX_FOREIGN: return "foreign";
	case FRAME_RX_VERSION: return "version";
	case FRAME_RX_CHECKSUM: return "checksum";
	case FRAME_RX_MALFORMED: return "malformed";
	}
	return "unknown";
}

void frame_hdr_frag_set(struct frame_hdr *h, uint32_t index, uint32_t stride)
{
	uint32_t count = frame_frag_count(h->msg_len, stride);
	ASSERT(index < count);
	ASSERT(h->msg_len <= FRAME_MSG_BYTES_MAX);
	h->frag_index = (uint16_t)index;
	h->frag_count = (uint16_t)count;
	h->frag_offset = index * stride;
	h->frag_len = (uint16_t)MIN(stride, h->msg_len - h->frag_offset);
}

void frame_hdr_encode(uint8_t *buf, struct frame_hdr *h)
{
	ASSERT(h->frag_count >= 1 && h->frag_index < h->frag_count);
	ASSERT(h->frag_offset + (uint64_t)h->frag_len <= h->msg_len);
	h->version = frame_version_spoken;
	memcpy(buf, frame_magic, FRAME_MAGIC_BYTES);
	buf[4] = h->version;
	buf[5] = h->type;
	frame_put_le16(buf + 6, h->flags);
	frame_put_le32(buf + 8, h->cluster_id);
	frame_put_le16(buf + 12, h->src_node);
	frame_put_le16(buf + 14, h->dst_node);
	frame_put_le16(buf + 16, h->lane);
	frame_put_le16(buf + 18, h->frag_index);
	frame_put_le16(buf + 20, h->frag_count);
	frame_put_le16(buf + 22, h->frag_len);
	frame_put_le32(buf + 24, h->frag_offset);
	frame_put_le32(buf + 28, h->msg_len);
	frame_put_le64(buf + 32, h->msg_id);
	frame_put_le32(buf + 40, h->msg_crc);
	uint32_t crc = crc32c_extend(0, buf, FRAME_HDR_CRC_OFFSET);
	h->crc = crc32c_extend(crc, buf + FRAME_HDR_BYTES, h->frag_len);
	frame_put_le32(buf + FRAME_HDR_CRC_OFFSET, h->crc);
}

static void frame_hdr_fields_get(const uint8_t *buf, struct frame_hdr *h)
{
	h->version = buf[4];
	h->type = buf[5];
	h->flags = frame_get_le16(buf + 6);
	h->cluster_id = frame_get_le32(buf + 8);
	h->src_node = frame_get_le16(buf + 12);
	h->dst_node = frame_get_le16(buf + 14);
	h->lane = frame_get_le16(buf + 16);
	h->frag_index = frame_get_le16(buf + 18);
	h->frag_count = frame_get_le16(buf + 20);
	h->frag_len = frame_get_le16(buf + 22);
	h->frag_offset = frame_get_le32(buf + 24);
	h->msg_len = frame_get_le32(buf + 28);
	h->msg_id = frame_get_le64(buf + 32);
	h->msg_crc = frame_get_le32(buf + 40);
	h->crc = frame_get_le32(buf + FRAME_HDR_CRC_OFFSET);
}

/* Whether the fragment fields describe a possible fragment of a message split at a stride
 * between FRAME_PAYLOAD_BYTES_MIN and FRAME_PAYLOAD_BYTES_MAX. */
static bool frame_hdr_frag_valid(const struct frame_hdr *h)
{
	if (h->msg_len > FRAME_MSG_BYTES_MAX || h->frag_count == 0 ||
	    h->frag_count > FRAME_FRAGS_MAX || h->frag_index >= h->frag_count)
		return false;
	if (h->frag_count == 1)
		return h->frag_offset == 0 && h->frag_len == h->msg_len;
	if (h->frag_len == 0)
		return false;
	uint64_t stride;
	if (h->frag_index == 0) {
		if (h->frag_offset != 0)
			return false;
		stride = h->frag_len;
	} else {
		if (h->frag_offset % h->frag_index != 0)
			return false;
		stride = h->frag_offset / h->frag_index;
	}
	if (stride < FRAME_PAYLOAD_BYTES_MIN || stride > FRAME_PAYLOAD_BYTES_MAX)
		return false;
	/* The count must be the one this stride gives for this length. */
	if ((uint64_t)(h->frag_count - 1) * stride >= h->msg_len ||
	    (uint64_t)h->frag_count * stride < h->msg_len)
		return false;
	if (h->frag_index + 1u < h->frag_count)
		return h->frag_len == stride;
	return (uint64_t)h->frag_offset + h->frag_len == h->msg_len;
}

static bool frame_hdr_fields_valid(const struct frame_hdr *h, const struct frame_filter *f)
{
	if (h->type != FRAME_TYPE_DATA || h->flags != 0)
		return false;
	if (h->src_node >= FRAME_NODES_MAX || !(f->peers_mask >> h->src_node & 1) ||
	    h->src_node == f->self_node || h->dst_node != f->self_node || h->lane >= f->lanes)
		return false;
	return frame_hdr_frag_valid(h);
}

enum frame_verdict frame_hdr_decode(const uint8_t *buf, size_t len, const struct frame_filter *f,
				    struct frame_hdr *h)
{
	ASSERT(buf != NULL || len == 0);
	ASSERT(f->self_node < FRAME_NODES_MAX);
	if (len < FRAME_MAGIC_BYTES || memcmp(buf, frame_magic, FRAME_MAGIC_BYTES) != 0)
		return FRAME_RX_FOREIGN;
	if (len <= 4)
		return FRAME_RX_MALFORMED;
	if (buf[4] != frame_version_spoken) {
		h->version = buf[4];
		return FRAME_RX_VERSION;
	}
	if (len < FRAME_HDR_BYTES)
		return FRAME_RX_MALFORMED;
	frame_hdr_fields_get(buf, h);
	if (h->frag_len != len - FRAME_HDR_BYTES)
		return FRAME_RX_MALFORMED;
	uint32_t crc = crc32c_extend(0, buf, FRAME_HDR_CRC_OFFSET);
	crc = crc32c_extend(crc, buf + FRAME_HDR_BYTES, h->frag_len);
	if (crc != h->crc)
		return FRAME_RX_CHECKSUM;
	if (h->cluster_id != f->cluster_id)
		return FRAME_RX_FOREIGN;
	if (!frame_hdr_fields_valid(h, f))
		return FRAME_RX_MALFORMED;
	return FRAME_RX_OK;
}

uint32_t frame_inet_sum(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i = 0;
	for (; i + 1 < len; i += 2)
		sum += frame_get_be16(p + i);
	if (i < len)
		sum += (uint32_t)p[i] << 8;
	/* Fold as we go so that long buffers cannot overflow 32 bits. */
	return (sum & 0xffff) + (sum >> 16);
}

void frame_l2l4_encode(uint8_t *buf, const struct frame_addr *a, size_t payload_len,
		       bool ip_csum_offload)
{
	ASSERT(payload_len <= FRAME_MTU_MAX - FRAME_IP4_BYTES - FRAME_UDP_BYTES);
	memcpy(buf, a->dst_mac, 6);
	memcpy(buf + 6, a->src_mac, 6);
	frame_put_be16(buf + 12, FRAME_ETHERTYPE_IPV4);

	uint8_t *ip = buf + FRAME_ETH_BYTES;
	memset(ip, 0, FRAME_IP4_BYTES);
	ip[IP4_OFF_VIHL] = 0x45; /* version 4, five 32-bit words: no options */
	frame_put_be16(ip + IP4_OFF_LEN,
		       (uint16_t)(FRAME_IP4_BYTES + FRAME_UDP_BYTES + payload_len));
	/* Don't fragment: frames are sized to the MTU, and the identification can stay 0. */
	frame_put_be16(ip + IP4_OFF_FRAG, IP4_FLAG_DF);
	ip[IP4_OFF_TTL] = FRAME_IP_TTL;
	ip[IP4_OFF_PROTO] = FRAME_IPPROTO_UDP;
	frame_put_be32(ip + IP4_OFF_SRC, a->src_ip);
	frame_put_be32(ip + IP4_OFF_DST, a->dst_ip);
	if (!ip_csum_offload)
		frame_put_be16(ip + IP4_OFF_CSUM,
			       (uint16_t)~frame_inet_fold(frame_inet_sum(0, ip, FRAME_IP4_BYTES)));

	uint8_t *udp = ip + FRAME_IP4_BYTES;
	frame_put_be16(udp, a->src_port);
	frame_put_be16(udp + 2, a->dst_port);
	frame_put_be16(udp + UDP_OFF_LEN, (uint16_t)(FRAME_UDP_BYTES + payload_len));
	frame_put_be16(udp + UDP_OFF_CSUM, 0);
}

void frame_udp_csum_set(uint8_t *frame, size_t frame_len)
{
	ASSERT(frame_len >= FRAME_L2L4_BYTES);
	const uint8_t *ip = frame + FRAME_ETH_BYTES;
	uint8_t *udp = frame + FRAME_ETH_BYTES + FRAME_IP4_BYTES;
	uint16_t udp_len = frame_get_be16(udp + UDP_OFF_LEN);
	ASSERT(FRAME_ETH_BYTES + FRAME_IP4_BYTES + (size_t)udp_len <= frame_len);
	uint8_t pseudo[12];
	memcpy(pseudo, ip + IP4_OFF_SRC, 8); /* source and destination addresses */
	pseudo[8] = 0;
	pseudo[9] = FRAME_IPPROTO_UDP;
	frame_put_be16(pseudo + 10, udp_len);
	frame_put_be16(udp + UDP_OFF_CSUM, 0);
	uint32_t sum = frame_inet_sum(0, pseudo, sizeof(pseudo));
	sum = frame_inet_sum(sum, udp, udp_len);
	uint16_t csum = (uint16_t)~frame_inet_fold(sum);
	/* A computed 0 is sent as 0xffff: 0 on the wire means "no checksum". */
	frame_put_be16(udp + UDP_OFF_CSUM, csum == 0 ? 0xffff : csum);
}

/* Checks the IPv4 and UDP headers of a frame to one of our ports; the Ethernet header and
 * the addressing were checked by the caller. */
static enum frame_verdict frame_ip_udp_check(const uint8_t *buf, size_t len, size_t ihl_bytes,
					     size_t *payload_off, size_t *payload_len)
{
	const uint8_t *ip = buf + FRAME_ETH_BYTES;
	const uint8_t *udp = ip + ihl_bytes;
	if (frame_inet_fold(frame_inet_sum(0, ip, ihl_bytes)) != 0xffff)
		return FRAME_RX_CHECKSUM;
	uint16_t frag = frame_get_be16(ip + IP4_OFF_FRAG);
	if ((frag & IP4_FLAG_MF) || (frag & IP4_FRAG_OFFSET_MASK))
		return FRAME_RX_MALFORMED; /* we never send IP fragments */
	size_t ip_len = frame_get_be16(ip + IP4_OFF_LEN);
	/* Ethernet pads short frames, so trust the IP length, not the frame's. */
	if (ip_len < ihl_bytes + FRAME_UDP_BYTES || FRAME_ETH_BYTES + ip_len > len)
		return FRAME_RX_MALFORMED;
	size_t udp_len = frame_get_be16(udp + UDP_OFF_LEN);
	if (udp_len != ip_len - ihl_bytes)
		return FRAME_RX_MALFORMED;
	*payload_off = FRAME_ETH_BYTES + ihl_bytes + FRAME_UDP_BYTES;
	*payload_len = udp_len - FRAME_UDP_BYTES;
	return FRAME_RX_OK;
}

enum frame_verdict frame_l2l4_decode(const uint8_t *buf, size_t len, const struct frame_filter *f,
				     struct frame_addr *a, size_t *payload_off,
				     size_t *payload_len)
{
	ASSERT(buf != NULL || len == 0);
	if (len < FRAME_ETH_BYTES)
		return FRAME_RX_FOREIGN;
	uint16_t ethertype = frame_get_be16(buf + 12);
	if (ethertype == FRAME_ETHERTYPE_ARP)
		return FRAME_RX_ARP;
	if (ethertype != FRAME_ETHERTYPE_IPV4 || len < FRAME_ETH_BYTES + FRAME_IP4_BYTES)
		return FRAME_RX_FOREIGN;
	const uint8_t *ip = buf + FRAME_ETH_BYTES;
	size_t ihl_bytes = (size_t)(ip[IP4_OFF_VIHL] & 0x0f) * 4;
	if ((ip[IP4_OFF_VIHL] >> 4) != 4 || ihl_bytes < FRAME_IP4_BYTES ||
	    ip[IP4_OFF_PROTO] != FRAME_IPPROTO_UDP ||
	    frame_get_be32(ip + IP4_OFF_DST) != f->self_ip ||
	    len < FRAME_ETH_BYTES + ihl_bytes + FRAME_UDP_BYTES)
		return FRAME_RX_FOREIGN;
	const uint8_t *udp = ip + ihl_bytes;
	uint16_t dst_port = frame_get_be16(udp + 2);
	if (dst_port < f->port_base || dst_port - f->port_base >= f->lanes)
		return FRAME_RX_FOREIGN;
	enum frame_verdict v = frame_ip_udp_check(buf, len, ihl_bytes, payload_off, payload_len);
	if (v != FRAME_RX_OK)
		return v;
	memcpy(a->dst_mac, buf, 6);
	memcpy(a->src_mac, buf + 6, 6);
	a->src_ip = frame_get_be32(ip + IP4_OFF_SRC);
	a->dst_ip = f->self_ip;
	a->src_port = frame_get_be16(udp);
	a->dst_port = dst_port;
	return FRAME_RX_OK;
}

enum frame_verdict frame_decode(const uint8_t *buf, size_t len, const struct frame_filter *f,
				struct frame_addr *a, struct frame_hdr *h, const uint8_t **payload)
{
	size_t off, plen;
	enum frame_verdict v = frame_l2l4_decode(buf, len, f, a, &off, &plen);
	if (v != FRAME_RX_OK)
		return v;
	v = frame_hdr_decode(buf + off, plen, f, h);
	if (v != FRAME_RX_OK)
		return v;
	/* The port says which lane the NIC steered the frame for; the header must agree. */
	if (h->lane != a->dst_port - f->port_base)
		return FRAME_RX_MALFORMED;
	*payload = buf + off + FRAME_HDR_BYTES;
	return FRAME_RX_OK;
}

size_t frame_arp_encode(uint8_t *buf, const struct frame_arp *arp)
{
	ASSERT(arp->op == FRAME_ARP_REQUEST || arp->op == FRAME_ARP_REPLY);
	memset(buf, 0, FRAME_ETH_MIN_BYTES);
	memcpy(buf, arp->op == FRAME_ARP_REQUEST ? frame_mac_broadcast : arp->target_mac, 6);
	memcpy(buf + 6, arp->sender_mac, 6);
	frame_put_be16(buf + 12, FRAME_ETHERTYPE_ARP);
	uint8_t *p = buf + FRAME_ETH_BYTES;
	frame_put_be16(p, 1);                      /* hardware: Ethernet */
	frame_put_be16(p + 2, FRAME_ETHERTYPE_IPV4); /* protocol: IPv4 */
	p[4] = 6;
	p[5] = 4;
	frame_put_be16(p + 6, arp->op);
	memcpy(p + 8, arp->sender_mac, 6);
	frame_put_be32(p + 14, arp->sender_ip);
	memcpy(p + 18, arp->target_mac, 6);
	frame_put_be32(p + 24, arp->target_ip);
	STATIC_ASSERT(FRAME_ETH_BYTES + FRAME_ARP_BYTES <= FRAME_ETH_MIN_BYTES, "ARP fits a runt");
	return FRAME_ETH_MIN_BYTES;
}

enum frame_verdict frame_arp_decode(const uint8_t *buf, size_t len, struct frame_arp *arp)
{
	if (len < FRAME_ETH_BYTES || frame_get_be16(buf + 12) != FRAME_ETHERTYPE_ARP)
		return FRAME_RX_FOREIGN;
	if (len < FRAME_ETH_BYTES + FRAME_ARP_BYTES)
		return FRAME_RX_MALFORMED;
	const uint8_t *p = buf + FRAME_ETH_BYTES;
	if (frame_get_be16(p) != 1 || frame_get_be16(p + 2) != FRAME_ETHERTYPE_IPV4 || p[4] != 6 ||
	    p[5] != 4)
		return FRAME_RX_FOREIGN;
	arp->op = frame_get_be16(p + 6);
	if (arp->op != FRAME_ARP_REQUEST && arp->op != FRAME_ARP_REPLY)
		return FRAME_RX_MALFORMED;
	memcpy(arp->sender_mac, p + 8, 6);
	arp->sender_ip = frame_get_be32(p + 14);
	memcpy(arp->target_mac, p + 18, 6);
	arp->target_ip = frame_get_be32(p + 24);
	return FRAME_RX_OK;
}
