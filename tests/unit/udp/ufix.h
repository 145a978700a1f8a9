/* Fixtures for the UDP transport's unit tests: loops, configurations on loopback addresses
 * 127.77.0.<node>, plain sockets standing in for a peer, and a recorder of deliveries. */
#ifndef SPINDLE_TESTS_UDP_UFIX_H
#define SPINDLE_TESTS_UDP_UFIX_H

#include <stddef.h>
#include <stdint.h>

#include "frame/frame.h"
#include "udp/udp.h"

#define UFX_CLUSTER 0x77u
#define UFX_PORT_BASE 17700
#define UFX_LANES 4
#define UFX_IP(n) (0x7f4d0000u | (n)) /* 127.77.0.n */
#define UFX_RECORDS_MAX 4096

struct loop *ufx_loop(unsigned id);
/* Turns each loop once, `turns` times. */
void ufx_turn(struct loop **loops, unsigned n, unsigned turns);
void ufx_sleep_ms(unsigned ms);

struct udp_xport_config ufx_config(struct loop *loop, uint16_t self, const uint16_t *peers,
				   unsigned npeers);

/* A plain UDP socket bound to ip:port, with a large receive buffer. */
int ufx_socket(uint32_t ip, uint16_t port);
void ufx_sendto(int fd, uint32_t ip, uint16_t port, const void *buf, size_t len);
/* Builds fragment index of a message as node src would send it (spindle header + payload). */
size_t ufx_frame_build(uint8_t *buf, uint16_t src, uint16_t dst, uint16_t lane, uint64_t msg_id,
		       const uint8_t *msg, uint32_t msg_len, uint32_t index, uint32_t stride);

struct ufx_record {
	uint16_t src, lane;
	size_t len;
	uint32_t crc;
};
struct ufx_recorder {
	unsigned count;
	struct ufx_record r[UFX_RECORDS_MAX];
};
void ufx_recv(void *ctx, uint16_t src, uint16_t lane, const uint8_t *msg, size_t len);
void ufx_msg_fill(uint8_t *buf, size_t len, unsigned seed);

#endif
