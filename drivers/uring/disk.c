/* The disk table on the loop's io_uring (see disk.h). Each log_disk_io carries its own
 * loop_uring_op in its driver area, so an operation in flight costs no allocation; the
 * loop calls back with the CQE and the result goes to the log unchanged (-errno on error). */
#define LOG_COMPONENT "uring-disk"
#include "uring/disk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <liburing.h>

#include "base/clock.h"
#include "base/compiler.h"
#include "base/log.h"
#include "base/panic.h"
#include "loop/loop.h"

struct uring_disk {
	struct log_disk base;
	struct loop *loop;
};

/* Lives in log_disk_io.drv for the operation's lifetime. */
struct uring_disk_op {
	struct loop_uring_op uop;
	int res;          /* for operations done in place: the result the NOP delivers */
	bool in_place;
};

STATIC_ASSERT(sizeof(struct uring_disk_op) <= LOG_DISK_IO_DRV_BYTES,
	      "a disk operation's state fits in its io");

static struct uring_disk *uring_of(struct log_disk *b)
{
	return container_of(b, struct uring_disk, base);
}

static struct uring_disk_op *op_of(struct log_disk_io *io)
{
	return (struct uring_disk_op *)(void *)io->drv;
}

static void uring_disk_complete(struct loop *loop, struct loop_uring_op *uop,
				const struct io_uring_cqe *cqe)
{
	(void)loop;
	struct uring_disk_op *op = container_of(uop, struct uring_disk_op, uop);
	struct log_disk_io *io = container_of((void *)op, struct log_disk_io, drv);
	io->cb(io, op->in_place ? op->res : cqe->res);
}

/* A fresh SQE for io, with the op's user data (restored after the prep helper). */
static struct io_uring_sqe *uring_disk_sqe(struct log_disk *b, struct log_disk_io *io)
{
	struct uring_disk_op *op = op_of(io);
	op->uop.cb = uring_disk_complete;
	op->in_place = false;
	return loop_sqe_get(uring_of(b)->loop, &op->uop);
}

static void uring_disk_set(struct io_uring_sqe *sqe, struct log_disk_io *io)
{
	io_uring_sqe_set_data(sqe, &op_of(io)->uop);
}

/* Completes io with res through a NOP, so that the callback still comes later. */
static void uring_disk_later(struct log_disk *b, struct log_disk_io *io, int res)
{
	struct io_uring_sqe *sqe = uring_disk_sqe(b, io);
	op_of(io)->in_place = true;
	op_of(io)->res = res;
	io_uring_prep_nop(sqe);
	uring_disk_set(sqe, io);
}

static void ud_open(struct log_disk *b, struct log_disk_io *io, const char *path,
		    unsigned flags)
{
	int oflags = O_CLOEXEC;
	if (flags & LOG_DISK_O_DIR)
		oflags |= O_DIRECTORY | O_RDONLY;
	else
		oflags |= (flags & LOG_DISK_O_RDONLY) ? O_RDONLY : O_RDWR;
	if (flags & LOG_DISK_O_CREATE)
		oflags |= O_CREAT | O_EXCL;
	if (flags & LOG_DISK_O_DIRECT)
		oflags |= O_DIRECT;
	struct io_uring_sqe *sqe = uring_disk_sqe(b, io);
	io_uring_prep_openat(sqe, AT_FDCWD, path, oflags, 0644);
	uring_disk_set(sqe, io);
}

static void ud_close(struct log_disk *b, struct log_disk_io *io, int fh)
{
	struct io_uring_sqe *sqe = uring_disk_sqe(b, io);
	io_uring_prep_close(sqe, fh);
	uring_disk_set(sqe, io);
}

static void ud_write(struct log_disk *b, struct log_disk_io *io, int fh, const void *buf,
		     size_t len, uint64_t off, unsigned flags)
{
	ASSERT(len <= UINT32_MAX);
	struct io_uring_sqe *sqe = uring_disk_sqe(b, io);
	io_uring_prep_write(sqe, fh, buf, (unsigned)len, off);
	if (flags & LOG_DISK_W_DSYNC)
		sqe->rw_flags = RWF_DSYNC;
	uring_disk_set(sqe, io);
}

static void ud_read(struct log_disk *b, struct log_disk_io *io, int fh, void *buf, size_t len,
		    uint64_t off)
{
	ASSERT(len <= UINT32_MAX);
	struct io_uring_sqe *sqe = uring_disk_sqe(b, io);
	io_uring_prep_read(sqe, fh, buf, (unsigned)len, off);
	uring_disk_set(sqe, io);
}

static void ud_sync(struct log_disk *b, struct log_disk_io *io, int fh, unsigned flags)
{
	struct io_uring_sqe *sqe = uring_disk_sqe(b, io);
	io_uring_prep_fsync(sqe, fh, (flags & LOG_DISK_SYNC_DATA) ? IORING_FSYNC_DATASYNC : 0);
	uring_disk_set(sqe, io);
}

static void ud_fallocate(struct log_disk *b, struct log_disk_io *io, int fh, uint64_t off,
			 uint64_t len)
{
	struct io_uring_sqe *sqe = uring_disk_sqe(b, io);
	io_uring_prep_fallocate(sqe, fh, 0, (off_t)off, (off_t)len);
	uring_disk_set(sqe, io);
}

static void ud_size(struct log_disk *b, struct log_disk_io *io, int fh, uint64_t *out)
{
	struct stat st;
	int res = fstat(fh, &st) == 0 ? 0 : -errno;
	if (res == 0)
		*out = (uint64_t)st.st_size;
	uring_disk_later(b, io, res);
}

static void ud_rename(struct log_disk *b, struct log_disk_io *io, const char *from,
		      const char *to)
{
	struct io_uring_sqe *sqe = uring_disk_sqe(b, io);
	io_uring_prep_renameat(sqe, AT_FDCWD, from, AT_FDCWD, to, 0);
	uring_disk_set(sqe, io);
}

static void ud_unlink(struct log_disk *b, struct log_disk_io *io, const char *path)
{
	struct io_uring_sqe *sqe = uring_disk_sqe(b, io);
	io_uring_prep_unlinkat(sqe, AT_FDCWD, path, 0);
	uring_disk_set(sqe, io);
}

static void ud_mkdir(struct log_disk *b, struct log_disk_io *io, const char *path)
{
	struct io_uring_sqe *sqe = uring_disk_sqe(b, io);
	io_uring_prep_mkdirat(sqe, AT_FDCWD, path, 0755);
	uring_disk_set(sqe, io);
}

static int ud_readdir(const char *dir, struct log_disk_names *out)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	out->count = 0;
	out->truncated = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (out->count == out->cap) {
			out->truncated = 1;
			break;
		}
		size_t n = MIN(strlen(de->d_name), (size_t)LOG_DISK_NAME_MAX - 1);
		memcpy(out->names[out->count], de->d_name, n);
		out->names[out->count++][n] = 0;
	}
	closedir(d);
	return 0;
}

static void ud_list(struct log_disk *b, struct log_disk_io *io, const char *dir,
		    struct log_disk_names *out)
{
	uring_disk_later(b, io, ud_readdir(dir, out));
}

static uint64_t ud_now(struct log_disk *b)
{
	(void)b;
	return time_mono_ns();
}

static const struct log_disk_ops uring_disk_ops = {
	.open = ud_open, .close = ud_close, .write = ud_write, .read = ud_read,
	.sync = ud_sync, .fallocate = ud_fallocate, .size = ud_size, .rename = ud_rename,
	.unlink = ud_unlink, .mkdir = ud_mkdir, .list = ud_list, .now_ns = ud_now,
};

struct uring_disk *uring_disk_create(struct loop *loop)
{
	struct uring_disk *d = calloc(1, sizeof(*d));
	if (!d) {
		LOG_ERROR("no memory for a disk table");
		return NULL;
	}
	d->base.ops = &uring_disk_ops;
	d->loop = loop;
	return d;
}

void uring_disk_destroy(struct uring_disk *d)
{
	free(d);
}

struct log_disk *uring_disk_io(struct uring_disk *d)
{
	return &d->base;
}
