/* Fixtures for the UDP transport's unit tests (see ufix.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "base/crc.h"
#include "loop/loop.h"
#include "ufix.h"

struct loop *ufx_loop(unsigned id)
{
	struct loop_config cfg = { .id = id, .uring_entries = 1024 };
	struct loop *l = loop_create(&cfg);
	assert_non_null(l);
	return l;
}

void ufx_turn(struct loop **loops, unsigned n, unsigned turns)
{
	for (unsigned t = 0; t < turns; t++) {
		for (unsigned i = 0; i < n; i++)
			loop_run_once(loops[i]);
	}
}

void ufx_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

struct udp_xport_config ufx_config(struct loop *loop, uint16_t self, const uint16_t *peers,
				   unsigned npeers)
{
	struct udp_xport_config c = { .loop = loop, .cluster_id = UFX_CLUSTER, .self_node = self,
		.self_ip = UFX_IP(self), .port_base = UFX_PORT_BASE, .lanes = UFX_LANES,
		.sock_buf_bytes = 32 << 20 };
	for (unsigned i = 0; i < npeers; i++)
		c.peers[c.peers_count++] = (struct udp_peer){ .node = peers[i], .ip = UFX_IP(peers[i]) };
	return c;
}

int ufx_socket(uint32_t ip, uint16_t port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	int size = 16 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	struct timeval tv = { .tv_sec = 1 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(ip) };
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

void ufx_sendto(int fd, uint32_t ip, uint16_t port, const void *buf, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(ip) };
	assert_int_equal(sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof(a)), (ssize_t)len);
}

size_t ufx_frame_build(uint8_t *buf, uint16_t src, uint16_t dst, uint16_t lane, uint64_t msg_id,
		       const uint8_t *msg, uint32_t msg_len, uint32_t index, uint32_t stride)
{
	struct frame_hdr h = { .type = FRAME_TYPE_DATA, .cluster_id = UFX_CLUSTER, .src_node = src,
		.dst_node = dst, .lane = lane, .msg_len = msg_len, .msg_id = msg_id,
		.msg_crc = crc32c(msg, msg_len) };
	frame_hdr_frag_set(&h, index, stride);
	memcpy(buf + FRAME_HDR_BYTES, msg + h.frag_offset, h.frag_len);
	frame_hdr_encode(buf, &h);
	return FRAME_HDR_BYTES + h.frag_len;
}

void ufx_recv(void *ctx, uint16_t src, uint16_t lane, const uint8_t *msg, size_t len)
{
	struct ufx_recorder *rec = ctx;
	assert_true(rec->count < UFX_RECORDS_MAX);
	rec->r[rec->count++] = (struct ufx_record){ .src = src, .lane = lane, .len = len,
						    .crc = crc32c(msg, len) };
}

void ufx_msg_fill(uint8_t *buf, size_t len, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
}
