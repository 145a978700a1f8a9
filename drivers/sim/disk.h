/* A simulated disk behind the log's disk table (log/disk.h), for tests and the cluster
 * simulator: files in memory, deterministic from a seed, with what real disks do to a log:
 *
 *  - a write is visible when it completes and durable only after a sync of its file (or
 *    when written with DSYNC); a sync makes durable the writes completed before it started;
 *  - creating, renaming and deleting files is durable only after a sync of the directory;
 *  - a crash (power loss) keeps what was durable, lands each sector of every unsynced or
 *    in-flight write at random (torn writes), keeps a random prefix of the unsynced
 *    directory changes, and drops every open file and operation in flight;
 *  - injected errors on chosen operations; a failed sync forgets the writes it covered, as
 *    Linux does (so a retried sync would lie);
 *  - injected corruption of stored bytes, and a capacity limit (ENOSPC).
 *
 * Operations complete only when the owner steps the disk (sim_disk_step/run), in
 * submission order or, with reorder, in random order. Directories are durable as soon as
 * they are made. Not thread-safe: one owner thread. */
#ifndef SPINDLE_SIM_DISK_H
#define SPINDLE_SIM_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log/disk.h"

#define SIM_DISK_SECTOR_BYTES_DEFAULT 512
#define SIM_DISK_LATENCY_NS_DEFAULT 50000

struct sim_disk;

struct sim_disk_config {
	uint64_t seed;
	uint64_t capacity_bytes;  /* 0: unlimited */
	uint32_t sector_bytes;    /* the unit a torn write lands in; 0: default */
	uint64_t latency_ns;      /* each operation's service time; 0: default */
	bool reorder;             /* complete in random order instead of submission order */
	bool no_direct;           /* refuse O_DIRECT with -EINVAL, as tmpfs did before 6.6 */
};

enum sim_disk_op {
	SIM_DISK_OPEN, SIM_DISK_CLOSE, SIM_DISK_WRITE, SIM_DISK_READ, SIM_DISK_SYNC,
	SIM_DISK_FALLOCATE, SIM_DISK_SIZE, SIM_DISK_RENAME, SIM_DISK_UNLINK, SIM_DISK_MKDIR,
	SIM_DISK_LIST, SIM_DISK_OP_COUNT,
};

struct sim_disk_stats {
	uint64_t ops[SIM_DISK_OP_COUNT];
	uint64_t bytes_written;
	uint64_t crashes;
	uint64_t sectors_torn_landed, sectors_torn_lost;
	uint64_t injected;
};

struct sim_disk *sim_disk_create(const struct sim_disk_config *cfg);
void sim_disk_destroy(struct sim_disk *d);
/* The disk table to hand to log_open(). */
struct log_disk *sim_disk_io(struct sim_disk *d);

/* Completes one operation (calling its callback); returns 1, or 0 if none is in flight. */
int sim_disk_step(struct sim_disk *d);
/* Steps until nothing is in flight (callbacks may start more); returns the steps. */
uint64_t sim_disk_run(struct sim_disk *d);
uint32_t sim_disk_inflight(const struct sim_disk *d);
/* Files and directories open now: a test's check for leaked handles. */
uint32_t sim_disk_open_files(const struct sim_disk *d);
uint64_t sim_disk_now_ns(const struct sim_disk *d);
void sim_disk_advance(struct sim_disk *d, uint64_t ns);

/* Power loss: see above. The disk keeps its durable contents for the next "boot". */
void sim_disk_crash(struct sim_disk *d);
/* The next `times` operations of kind op on a path containing path_part (NULL: any path)
 * complete with err instead. */
void sim_disk_fail(struct sim_disk *d, enum sim_disk_op op, const char *path_part, int err,
		   uint32_t times);
/* XORs mask into len stored bytes of path at off (durable and visible). 0 or -ENOENT. */
int sim_disk_corrupt(struct sim_disk *d, const char *path, uint64_t off, uint32_t len,
		     uint8_t mask);
void sim_disk_capacity_set(struct sim_disk *d, uint64_t bytes);
uint64_t sim_disk_used_bytes(const struct sim_disk *d);
void sim_disk_stats_get(const struct sim_disk *d, struct sim_disk_stats *out);

/* Direct access for tests, outside the operation queue: the visible contents. */
int sim_disk_file_size(const struct sim_disk *d, const char *path, uint64_t *out);
int sim_disk_file_read(const struct sim_disk *d, const char *path, uint64_t off, void *buf,
		       size_t len);
/* Writes durably, creating the file (and making its name durable) if needed. */
int sim_disk_file_write(struct sim_disk *d, const char *path, uint64_t off, const void *buf,
			size_t len);
bool sim_disk_exists(const struct sim_disk *d, const char *path);
/* Removes a file durably. 0 or -ENOENT. */
int sim_disk_remove(struct sim_disk *d, const char *path);
/* Makes a directory (durable at once). 0, -EEXIST or -ENOENT (no parent). */
int sim_disk_mkdir(struct sim_disk *d, const char *path);

#endif
