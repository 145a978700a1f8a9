/* The disk as the log sees it: a small table of asynchronous file operations. drivers/uring
 * implements it on the owning loop's io_uring; drivers/sim/disk implements it in memory with
 * crashes, torn writes, corruption, errors and a capacity limit, for tests.
 *
 * Every operation completes through io->cb(io, res), never inside the call that starts it:
 * res is a file handle (open), a byte count (read, write), 0, or a negative errno. Buffers,
 * paths and the io itself must stay valid until the completion. Writes and reads are
 * positional; a short write is reported as it happened and the log treats it as an error. */
#ifndef SPINDLE_LOG_DISK_H
#define SPINDLE_LOG_DISK_H

#include <stddef.h>
#include <stdint.h>

#define LOG_DISK_NAME_MAX 64        /* longest file name a listing returns */
#define LOG_DISK_IO_DRV_BYTES 112   /* room for a driver's per-operation state */

struct log_disk;
struct log_disk_io;

typedef void (*log_disk_cb)(struct log_disk_io *io, int res);

/* One operation in flight. Embed it in the structure that owns the I/O and find the owner
 * back with container_of() in the callback. */
struct log_disk_io {
	log_disk_cb cb;
	_Alignas(16) unsigned char drv[LOG_DISK_IO_DRV_BYTES];
};

enum log_disk_open_flag {
	LOG_DISK_O_CREATE = 1u << 0, /* create it; -EEXIST if it exists */
	LOG_DISK_O_DIRECT = 1u << 1, /* bypass the page cache; -EINVAL where the fs refuses */
	LOG_DISK_O_RDONLY = 1u << 2,
	LOG_DISK_O_DIR = 1u << 3,    /* a directory, opened to sync it after renames */
};

enum log_disk_write_flag {
	LOG_DISK_W_DSYNC = 1u << 0,  /* durable when it completes (RWF_DSYNC) */
};

enum log_disk_sync_flag {
	LOG_DISK_SYNC_DATA = 1u << 0, /* fdatasync: data and the metadata needed to read it */
};

/* A directory listing: the driver fills names[0..count) and sets truncated when more
 * entries did not fit. */
struct log_disk_names {
	char (*names)[LOG_DISK_NAME_MAX];
	uint32_t cap;
	uint32_t count;
	int truncated;
};

struct log_disk_ops {
	void (*open)(struct log_disk *d, struct log_disk_io *io, const char *path,
		     unsigned flags);
	void (*close)(struct log_disk *d, struct log_disk_io *io, int fh);
	void (*write)(struct log_disk *d, struct log_disk_io *io, int fh, const void *buf,
		      size_t len, uint64_t off, unsigned flags);
	void (*read)(struct log_disk *d, struct log_disk_io *io, int fh, void *buf, size_t len,
		     uint64_t off);
	void (*sync)(struct log_disk *d, struct log_disk_io *io, int fh, unsigned flags);
	/* Allocates [off, off + len) and extends the file to cover it; reads give zeros. */
	void (*fallocate)(struct log_disk *d, struct log_disk_io *io, int fh, uint64_t off,
			  uint64_t len);
	/* The file's size in bytes, stored in *out before the completion. */
	void (*size)(struct log_disk *d, struct log_disk_io *io, int fh, uint64_t *out);
	void (*rename)(struct log_disk *d, struct log_disk_io *io, const char *from,
		       const char *to);
	void (*unlink)(struct log_disk *d, struct log_disk_io *io, const char *path);
	/* -EEXIST if it exists. */
	void (*mkdir)(struct log_disk *d, struct log_disk_io *io, const char *path);
	/* The names in dir, without "." and "..", in no particular order. */
	void (*list)(struct log_disk *d, struct log_disk_io *io, const char *dir,
		     struct log_disk_names *out);
	/* Monotonic time; the simulated disk's own clock in tests. */
	uint64_t (*now_ns)(struct log_disk *d);
};

struct log_disk {
	const struct log_disk_ops *ops;
};

#endif
