/* The log's disk table (log/disk.h) on the owning loop's io_uring: every operation is one
 * SQE on the loop's ring and completes in the loop's CQE pass, on the loop's thread.
 * Reads, writes (RWF_DSYNC when asked), fdatasync/fsync, fallocate, openat (O_DIRECT when
 * asked), close, renameat, unlinkat and mkdirat go to the kernel asynchronously. Two
 * operations have no io_uring form here and are done in place, then completed through a
 * NOP on the ring so that the completion still arrives later, like every other: a
 * directory listing (readdir, used only when a log opens) and a file's size (fstat of an
 * open file, answered from the inode). */
#ifndef SPINDLE_URING_DISK_H
#define SPINDLE_URING_DISK_H

#include "log/disk.h"

struct loop;
struct uring_disk;

/* A disk table for logs owned by loop. Returns NULL (and logs why) without memory. */
struct uring_disk *uring_disk_create(struct loop *loop);
void uring_disk_destroy(struct uring_disk *d);
struct log_disk *uring_disk_io(struct uring_disk *d);

#endif
