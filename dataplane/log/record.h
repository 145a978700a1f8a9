/* The log's on-disk record: a 40-byte little-endian header and a body, padded to 8 bytes.
 *
 *   0  u32 hdr_crc      CRC32C of header bytes 4..39 (so a header is checked on its own)
 *   4  u32 crc          CRC32C of header bytes 8..39 and the body (the whole record)
 *   8  u64 epoch
 *  16  u64 index
 *  24  u64 durable_pos  every byte of the log before this position was durable when this
 *                       record was written (a position is segment << 32 | offset)
 *  32  u32 len          body bytes
 *  36  u16 type         the host's entry type
 *  38  u8  kind         ENTRY, or BASE/RESET: the first record of a segment
 *  39  u8  magic
 *
 * A BASE record names the entry just before the segment's first entry (index, epoch): equal
 * to the log's last entry it continues the log, lower it truncates the log to that entry.
 * A RESET record starts the log afresh after an installed snapshot. A header of zeros is
 * unwritten space. durable_pos tells a torn tail from corruption: a bad record at position p
 * followed by any valid record whose durable_pos is beyond p was once durable, so it is
 * corruption; otherwise it is the tail of a write that never completed. */
#ifndef SPINDLE_LOG_RECORD_H
#define SPINDLE_LOG_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define LOG_RECORD_HEADER_BYTES 40u
#define LOG_RECORD_ALIGN_BYTES 8u
#define LOG_RECORD_MAGIC 0xA5u
#define LOG_RECORD_BODY_BYTES_MAX (4u << 20) /* hard cap on any entry's payload */

enum log_record_kind {
	LOG_RECORD_ENTRY = 1,
	LOG_RECORD_BASE = 2,
	LOG_RECORD_RESET = 3,
};

struct log_record {
	uint64_t epoch;
	uint64_t index;
	uint64_t durable_pos;
	uint32_t len;
	uint16_t type;
	uint8_t kind;
	const uint8_t *body; /* points into the decoded buffer */
};

enum log_record_status {
	LOG_RECORD_OK = 0,
	LOG_RECORD_ZERO,        /* a header of zeros: unwritten space */
	LOG_RECORD_SHORT,       /* the buffer ends inside the header or the body */
	LOG_RECORD_BAD_HEADER,  /* header checksum, magic, kind or length is wrong */
	LOG_RECORD_BAD_BODY,    /* the header is sound but the record checksum is not */
};

/* Bytes a record with a body of len bytes takes on disk, padding included. */
static inline uint32_t log_record_bytes(uint32_t len)
{
	return (LOG_RECORD_HEADER_BYTES + len + LOG_RECORD_ALIGN_BYTES - 1) &
	       ~(LOG_RECORD_ALIGN_BYTES - 1);
}

/* Writes rec (and rec->len bytes from rec->body) to buf, which has room for
 * log_record_bytes(rec->len); the padding is zeroed. Returns the bytes written. */
uint32_t log_record_encode(void *buf, const struct log_record *rec);

/* Decodes the record at the start of buf[0..len). On LOG_RECORD_OK fills *rec (body points
 * into buf) and *consumed (the record's bytes with padding). Never reads past len. */
enum log_record_status log_record_decode(const void *buf, size_t len, struct log_record *rec,
					 uint32_t *consumed);

/* Decodes only the header (no body check): OK, ZERO, SHORT or BAD_HEADER. */
enum log_record_status log_record_decode_header(const void *buf, size_t len,
						struct log_record *rec);

const char *log_record_status_name(enum log_record_status st);

/* Global log positions: a segment's sequence number and the offset in it. */
static inline uint64_t log_pos_make(uint64_t seg_seq, uint64_t off)
{
	return (seg_seq << 32) | off;
}

#endif
