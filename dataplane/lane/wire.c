/* Encoding and bounds-checked decoding of the lanes' messages. */
#include "lane/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FWD_REQ_FIXED_BYTES (8 * 4 + 1 + 4)
#define FWD_REPLY_FIXED_BYTES (8 * 2 + 1 + 4)
#define FWD_ACK_BYTES (8 * 2)

struct wbuf {
	uint8_t *p;
	size_t left;
	bool ok;
};

static void put(struct wbuf *w, const void *src, size_t n)
{
	if (!w->ok || n > w->left) {
		w->ok = false;
		return;
	}
	memcpy(w->p, src, n);
	w->p += n;
	w->left -= n;
}

static void put8(struct wbuf *w, uint8_t v)
{
	put(w, &v, 1);
}

static void put32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	put(w, b, 4);
}

static void put64(struct wbuf *w, uint64_t v)
{
	put32(w, (uint32_t)v);
	put32(w, (uint32_t)(v >> 32));
}

struct rbuf {
	const uint8_t *p;
	size_t left;
	bool ok;
};

static const uint8_t *take(struct rbuf *r, size_t n)
{
	if (!r->ok || n > r->left) {
		r->ok = false;
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

static uint8_t get8(struct rbuf *r)
{
	const uint8_t *p = take(r, 1);
	return p ? p[0] : 0;
}

static uint32_t get32(struct rbuf *r)
{
	const uint8_t *p = take(r, 4);
	return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24 : 0;
}

static uint64_t get64(struct rbuf *r)
{
	uint64_t lo = get32(r);
	return lo | (uint64_t)get32(r) << 32;
}

int lane_wire_kind(const uint8_t *buf, size_t len)
{
	if (len < LANE_WIRE_HEADER_BYTES)
		return -EBADMSG;
	if (buf[0] != LANE_WIRE_VERSION)
		return -EPROTONOSUPPORT;
	if (buf[1] < LANE_MSG_REPL || buf[1] > LANE_MSG_PING)
		return -EBADMSG;
	return buf[1];
}

void lane_wire_header(uint8_t *buf, enum lane_msg_kind kind)
{
	buf[0] = LANE_WIRE_VERSION;
	buf[1] = (uint8_t)kind;
}

static ssize_t wbuf_end(const struct wbuf *w, const uint8_t *start)
{
	return w->ok ? (ssize_t)(w->p - start) : -EMSGSIZE;
}

ssize_t lane_wire_fwd_req_encode(uint8_t *buf, size_t cap, const struct lane_fwd_req *m,
				 uint32_t argc, const struct resp_arg *argv)
{
	struct wbuf w = { buf, cap, cap >= LANE_WIRE_HEADER_BYTES };
	if (w.ok) {
		lane_wire_header(buf, LANE_MSG_FWD_REQ);
		w.p += LANE_WIRE_HEADER_BYTES;
		w.left -= LANE_WIRE_HEADER_BYTES;
	}
	put64(&w, m->incarnation);
	put64(&w, m->epoch);
	put64(&w, m->seq);
	put64(&w, m->ack_upto);
	put8(&w, m->proto);
	put32(&w, argc);
	for (uint32_t i = 0; i < argc; i++) {
		if (argv[i].len > UINT32_MAX) {
			w.ok = false;
			break;
		}
		put32(&w, (uint32_t)argv[i].len);
		put(&w, argv[i].ptr, argv[i].len);
	}
	return wbuf_end(&w, buf);
}

ssize_t lane_wire_fwd_reply_encode(uint8_t *buf, size_t cap, const struct lane_fwd_reply *m)
{
	struct wbuf w = { buf, cap, cap >= LANE_WIRE_HEADER_BYTES && m->len <= UINT32_MAX };
	if (w.ok) {
		lane_wire_header(buf, LANE_MSG_FWD_REPLY);
		w.p += LANE_WIRE_HEADER_BYTES;
		w.left -= LANE_WIRE_HEADER_BYTES;
	}
	put64(&w, m->incarnation);
	put64(&w, m->seq);
	put8(&w, m->status);
	put32(&w, (uint32_t)m->len);
	put(&w, m->reply, m->len);
	return wbuf_end(&w, buf);
}

ssize_t lane_wire_fwd_ack_encode(uint8_t *buf, size_t cap, const struct lane_fwd_ack *m)
{
	struct wbuf w = { buf, cap, cap >= LANE_WIRE_HEADER_BYTES };
	if (w.ok) {
		lane_wire_header(buf, LANE_MSG_FWD_ACK);
		w.p += LANE_WIRE_HEADER_BYTES;
		w.left -= LANE_WIRE_HEADER_BYTES;
	}
	put64(&w, m->incarnation);
	put64(&w, m->ack_upto);
	return wbuf_end(&w, buf);
}

static struct rbuf rbuf_after_header(const uint8_t *buf, size_t len)
{
	struct rbuf r = { buf, len, len >= LANE_WIRE_HEADER_BYTES };
	take(&r, LANE_WIRE_HEADER_BYTES);
	return r;
}

int lane_wire_fwd_req_decode(const uint8_t *buf, size_t len, struct lane_fwd_req *m)
{
	struct rbuf r = rbuf_after_header(buf, len);
	m->incarnation = get64(&r);
	m->epoch = get64(&r);
	m->seq = get64(&r);
	m->ack_upto = get64(&r);
	m->proto = get8(&r);
	m->argc = get32(&r);
	m->args = r.p;
	m->args_len = r.left;
	if (!r.ok || (m->proto != 2 && m->proto != 3) || m->argc == 0 || m->seq == 0)
		return -EBADMSG;
	/* Walk the arguments once so that lane_wire_fwd_args() cannot fail on lengths. */
	struct rbuf a = { m->args, m->args_len, true };
	for (uint32_t i = 0; i < m->argc && a.ok; i++)
		take(&a, get32(&a));
	return a.ok && a.left == 0 ? 0 : -EBADMSG;
}

int lane_wire_fwd_args(const struct lane_fwd_req *m, struct resp_argv *argv)
{
	if (m->argc > argv->cap) {
		struct resp_arg *grown = realloc(argv->argv, m->argc * sizeof(*grown));
		if (grown == NULL)
			return -ENOMEM;
		argv->argv = grown;
		argv->cap = m->argc;
	}
	struct rbuf a = { m->args, m->args_len, true };
	for (uint32_t i = 0; i < m->argc; i++) {
		uint32_t n = get32(&a);
		argv->argv[i].ptr = (const char *)take(&a, n);
		argv->argv[i].len = n;
	}
	argv->argc = m->argc;
	return a.ok ? 0 : -EBADMSG;
}

int lane_wire_fwd_reply_decode(const uint8_t *buf, size_t len, struct lane_fwd_reply *m)
{
	struct rbuf r = rbuf_after_header(buf, len);
	m->incarnation = get64(&r);
	m->seq = get64(&r);
	m->status = get8(&r);
	uint32_t n = get32(&r);
	m->reply = take(&r, n);
	m->len = n;
	if (!r.ok || r.left != 0 || m->status > LANE_FWD_NOT_PRIMARY)
		return -EBADMSG;
	return 0;
}

int lane_wire_fwd_ack_decode(const uint8_t *buf, size_t len, struct lane_fwd_ack *m)
{
	struct rbuf r = rbuf_after_header(buf, len);
	m->incarnation = get64(&r);
	m->ack_upto = get64(&r);
	return r.ok && r.left == 0 ? 0 : -EBADMSG;
}

int lane_wire_batch_next(const uint8_t *buf, size_t len, size_t *pos, const uint8_t **msg,
			 size_t *msg_len)
{
	if (*pos == len)
		return 0;
	struct rbuf r = { buf + *pos, len - *pos, *pos <= len };
	uint32_t n = get32(&r);
	const uint8_t *p = take(&r, n);
	if (!r.ok || n < LANE_WIRE_HEADER_BYTES || p[1] == LANE_MSG_FWD_BATCH || p[1] == LANE_MSG_REPL)
		return -EBADMSG;
	*msg = p;
	*msg_len = n;
	*pos = len - r.left;
	return 1;
}
