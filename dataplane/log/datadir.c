/* The node's data directory: one process at a time (an exclusive flock on DIR/LOCK, which
 * the kernel drops when the process dies, even by kill -9), and a format version
 * (DIR/FORMAT) checked before any lane is opened. Plain synchronous system calls: this runs
 * once at start-up, before the loops. */
#define LOG_COMPONENT "log"
#include "log/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"

#define LOG_FORMAT_PREFIX "spindle-data-format "

struct log_datadir {
	int lock_fd;
	char path[LOG_PATH_MAX];
};

PRINTF_FMT(4, 5)
static int log_dd_error(int err, char *buf, size_t cap, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (buf && cap)
		snprintf(buf, cap, "%s", msg);
	LOG_ERROR("%s", msg);
	return err;
}

static int log_fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

static int log_dd_mkdir(const char *path, char *err, size_t cap)
{
	if (mkdir(path, 0755) == 0) {
		char parent[LOG_PATH_MAX];
		snprintf(parent, sizeof(parent), "%s", path);
		char *slash = strrchr(parent, '/');
		if (slash && slash != parent)
			*slash = 0;
		else
			snprintf(parent, sizeof(parent), "%s", slash ? "/" : ".");
		int rc = log_fsync_path(parent);
		if (rc)
			return log_dd_error(rc, err, cap, "cannot sync %s after creating %s: %s",
					    parent, path, strerror(-rc));
		return 0;
	}
	if (errno == EEXIST) {
		struct stat st;
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		return log_dd_error(-ENOTDIR, err, cap, "data directory %s is not a directory",
				    path);
	}
	int e = errno;
	return log_dd_error(-e, err, cap, "cannot create data directory %s: %s", path,
			    strerror(e));
}

static int log_dd_lock(struct log_datadir *dd, char *err, size_t cap)
{
	char lock[LOG_PATH_MAX + 8];
	snprintf(lock, sizeof(lock), "%s/LOCK", dd->path);
	dd->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (dd->lock_fd < 0) {
		int e = errno;
		return log_dd_error(-e, err, cap, "cannot open %s: %s", lock, strerror(e));
	}
	if (flock(dd->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		char owner[32] = "unknown";
		ssize_t n = pread(dd->lock_fd, owner, sizeof(owner) - 1, 0);
		if (n > 0)
			owner[strcspn(owner, "\n")] = 0;
		else
			snprintf(owner, sizeof(owner), "unknown");
		if (e == EWOULDBLOCK)
			return log_dd_error(-EBUSY, err, cap, "data directory %s is in use by "
					    "another process (pid %s)", dd->path, owner);
		return log_dd_error(-e, err, cap, "cannot lock %s: %s", lock, strerror(e));
	}
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(dd->lock_fd, 0) != 0 || pwrite(dd->lock_fd, pid, (size_t)len, 0) != len) {
		int e = errno;
		return log_dd_error(-e, err, cap, "cannot write %s: %s", lock, strerror(e));
	}
	return 0;
}

static bool log_dd_has_lanes(const char *path)
{
	DIR *d = opendir(path);
	bool found = false;
	if (!d)
		return false;
	struct dirent *de;
	while (!found && (de = readdir(d)) != NULL)
		found = strncmp(de->d_name, "lane-", 5) == 0;
	closedir(d);
	return found;
}

static int log_dd_format_write(const struct log_datadir *dd, char *err, size_t cap)
{
	char tmp[LOG_PATH_MAX + 16], fin[LOG_PATH_MAX + 16], body[64];
	snprintf(tmp, sizeof(tmp), "%s/FORMAT.tmp", dd->path);
	snprintf(fin, sizeof(fin), "%s/FORMAT", dd->path);
	int len = snprintf(body, sizeof(body), LOG_FORMAT_PREFIX "%u\n", LOG_FORMAT_VERSION);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = 0;
	if (fd < 0 || write(fd, body, (size_t)len) != len || fsync(fd) != 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (!rc && rename(tmp, fin) != 0)
		rc = -errno;
	if (!rc)
		rc = log_fsync_path(dd->path);
	if (rc)
		return log_dd_error(rc, err, cap, "cannot write %s: %s", fin, strerror(-rc));
	return 0;
}

static int log_dd_format(const struct log_datadir *dd, char *err, size_t cap)
{
	char fin[LOG_PATH_MAX + 16], body[64] = { 0 };
	snprintf(fin, sizeof(fin), "%s/FORMAT", dd->path);
	int fd = open(fin, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (log_dd_has_lanes(dd->path))
			return log_dd_error(-EPROTO, err, cap, "data directory %s holds lanes but "
					    "no FORMAT file: not written by spindle, or damaged",
					    dd->path);
		return log_dd_format_write(dd, err, cap);
	}
	if (fd < 0) {
		int e = errno;
		return log_dd_error(-e, err, cap, "cannot read %s: %s", fin, strerror(e));
	}
	ssize_t n = read(fd, body, sizeof(body) - 1);
	close(fd);
	unsigned version = 0;
	char nl = 0;
	if (n <= 0 || sscanf(body, LOG_FORMAT_PREFIX "%u%c", &version, &nl) != 2 || nl != '\n')
		return log_dd_error(-EPROTO, err, cap, "%s is damaged: expected \"%s%u\"", fin,
				    LOG_FORMAT_PREFIX, LOG_FORMAT_VERSION);
	if (version != LOG_FORMAT_VERSION)
		return log_dd_error(-EPROTO, err, cap, "data directory %s has format version %u; "
				    "this build of spindle reads version %u", dd->path, version,
				    LOG_FORMAT_VERSION);
	return 0;
}

int log_datadir_open(const char *path, struct log_datadir **out, char *err, size_t err_cap)
{
	*out = NULL;
	if (!path || strlen(path) + 32 >= LOG_PATH_MAX)
		return log_dd_error(-ENAMETOOLONG, err, err_cap, "data directory path is too long");
	int rc = log_dd_mkdir(path, err, err_cap);
	if (rc)
		return rc;
	struct log_datadir *dd = calloc(1, sizeof(*dd));
	if (!dd)
		return log_dd_error(-ENOMEM, err, err_cap, "no memory");
	snprintf(dd->path, sizeof(dd->path), "%s", path);
	dd->lock_fd = -1;
	rc = log_dd_lock(dd, err, err_cap);
	if (!rc)
		rc = log_dd_format(dd, err, err_cap);
	if (rc) {
		log_datadir_close(dd);
		return rc;
	}
	*out = dd;
	return 0;
}

void log_datadir_close(struct log_datadir *dd)
{
	if (!dd)
		return;
	if (dd->lock_fd >= 0)
		close(dd->lock_fd);
	free(dd);
}

int log_lane_dir(const char *datadir, uint32_t lane, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/lane-%03u", datadir, lane);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}
