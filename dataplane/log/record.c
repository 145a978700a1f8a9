/* Encoding and checking of log records (layout in record.h). The decoder never trusts a
 * length before the header checksum has vouched for it, and never reads past its buffer. */
#include "log/record.h"

#include <string.h>

#include "base/crc.h"
#include "base/panic.h"

STATIC_ASSERT(LOG_RECORD_HEADER_BYTES % LOG_RECORD_ALIGN_BYTES == 0,
	      "records stay 8-byte aligned");

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint32_t log_record_encode(void *buf, const struct log_record *rec)
{
	ASSERT(rec->len <= LOG_RECORD_BODY_BYTES_MAX);
	ASSERT(rec->kind == LOG_RECORD_ENTRY || rec->len == 0);
	uint8_t *p = buf;
	put_le64(p + 8, rec->epoch);
	put_le64(p + 16, rec->index);
	put_le64(p + 24, rec->durable_pos);
	put_le32(p + 32, rec->len);
	put_le16(p + 36, rec->type);
	p[38] = rec->kind;
	p[39] = LOG_RECORD_MAGIC;
	if (rec->len)
		memcpy(p + LOG_RECORD_HEADER_BYTES, rec->body, rec->len);
	uint32_t total = log_record_bytes(rec->len);
	memset(p + LOG_RECORD_HEADER_BYTES + rec->len, 0,
	       total - LOG_RECORD_HEADER_BYTES - rec->len);
	uint32_t crc = crc32c_extend(crc32c(p + 8, LOG_RECORD_HEADER_BYTES - 8),
				     p + LOG_RECORD_HEADER_BYTES, rec->len);
	put_le32(p + 4, crc);
	put_le32(p, crc32c(p + 4, LOG_RECORD_HEADER_BYTES - 4));
	return total;
}

static int all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

enum log_record_status log_record_decode_header(const void *buf, size_t len,
						struct log_record *rec)
{
	const uint8_t *p = buf;
	if (len < LOG_RECORD_HEADER_BYTES)
		return LOG_RECORD_SHORT;
	if (all_zero(p, LOG_RECORD_HEADER_BYTES))
		return LOG_RECORD_ZERO;
	if (p[39] != LOG_RECORD_MAGIC ||
	    get_le32(p) != crc32c(p + 4, LOG_RECORD_HEADER_BYTES - 4))
		return LOG_RECORD_BAD_HEADER;
	rec->epoch = get_le64(p + 8);
	rec->index = get_le64(p + 16);
	rec->durable_pos = get_le64(p + 24);
	rec->len = get_le32(p + 32);
	rec->type = get_le16(p + 36);
	rec->kind = p[38];
	rec->body = p + LOG_RECORD_HEADER_BYTES;
	if (rec->kind < LOG_RECORD_ENTRY || rec->kind > LOG_RECORD_RESET)
		return LOG_RECORD_BAD_HEADER;
	if (rec->len > LOG_RECORD_BODY_BYTES_MAX ||
	    (rec->kind != LOG_RECORD_ENTRY && rec->len != 0))
		return LOG_RECORD_BAD_HEADER;
	return LOG_RECORD_OK;
}

enum log_record_status log_record_decode(const void *buf, size_t len, struct log_record *rec,
					 uint32_t *consumed)
{
	enum log_record_status st = log_record_decode_header(buf, len, rec);
	if (st != LOG_RECORD_OK)
		return st;
	const uint8_t *p = buf;
	if (len < log_record_bytes(rec->len))
		return LOG_RECORD_SHORT;
	uint32_t crc = crc32c_extend(crc32c(p + 8, LOG_RECORD_HEADER_BYTES - 8),
				     p + LOG_RECORD_HEADER_BYTES, rec->len);
	if (crc != get_le32(p + 4))
		return LOG_RECORD_BAD_BODY;
	*consumed = log_record_bytes(rec->len);
	return LOG_RECORD_OK;
}

const char *log_record_status_name(enum log_record_status st)
{
	switch (st) {
	case LOG_RECORD_OK: return "ok";
	case LOG_RECORD_ZERO: return "unwritten";
	case LOG_RECORD_SHORT: return "cut short";
	case LOG_RECORD_BAD_HEADER: return "bad header";
	case LOG_RECORD_BAD_BODY: return "bad record checksum";
	}
	return "unknown";
}
