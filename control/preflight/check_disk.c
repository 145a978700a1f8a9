/* The data directory: usable (exists and is writable, or can be created), of this build's
 * format, holding the configured number of lanes, not in use by a running spindled; on a
 * filesystem that keeps data across a reboot and takes O_DIRECT; with room for the logs. */
#include "preflight/preflight.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "log/log.h"

#define DISK_PROBE_BYTES 4096u
#define FS_EXT4 0xef53
#define FS_XFS 0x58465342
#define FS_BTRFS 0x9123683e
#define FS_TMPFS 0x01021994
#define FS_RAMFS 0x858458f6
#define FS_NFS 0x6969
#define FS_OVERLAY 0x794c7630
#define FS_F2FS 0xf2f52010
#define FS_ZFS 0x2fc12fc1

/* The data directory if it exists, else its nearest existing ancestor (where it will be
 * created). Returns whether the directory itself exists. */
static bool disk_dir_or_parent(const char *data_dir, char *out, size_t cap)
{
	struct stat st;
	snprintf(out, cap, "%s", data_dir);
	if (stat(out, &st) == 0)
		return S_ISDIR(st.st_mode); /* a file there leaves out naming it */
	for (;;) {
		char *slash = strrchr(out, '/');
		if (slash == NULL) {
			snprintf(out, cap, ".");
			return false;
		}
		if (slash == out) {
			out[1] = '\0';
			return false;
		}
		*slash = '\0';
		if (stat(out, &st) == 0)
			return false;
	}
}

/* lane-NNN directories: how many, and the highest lane number + 1. */
static uint32_t disk_lanes_found(const char *dir, uint64_t *bytes)
{
	DIR *d = opendir(dir);
	uint32_t top = 0;
	struct dirent *de;
	char path[PREFLIGHT_PATH_BYTES + 300];
	while (d != NULL && (de = readdir(d)) != NULL) {
		unsigned lane;
		if (sscanf(de->d_name, "lane-%u", &lane) != 1)
			continue;
		top = lane + 1 > top ? lane + 1 : top;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		DIR *ld = opendir(path);
		struct dirent *fe;
		while (ld != NULL && (fe = readdir(ld)) != NULL) {
			struct stat st;
			char file[sizeof(path) + 300];
			snprintf(file, sizeof(file), "%s/%s", path, fe->d_name);
			if (stat(file, &st) == 0 && S_ISREG(st.st_mode))
				*bytes += (uint64_t)st.st_blocks * 512;
		}
		if (ld != NULL)
			closedir(ld);
	}
	if (d != NULL)
		closedir(d);
	return top;
}

/* The pid holding DIR/LOCK (from /proc/locks), or 0. */
static long disk_lock_holder(const struct preflight *pf, const char *dir)
{
	char lock[PREFLIGHT_PATH_BYTES + 8], full[PREFLIGHT_PATH_BYTES], line[256], kind[16];
	struct stat st;
	snprintf(lock, sizeof(lock), "%s/LOCK", dir);
	if (stat(lock, &st) != 0)
		return 0;
	FILE *f = fopen(preflight_path(pf, "/proc/locks", full, sizeof(full)), "r");
	long holder = 0;
	while (f != NULL && holder == 0 && fgets(line, sizeof(line), f) != NULL) {
		long pid;
		unsigned maj, min;
		unsigned long ino;
		if (sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%lu", kind, &pid, &maj, &min, &ino) == 5 &&
		    strcmp(kind, "FLOCK") == 0 && ino == st.st_ino && maj == major(st.st_dev) &&
		    min == minor(st.st_dev))
			holder = pid;
	}
	if (f != NULL)
		fclose(f);
	return holder;
}

/* An existing data directory: its format, its lanes, whether a spindled holds it. */
static void disk_check_existing(struct preflight *pf, const char *dir)
{
	char format[64] = "", path[PREFLIGHT_PATH_BYTES + 16], fix[PREFLIGHT_TEXT_BYTES];
	unsigned version = 0;
	uint64_t bytes = 0;
	snprintf(path, sizeof(path), "%s/FORMAT", dir);
	FILE *f = fopen(path, "r");
	bool has_format = f != NULL;
	if (f != NULL) {
		if (fgets(format, sizeof(format), f) == NULL ||
		    sscanf(format, "spindle-data-format %u", &version) != 1)
			version = 0;
		fclose(f);
	}
	uint32_t lanes = disk_lanes_found(dir, &bytes);
	long holder = disk_lock_holder(pf, dir);
	if (has_format && version != LOG_FORMAT_VERSION) {
		preflight_add(pf, "data-dir", PREFLIGHT_FAIL, "run the spindled that wrote it, or "
			      "restore the node from its peers into an empty directory", "%s holds "
			      "data of format %u; this build reads format %u", dir, version,
			      LOG_FORMAT_VERSION);
	} else if (lanes > 0 && lanes != pf->conf.lanes) {
		snprintf(fix, sizeof(fix), "set lanes %u, as when the data was written (lanes is "
			 "fixed for the cluster's life: another count maps keys to other lanes)", lanes);
		preflight_add(pf, "data-dir", PREFLIGHT_FAIL, fix, "%s holds lanes 0-%u but lanes is %u",
			      dir, lanes - 1, pf->conf.lanes);
	} else if (access(dir, W_OK | X_OK) != 0) {
		pf->data_dir_usable = false;
		preflight_add(pf, "data-dir", PREFLIGHT_FAIL, "chown it to the user spindled runs as",
			      "%s is not writable by uid %d", dir, (int)geteuid());
	} else if (holder != 0) {
		preflight_add(pf, "data-dir", PREFLIGHT_WARN, "stop that spindled first, or check "
			      "another node's file", "%s is in use by a running spindled (pid %ld): a "
			      "second one would refuse to start", dir, holder);
	} else {
		preflight_add(pf, "data-dir", PREFLIGHT_PASS, NULL, "%s: %s %u, %u lane%s", dir,
			      has_format ? "data of format" : "no data yet, this build writes format",
			      LOG_FORMAT_VERSION, lanes, lanes == 1 ? "" : "s");
	}
}

/* Whether a directory can be made in dir: makes one and removes it. 0 or -errno. */
static int disk_probe_mkdir(const char *dir)
{
	char path[PREFLIGHT_PATH_BYTES + 64];
	snprintf(path, sizeof(path), "%s/.spindle-preflight-%d", dir, (int)getpid());
	if (mkdir(path, 0700) != 0)
		return -errno;
	rmdir(path);
	return 0;
}

void preflight_check_data_dir(struct preflight *pf)
{
	const struct conf *c = &pf->conf;
	char dir[PREFLIGHT_PATH_BYTES];
	struct stat st;
	if (c->durability != CONF_DURABILITY_DISK) {
		preflight_add(pf, "data-dir", PREFLIGHT_SKIP, NULL, "durability is memory: nothing on disk");
		return;
	}
	pf->data_dir_usable = true;
	if (disk_dir_or_parent(c->data_dir, dir, sizeof(dir))) {
		disk_check_existing(pf, dir);
		return;
	}
	pf->data_dir_usable = false;
	int rc = stat(dir, &st) != 0 ? -errno : S_ISDIR(st.st_mode) ? disk_probe_mkdir(dir) : -ENOTDIR;
	if (strcmp(dir, c->data_dir) == 0)
		preflight_add(pf, "data-dir", PREFLIGHT_FAIL, "give data-dir a directory",
			      "%s exists and is not a directory", c->data_dir);
	else if (rc != 0)
		preflight_add(pf, "data-dir", PREFLIGHT_FAIL, "create it as root: install -d -m 0750 "
			      "DIR (and chown it to the user spindled runs as)", "%s does not exist "
			      "and cannot be created in %s: %s", c->data_dir, dir, strerror(-rc));
	else
		pf->data_dir_usable = true;
	if (pf->data_dir_usable)
		preflight_add(pf, "data-dir", PREFLIGHT_PASS, NULL, "%s does not exist yet; spindled "
			      "creates it in %s", c->data_dir, dir);
}

static const char *disk_fs_name(long type)
{
	switch (type) {
	case FS_EXT4: return "ext4";
	case FS_XFS: return "xfs";
	case FS_BTRFS: return "btrfs";
	case FS_TMPFS: return "tmpfs";
	case FS_RAMFS: return "ramfs";
	case FS_NFS: return "nfs";
	case FS_OVERLAY: return "overlayfs";
	case FS_F2FS: return "f2fs";
	case FS_ZFS: return "zfs";
	}
	return "an unknown filesystem";
}

/* Writes one aligned block with O_DIRECT and flushes it: 0, or the -errno of the step. */
static int disk_probe_direct(const char *dir, const char **step)
{
	char path[PREFLIGHT_PATH_BYTES + 64];
	snprintf(path, sizeof(path), "%s/.spindle-preflight-%d", dir, (int)getpid());
	*step = "open with O_DIRECT";
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_DIRECT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	void *block = NULL;
	int rc = posix_memalign(&block, DISK_PROBE_BYTES, DISK_PROBE_BYTES) == 0 ? 0 : -ENOMEM;
	if (rc == 0) {
		memset(block, 0, DISK_PROBE_BYTES);
		*step = "aligned write";
		ssize_t n = pwrite(fd, block, DISK_PROBE_BYTES, 0);
		rc = n == (ssize_t)DISK_PROBE_BYTES ? 0 : n < 0 ? -errno : -EIO;
	}
	if (rc == 0) {
		*step = "fdatasync";
		rc = fdatasync(fd) == 0 ? 0 : -errno;
	}
	free(block);
	close(fd);
	unlink(path);
	return rc;
}

void preflight_check_filesystem(struct preflight *pf)
{
	char dir[PREFLIGHT_PATH_BYTES];
	struct statfs sf;
	if (pf->conf.durability != CONF_DURABILITY_DISK) {
		preflight_add(pf, "filesystem", PREFLIGHT_SKIP, NULL, "durability is memory");
		return;
	}
	disk_dir_or_parent(pf->conf.data_dir, dir, sizeof(dir));
	if (!pf->data_dir_usable || statfs(dir, &sf) != 0) {
		preflight_add(pf, "filesystem", PREFLIGHT_SKIP, NULL, "%s cannot be probed (see "
			      "data-dir)", pf->conf.data_dir);
		return;
	}
	const char *fs = disk_fs_name((long)sf.f_type), *step = "";
	if (sf.f_type == FS_TMPFS || sf.f_type == FS_RAMFS) {
		preflight_add(pf, "filesystem", PREFLIGHT_WARN, "put data-dir on a disk (ext4 or xfs)",
			      "%s is on %s: nothing survives a reboot, so a majority rebooting at once "
			      "loses acknowledged writes", dir, fs);
		return;
	}
	int rc = disk_probe_direct(dir, &step);
	if (rc == -EINVAL && strcmp(step, "open with O_DIRECT") == 0)
		preflight_add(pf, "filesystem", PREFLIGHT_WARN, "use ext4 or xfs for data-dir",
			      "%s (%s) refuses O_DIRECT: the log falls back to buffered writes with "
			      "fdatasync (still durable, slower)", dir, fs);
	else if (rc != 0)
		preflight_add(pf, "filesystem", PREFLIGHT_FAIL, "check the device (dmesg) and the "
			      "filesystem's mount options", "%s (%s): %s failed: %s", dir, fs, step,
			      strerror(-rc));
	else if (sf.f_type == FS_NFS || sf.f_type == FS_OVERLAY)
		preflight_add(pf, "filesystem", PREFLIGHT_WARN, "use a local ext4 or xfs for data-dir",
			      "%s is on %s: O_DIRECT and fdatasync work, but flushes there are slow "
			      "or not what they seem", dir, fs);
	else
		preflight_add(pf, "filesystem", PREFLIGHT_PASS, NULL, "%s is on %s: O_DIRECT writes "
			      "of %u bytes and fdatasync work", dir, fs, DISK_PROBE_BYTES);
}

void preflight_check_disk_space(struct preflight *pf)
{
	const struct conf *c = &pf->conf;
	char dir[PREFLIGHT_PATH_BYTES], avail_h[32], min_h[32], rec_h[32], fix[PREFLIGHT_TEXT_BYTES];
	struct statvfs sv;
	if (c->durability != CONF_DURABILITY_DISK) {
		preflight_add(pf, "disk-space", PREFLIGHT_SKIP, NULL, "durability is memory");
		return;
	}
	bool exists = disk_dir_or_parent(c->data_dir, dir, sizeof(dir));
	if (!pf->data_dir_usable || statvfs(dir, &sv) != 0) {
		preflight_add(pf, "disk-space", PREFLIGHT_SKIP, NULL, "%s cannot be probed (see "
			      "data-dir)", c->data_dir);
		return;
	}
	uint64_t used = 0;
	if (exists)
		disk_lanes_found(dir, &used);
	uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	uint64_t min = (uint64_t)c->lanes * 2 * c->segment_bytes;
	uint64_t rec = (uint64_t)c->lanes * (c->snapshot_every_bytes + 2 * c->segment_bytes);
	preflight_bytes_text(avail, avail_h, sizeof(avail_h));
	preflight_bytes_text(min, min_h, sizeof(min_h));
	preflight_bytes_text(rec, rec_h, sizeof(rec_h));
	snprintf(fix, sizeof(fix), "free space on %s, or lower segment-bytes (only before the "
		 "first start: lanes is fixed)", dir);
	if (avail + used < min)
		preflight_add(pf, "disk-space", PREFLIGHT_FAIL, fix, "%s free; the logs' preallocated "
			      "segments alone take %s (lanes %u x 2 x segment-bytes)", avail_h, min_h,
			      c->lanes);
	else if (avail + used < rec)
		preflight_add(pf, "disk-space", PREFLIGHT_WARN, fix, "%s free; the logs take up to "
			      "about %s between snapshots (lanes x (snapshot-every-bytes + 2 x "
			      "segment-bytes)), plus the snapshots", avail_h, rec_h);
	else
		preflight_add(pf, "disk-space", PREFLIGHT_PASS, NULL, "%s free; the logs take %s to "
			      "about %s, plus the snapshots (about the dataset's size)", avail_h,
			      min_h, rec_h);
}
