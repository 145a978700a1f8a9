/* The simulated disk (see disk.h). Files are inodes with two images: what reads see
 * (visible) and what survives a crash (durable), plus the list of writes completed since
 * the last sync. Names live in two tables the same way, with the list of directory changes
 * since the last directory sync. Everything random comes from one seeded generator. */
#include "sim/disk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "base/panic.h"

#define SIM_PATH_MAX 256
#define SIM_FAULTS_MAX 32
#define SIM_DIRECT_ALIGN 512

enum sim_pend_kind { SIM_PEND_WRITE, SIM_PEND_ALLOC };
enum sim_ns_kind { SIM_NS_CREATE, SIM_NS_RENAME, SIM_NS_UNLINK };

struct sim_pending {
	uint64_t seq;
	enum sim_pend_kind kind;
	uint64_t off, len;
	uint8_t *data;
};

struct sim_image {
	uint8_t *bytes;
	uint64_t size, cap;
};

struct sim_inode {
	bool live;
	struct sim_image vis, dur;
	struct sim_pending *pend;
	uint32_t npend, cappend;
	uint64_t seq;
	uint32_t handles;
};

struct sim_name {
	char path[SIM_PATH_MAX];
	int32_t ino;
};

struct sim_nsop {
	enum sim_ns_kind kind;
	char a[SIM_PATH_MAX], b[SIM_PATH_MAX];
	int32_t ino;
};

struct sim_handle {
	bool used, dir, direct;
	int32_t ino;
	char path[SIM_PATH_MAX];
};

struct sim_op {
	enum sim_disk_op kind;
	struct log_disk_io *io;
	int fh;
	const void *wbuf;
	void *rbuf;
	size_t len;
	uint64_t off;
	unsigned flags;
	uint64_t *out;
	struct log_disk_names *names;
	uint64_t due_ns;
	uint64_t sync_upto;
	char path[SIM_PATH_MAX], path2[SIM_PATH_MAX];
};

struct sim_fault {
	enum sim_disk_op op;
	char part[SIM_PATH_MAX];
	int err;
	uint32_t times;
};

struct sim_disk {
	struct log_disk base;
	struct sim_disk_config cfg;
	uint64_t rng;
	uint64_t now;
	struct sim_inode *inodes;
	uint32_t ninodes, capinodes;
	struct sim_name *vnames, *dnames;
	uint32_t nvnames, capvnames, ndnames, capdnames;
	struct sim_nsop *nsops;
	uint32_t nnsops, capnsops;
	char (*dirs)[SIM_PATH_MAX];
	uint32_t ndirs, capdirs;
	struct sim_handle *handles;
	uint32_t nhandles, caphandles;
	struct sim_op **ops;
	uint32_t nops, capops;
	struct sim_fault faults[SIM_FAULTS_MAX];
	uint32_t nfaults;
	struct sim_disk_stats st;
};

#define SIM_GROW(arr, n, cap)                                                     \
	do {                                                                      \
		if ((n) == (cap)) {                                               \
			uint32_t c_ = (cap) ? (cap) * 2 : 16;                     \
			void *p_ = realloc((arr), c_ * sizeof(*(arr)));           \
			ASSERT_MSG(p_, "sim disk: out of memory");                \
			(arr) = p_;                                               \
			memset((arr) + (cap), 0, (c_ - (cap)) * sizeof(*(arr)));  \
			(cap) = c_;                                               \
		}                                                                 \
	} while (0)

static uint64_t sim_rand(struct sim_disk *d)
{
	/* xorshift64*: fast, and a seed replays exactly. */
	d->rng ^= d->rng >> 12;
	d->rng ^= d->rng << 25;
	d->rng ^= d->rng >> 27;
	return d->rng * 2685821657736338717ull;
}

/* ---- Images ---- */

static void sim_image_reserve(struct sim_image *im, uint64_t size)
{
	if (size <= im->cap)
		return;
	uint64_t cap = MAX(size, im->cap * 2);
	uint8_t *p = realloc(im->bytes, cap);
	ASSERT_MSG(p, "sim disk: out of memory for %llu bytes", (unsigned long long)cap);
	memset(p + im->cap, 0, cap - im->cap);
	im->bytes = p;
	im->cap = cap;
}

static void sim_image_resize(struct sim_image *im, uint64_t size)
{
	sim_image_reserve(im, size);
	if (size > im->size)
		memset(im->bytes + im->size, 0, size - im->size);
	im->size = size;
}

static void sim_image_write(struct sim_image *im, uint64_t off, const void *buf, uint64_t len)
{
	if (off + len > im->size)
		sim_image_resize(im, off + len);
	if (len)
		memcpy(im->bytes + off, buf, len);
}

static void sim_image_free(struct sim_image *im)
{
	free(im->bytes);
	memset(im, 0, sizeof(*im));
}

/* ---- Inodes, names, directories ---- */

static void sim_inode_free(struct sim_inode *in)
{
	sim_image_free(&in->vis);
	sim_image_free(&in->dur);
	for (uint32_t i = 0; i < in->npend; i++)
		free(in->pend[i].data);
	free(in->pend);
	memset(in, 0, sizeof(*in));
}

static int32_t sim_inode_new(struct sim_disk *d)
{
	for (uint32_t i = 0; i < d->ninodes; i++)
		if (!d->inodes[i].live) {
			d->inodes[i].live = true;
			return (int32_t)i;
		}
	SIM_GROW(d->inodes, d->ninodes, d->capinodes);
	d->inodes[d->ninodes].live = true;
	return (int32_t)d->ninodes++;
}

static int32_t sim_name_find(const struct sim_name *names, uint32_t n, const char *path)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(names[i].path, path) == 0)
			return (int32_t)i;
	return -1;
}

static void sim_name_set(struct sim_name **names, uint32_t *n, uint32_t *cap, const char *path,
			 int32_t ino)
{
	int32_t i = sim_name_find(*names, *n, path);
	if (i < 0) {
		SIM_GROW(*names, *n, *cap);
		i = (int32_t)(*n)++;
		snprintf((*names)[i].path, SIM_PATH_MAX, "%s", path);
	}
	(*names)[i].ino = ino;
}

static void sim_name_del(struct sim_name *names, uint32_t *n, uint32_t i)
{
	names[i] = names[--(*n)];
}

static int32_t sim_vis_ino(const struct sim_disk *d, const char *path)
{
	int32_t i = sim_name_find(d->vnames, d->nvnames, path);
	return i < 0 ? -1 : d->vnames[i].ino;
}

static bool sim_ino_named(const struct sim_disk *d, int32_t ino, bool durable)
{
	const struct sim_name *names = durable ? d->dnames : d->vnames;
	uint32_t n = durable ? d->ndnames : d->nvnames;
	for (uint32_t i = 0; i < n; i++)
		if (names[i].ino == ino)
			return true;
	return false;
}

/* An inode that no name and no open file refers to is gone (its space freed). */
static void sim_inode_maybe_free(struct sim_disk *d, int32_t ino)
{
	struct sim_inode *in = &d->inodes[ino];
	if (in->live && in->handles == 0 && !sim_ino_named(d, ino, false) &&
	    !sim_ino_named(d, ino, true))
		sim_inode_free(in);
}

static void sim_dirname(const char *path, char *out)
{
	snprintf(out, SIM_PATH_MAX, "%s", path);
	char *slash = strrchr(out, '/');
	if (slash && slash != out)
		*slash = 0;
	else
		snprintf(out, SIM_PATH_MAX, "%s", slash ? "/" : ".");
}

static bool sim_dir_exists(const struct sim_disk *d, const char *path)
{
	for (uint32_t i = 0; i < d->ndirs; i++)
		if (strcmp(d->dirs[i], path) == 0)
			return true;
	return false;
}

static bool sim_parent_exists(const struct sim_disk *d, const char *path)
{
	char dir[SIM_PATH_MAX];
	sim_dirname(path, dir);
	return sim_dir_exists(d, dir);
}

static void sim_dir_add(struct sim_disk *d, const char *path)
{
	SIM_GROW(d->dirs, d->ndirs, d->capdirs);
	snprintf(d->dirs[d->ndirs++], SIM_PATH_MAX, "%s", path);
}

/* ---- Durability ---- */

static void sim_pending_apply(struct sim_inode *in, const struct sim_pending *p)
{
	if (p->kind == SIM_PEND_ALLOC) {
		if (p->len > in->dur.size)
			sim_image_resize(&in->dur, p->len);
	} else {
		sim_image_write(&in->dur, p->off, p->data, p->len);
	}
}

/* Makes the pending writes up to seq durable (or, when lost, forgets them). */
static void sim_inode_sync(struct sim_inode *in, uint64_t upto, bool lost)
{
	uint32_t kept = 0;
	for (uint32_t i = 0; i < in->npend; i++) {
		struct sim_pending *p = &in->pend[i];
		if (p->seq <= upto) {
			if (!lost)
				sim_pending_apply(in, p);
			free(p->data);
		} else {
			in->pend[kept++] = *p;
		}
	}
	in->npend = kept;
}

static void sim_ns_apply(struct sim_disk *d, const struct sim_nsop *op)
{
	int32_t i;
	switch (op->kind) {
	case SIM_NS_CREATE:
		sim_name_set(&d->dnames, &d->ndnames, &d->capdnames, op->a, op->ino);
		break;
	case SIM_NS_RENAME:
		i = sim_name_find(d->dnames, d->ndnames, op->a);
		if (i >= 0 && d->dnames[i].ino == op->ino)
			sim_name_del(d->dnames, &d->ndnames, (uint32_t)i);
		sim_name_set(&d->dnames, &d->ndnames, &d->capdnames, op->b, op->ino);
		break;
	case SIM_NS_UNLINK:
		i = sim_name_find(d->dnames, d->ndnames, op->a);
		if (i >= 0 && d->dnames[i].ino == op->ino)
			sim_name_del(d->dnames, &d->ndnames, (uint32_t)i);
		break;
	}
}

static bool sim_ns_in_dir(const struct sim_nsop *op, const char *dir)
{
	char a[SIM_PATH_MAX], b[SIM_PATH_MAX];
	sim_dirname(op->a, a);
	if (strcmp(a, dir) == 0)
		return true;
	if (op->kind != SIM_NS_RENAME)
		return false;
	sim_dirname(op->b, b);
	return strcmp(b, dir) == 0;
}

static void sim_dir_sync(struct sim_disk *d, const char *dir)
{
	uint32_t kept = 0;
	for (uint32_t i = 0; i < d->nnsops; i++) {
		if (sim_ns_in_dir(&d->nsops[i], dir))
			sim_ns_apply(d, &d->nsops[i]);
		else
			d->nsops[kept++] = d->nsops[i];
	}
	d->nnsops = kept;
}

static void sim_ns_log(struct sim_disk *d, enum sim_ns_kind kind, const char *a,
		       const char *b, int32_t ino)
{
	SIM_GROW(d->nsops, d->nnsops, d->capnsops);
	struct sim_nsop *op = &d->nsops[d->nnsops++];
	op->kind = kind;
	op->ino = ino;
	snprintf(op->a, SIM_PATH_MAX, "%s", a);
	snprintf(op->b, SIM_PATH_MAX, "%s", b ? b : "");
}

/* ---- Capacity ---- */

/* Space in use: files with a name or an open handle. A file only its durable name keeps
 * (unlinked, not yet synced) takes no space now, as on a journaling filesystem. */
uint64_t sim_disk_used_bytes(const struct sim_disk *d)
{
	uint64_t used = 0;
	for (uint32_t i = 0; i < d->ninodes; i++) {
		const struct sim_inode *in = &d->inodes[i];
		if (in->live && (in->handles || sim_ino_named(d, (int32_t)i, false)))
			used += MAX(in->vis.size, in->dur.size);
	}
	return used;
}

static bool sim_room_for(const struct sim_disk *d, const struct sim_inode *in, uint64_t end)
{
	if (!d->cfg.capacity_bytes || end <= MAX(in->vis.size, in->dur.size))
		return true;
	uint64_t grow = end - MAX(in->vis.size, in->dur.size);
	return sim_disk_used_bytes(d) + grow <= d->cfg.capacity_bytes;
}

/* ---- Submitting ---- */

static struct sim_disk *sim_of(struct log_disk *base)
{
	return container_of(base, struct sim_disk, base);
}

static struct sim_op *sim_op_new(struct log_disk *base, struct log_disk_io *io,
				 enum sim_disk_op kind)
{
	struct sim_disk *d = sim_of(base);
	struct sim_op *op = calloc(1, sizeof(*op));
	ASSERT_MSG(op, "sim disk: out of memory");
	op->kind = kind;
	op->io = io;
	op->fh = -1;
	uint64_t jitter = d->cfg.reorder ? sim_rand(d) % (d->cfg.latency_ns + 1) : 0;
	op->due_ns = d->now + d->cfg.latency_ns + jitter;
	SIM_GROW(d->ops, d->nops, d->capops);
	d->ops[d->nops++] = op;
	return op;
}

static void sim_open(struct log_disk *b, struct log_disk_io *io, const char *path,
		     unsigned flags)
{
	struct sim_op *op = sim_op_new(b, io, SIM_DISK_OPEN);
	snprintf(op->path, SIM_PATH_MAX, "%s", path);
	op->flags = flags;
}

static void sim_close(struct log_disk *b, struct log_disk_io *io, int fh)
{
	sim_op_new(b, io, SIM_DISK_CLOSE)->fh = fh;
}

static void sim_write(struct log_disk *b, struct log_disk_io *io, int fh, const void *buf,
		      size_t len, uint64_t off, unsigned flags)
{
	struct sim_op *op = sim_op_new(b, io, SIM_DISK_WRITE);
	op->fh = fh;
	op->wbuf = buf;
	op->len = len;
	op->off = off;
	op->flags = flags;
}

static void sim_read(struct log_disk *b, struct log_disk_io *io, int fh, void *buf,
		     size_t len, uint64_t off)
{
	struct sim_op *op = sim_op_new(b, io, SIM_DISK_READ);
	op->fh = fh;
	op->rbuf = buf;
	op->len = len;
	op->off = off;
}

static void sim_sync(struct log_disk *b, struct log_disk_io *io, int fh, unsigned flags)
{
	struct sim_disk *d = sim_of(b);
	struct sim_op *op = sim_op_new(b, io, SIM_DISK_SYNC);
	op->fh = fh;
	op->flags = flags;
	/* Only writes completed before the sync started are covered by it. */
	if (fh >= 0 && (uint32_t)fh < d->nhandles && d->handles[fh].used && !d->handles[fh].dir)
		op->sync_upto = d->inodes[d->handles[fh].ino].seq;
}

static void sim_fallocate(struct log_disk *b, struct log_disk_io *io, int fh, uint64_t off,
			  uint64_t len)
{
	struct sim_op *op = sim_op_new(b, io, SIM_DISK_FALLOCATE);
	op->fh = fh;
	op->off = off;
	op->len = len;
}

static void sim_size(struct log_disk *b, struct log_disk_io *io, int fh, uint64_t *out)
{
	struct sim_op *op = sim_op_new(b, io, SIM_DISK_SIZE);
	op->fh = fh;
	op->out = out;
}

static void sim_rename(struct log_disk *b, struct log_disk_io *io, const char *from,
		       const char *to)
{
	struct sim_op *op = sim_op_new(b, io, SIM_DISK_RENAME);
	snprintf(op->path, SIM_PATH_MAX, "%s", from);
	snprintf(op->path2, SIM_PATH_MAX, "%s", to);
}

static void sim_unlink(struct log_disk *b, struct log_disk_io *io, const char *path)
{
	snprintf(sim_op_new(b, io, SIM_DISK_UNLINK)->path, SIM_PATH_MAX, "%s", path);
}

static void sim_mkdir(struct log_disk *b, struct log_disk_io *io, const char *path)
{
	snprintf(sim_op_new(b, io, SIM_DISK_MKDIR)->path, SIM_PATH_MAX, "%s", path);
}

static void sim_list(struct log_disk *b, struct log_disk_io *io, const char *dir,
		     struct log_disk_names *out)
{
	struct sim_op *op = sim_op_new(b, io, SIM_DISK_LIST);
	snprintf(op->path, SIM_PATH_MAX, "%s", dir);
	op->names = out;
}

static uint64_t sim_now(struct log_disk *b)
{
	return sim_of(b)->now;
}

static const struct log_disk_ops sim_disk_ops = {
	.open = sim_open, .close = sim_close, .write = sim_write, .read = sim_read,
	.sync = sim_sync, .fallocate = sim_fallocate, .size = sim_size, .rename = sim_rename,
	.unlink = sim_unlink, .mkdir = sim_mkdir, .list = sim_list, .now_ns = sim_now,
};

/* ---- Completing ---- */

static struct sim_handle *sim_handle_get(struct sim_disk *d, int fh)
{
	if (fh < 0 || (uint32_t)fh >= d->nhandles || !d->handles[fh].used)
		return NULL;
	return &d->handles[fh];
}

static int sim_do_open(struct sim_disk *d, const struct sim_op *op)
{
	bool is_dir = sim_dir_exists(d, op->path);
	int32_t ino = sim_vis_ino(d, op->path);
	if (op->flags & LOG_DISK_O_DIR) {
		if (!is_dir)
			return ino >= 0 ? -ENOTDIR : -ENOENT;
	} else if (is_dir) {
		return -EISDIR;
	} else if ((op->flags & LOG_DISK_O_DIRECT) && d->cfg.no_direct) {
		return -EINVAL;
	} else if (op->flags & LOG_DISK_O_CREATE) {
		if (ino >= 0)
			return -EEXIST;
		if (!sim_parent_exists(d, op->path))
			return -ENOENT;
		ino = sim_inode_new(d);
		sim_name_set(&d->vnames, &d->nvnames, &d->capvnames, op->path, ino);
		sim_ns_log(d, SIM_NS_CREATE, op->path, NULL, ino);
	} else if (ino < 0) {
		return -ENOENT;
	}
	uint32_t fh;
	for (fh = 0; fh < d->nhandles && d->handles[fh].used; fh++)
		;
	if (fh == d->nhandles) {
		SIM_GROW(d->handles, d->nhandles, d->caphandles);
		d->nhandles++;
	}
	struct sim_handle *h = &d->handles[fh];
	*h = (struct sim_handle){ .used = true, .dir = is_dir, .ino = is_dir ? -1 : ino,
				  .direct = (op->flags & LOG_DISK_O_DIRECT) != 0 };
	snprintf(h->path, SIM_PATH_MAX, "%s", op->path);
	if (!is_dir)
		d->inodes[ino].handles++;
	return (int)fh;
}

static bool sim_misaligned(const struct sim_handle *h, const void *buf, uint64_t off,
			   uint64_t len)
{
	return h->direct && (((uintptr_t)buf | off | len) % SIM_DIRECT_ALIGN) != 0;
}

static int sim_do_write(struct sim_disk *d, const struct sim_op *op, struct sim_handle *h)
{
	struct sim_inode *in = &d->inodes[h->ino];
	if (sim_misaligned(h, op->wbuf, op->off, op->len))
		return -EINVAL;
	if (!sim_room_for(d, in, op->off + op->len))
		return -ENOSPC;
	sim_image_write(&in->vis, op->off, op->wbuf, op->len);
	d->st.bytes_written += op->len;
	if (op->flags & LOG_DISK_W_DSYNC) {
		sim_image_write(&in->dur, op->off, op->wbuf, op->len);
		return (int)op->len;
	}
	SIM_GROW(in->pend, in->npend, in->cappend);
	struct sim_pending *p = &in->pend[in->npend++];
	p->seq = ++in->seq;
	p->kind = SIM_PEND_WRITE;
	p->off = op->off;
	p->len = op->len;
	p->data = malloc(op->len ? op->len : 1);
	ASSERT_MSG(p->data, "sim disk: out of memory");
	memcpy(p->data, op->wbuf, op->len);
	return (int)op->len;
}

static int sim_do_read(struct sim_disk *d, const struct sim_op *op, struct sim_handle *h)
{
	const struct sim_inode *in = &d->inodes[h->ino];
	if (sim_misaligned(h, op->rbuf, op->off, op->len))
		return -EINVAL;
	if (op->off >= in->vis.size)
		return 0;
	uint64_t n = MIN((uint64_t)op->len, in->vis.size - op->off);
	memcpy(op->rbuf, in->vis.bytes + op->off, n);
	return (int)n;
}

static int sim_do_fallocate(struct sim_disk *d, const struct sim_op *op, struct sim_handle *h)
{
	struct sim_inode *in = &d->inodes[h->ino];
	uint64_t end = op->off + op->len;
	if (!sim_room_for(d, in, end))
		return -ENOSPC;
	if (end > in->vis.size)
		sim_image_resize(&in->vis, end);
	SIM_GROW(in->pend, in->npend, in->cappend);
	in->pend[in->npend++] = (struct sim_pending){ .seq = ++in->seq, .kind = SIM_PEND_ALLOC,
						      .len = end };
	return 0;
}

static int sim_do_rename(struct sim_disk *d, const struct sim_op *op)
{
	int32_t from = sim_name_find(d->vnames, d->nvnames, op->path);
	if (from < 0)
		return -ENOENT;
	if (!sim_parent_exists(d, op->path2))
		return -ENOENT;
	int32_t ino = d->vnames[from].ino;
	sim_name_del(d->vnames, &d->nvnames, (uint32_t)from);
	int32_t old = sim_vis_ino(d, op->path2);
	sim_name_set(&d->vnames, &d->nvnames, &d->capvnames, op->path2, ino);
	sim_ns_log(d, SIM_NS_RENAME, op->path, op->path2, ino);
	if (old >= 0 && old != ino)
		sim_inode_maybe_free(d, old);
	return 0;
}

static int sim_do_unlink(struct sim_disk *d, const struct sim_op *op)
{
	int32_t i = sim_name_find(d->vnames, d->nvnames, op->path);
	if (i < 0)
		return sim_dir_exists(d, op->path) ? -EISDIR : -ENOENT;
	int32_t ino = d->vnames[i].ino;
	sim_name_del(d->vnames, &d->nvnames, (uint32_t)i);
	sim_ns_log(d, SIM_NS_UNLINK, op->path, NULL, ino);
	sim_inode_maybe_free(d, ino);
	return 0;
}

static int sim_do_list(struct sim_disk *d, const struct sim_op *op)
{
	struct log_disk_names *out = op->names;
	char dir[SIM_PATH_MAX];
	if (!sim_dir_exists(d, op->path))
		return -ENOENT;
	out->count = 0;
	out->truncated = 0;
	for (uint32_t pass = 0; pass < 2; pass++) {
		uint32_t n = pass ? d->ndirs : d->nvnames;
		for (uint32_t i = 0; i < n; i++) {
			const char *p = pass ? d->dirs[i] : d->vnames[i].path;
			sim_dirname(p, dir);
			if (strcmp(dir, op->path) != 0 || strcmp(p, op->path) == 0)
				continue;
			if (out->count == out->cap) {
				out->truncated = 1;
				return 0;
			}
			const char *base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
			size_t bl = MIN(strlen(base), (size_t)LOG_DISK_NAME_MAX - 1);
			memcpy(out->names[out->count], base, bl);
			out->names[out->count++][bl] = 0;
		}
	}
	return 0;
}

static int sim_do_handle_op(struct sim_disk *d, struct sim_op *op)
{
	struct sim_handle *h = sim_handle_get(d, op->fh);
	if (!h)
		return -EBADF;
	if (op->kind == SIM_DISK_CLOSE) {
		int32_t ino = h->ino;
		h->used = false;
		if (ino >= 0) {
			d->inodes[ino].handles--;
			sim_inode_maybe_free(d, ino);
		}
		return 0;
	}
	if (op->kind == SIM_DISK_SYNC) {
		if (h->dir)
			sim_dir_sync(d, h->path);
		else
			sim_inode_sync(&d->inodes[h->ino], op->sync_upto, false);
		return 0;
	}
	if (h->dir)
		return -EISDIR;
	switch (op->kind) {
	case SIM_DISK_WRITE: return sim_do_write(d, op, h);
	case SIM_DISK_READ: return sim_do_read(d, op, h);
	case SIM_DISK_FALLOCATE: return sim_do_fallocate(d, op, h);
	case SIM_DISK_SIZE:
		*op->out = d->inodes[h->ino].vis.size;
		return 0;
	default:
		PANIC("sim disk: bad operation %d", op->kind);
	}
}

static const char *sim_op_path(struct sim_disk *d, const struct sim_op *op)
{
	const struct sim_handle *h = sim_handle_get(d, op->fh);
	return h ? h->path : op->path;
}

/* An injected fault for this operation, if one matches. A failed sync forgets what it
 * covered, as Linux does after a writeback error. */
static int sim_fault_take(struct sim_disk *d, struct sim_op *op)
{
	const char *path = sim_op_path(d, op);
	for (uint32_t i = 0; i < d->nfaults; i++) {
		struct sim_fault *f = &d->faults[i];
		if (f->op != op->kind || (f->part[0] && !strstr(path, f->part)))
			continue;
		int err = f->err;
		if (--f->times == 0)
			d->faults[i] = d->faults[--d->nfaults];
		d->st.injected++;
		struct sim_handle *h = sim_handle_get(d, op->fh);
		if (op->kind == SIM_DISK_SYNC && h && !h->dir)
			sim_inode_sync(&d->inodes[h->ino], op->sync_upto, true);
		return err;
	}
	return 0;
}

static int sim_do(struct sim_disk *d, struct sim_op *op)
{
	int err = sim_fault_take(d, op);
	if (err)
		return err;
	switch (op->kind) {
	case SIM_DISK_OPEN: return sim_do_open(d, op);
	case SIM_DISK_RENAME: return sim_do_rename(d, op);
	case SIM_DISK_UNLINK: return sim_do_unlink(d, op);
	case SIM_DISK_LIST: return sim_do_list(d, op);
	case SIM_DISK_MKDIR:
		if (sim_dir_exists(d, op->path) || sim_vis_ino(d, op->path) >= 0)
			return -EEXIST;
		if (!sim_parent_exists(d, op->path))
			return -ENOENT;
		sim_dir_add(d, op->path);
		return 0;
	default:
		return sim_do_handle_op(d, op);
	}
}

int sim_disk_step(struct sim_disk *d)
{
	if (d->nops == 0)
		return 0;
	uint32_t pick = 0;
	for (uint32_t i = 1; i < d->nops; i++)
		if (d->ops[i]->due_ns < d->ops[pick]->due_ns)
			pick = i;
	struct sim_op *op = d->ops[pick];
	memmove(&d->ops[pick], &d->ops[pick + 1], (d->nops - pick - 1) * sizeof(*d->ops));
	d->nops--;
	d->now = MAX(d->now, op->due_ns);
	d->st.ops[op->kind]++;
	int res = sim_do(d, op);
	struct log_disk_io *io = op->io;
	free(op);
	io->cb(io, res);
	return 1;
}

uint64_t sim_disk_run(struct sim_disk *d)
{
	uint64_t steps = 0;
	while (sim_disk_step(d))
		steps++;
	return steps;
}

uint32_t sim_disk_inflight(const struct sim_disk *d)
{
	return d->nops;
}

uint32_t sim_disk_open_files(const struct sim_disk *d)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < d->nhandles; i++)
		n += d->handles[i].used;
	return n;
}

uint64_t sim_disk_now_ns(const struct sim_disk *d)
{
	return d->now;
}

void sim_disk_advance(struct sim_disk *d, uint64_t ns)
{
	d->now += ns;
}

/* ---- Crashing ---- */

/* Lands each sector of a write with probability 1/odds. */
static void sim_tear(struct sim_disk *d, struct sim_inode *in, uint64_t off, const uint8_t *buf,
		     uint64_t len, unsigned odds)
{
	uint64_t sector = d->cfg.sector_bytes;
	uint64_t pos = off;
	while (pos < off + len) {
		uint64_t end = MIN(off + len, (pos / sector + 1) * sector);
		if (sim_rand(d) % odds == 0) {
			sim_image_write(&in->dur, pos, buf + (pos - off), end - pos);
			d->st.sectors_torn_landed++;
		} else {
			d->st.sectors_torn_lost++;
		}
		pos = end;
	}
}

static void sim_crash_data(struct sim_disk *d)
{
	for (uint32_t i = 0; i < d->ninodes; i++) {
		struct sim_inode *in = &d->inodes[i];
		for (uint32_t k = 0; in->live && k < in->npend; k++) {
			struct sim_pending *p = &in->pend[k];
			if (p->kind == SIM_PEND_ALLOC && sim_rand(d) % 2)
				sim_pending_apply(in, p);
			else if (p->kind == SIM_PEND_WRITE)
				sim_tear(d, in, p->off, p->data, p->len, 2);
		}
	}
	/* Writes still in flight may have reached the disk in part too. */
	for (uint32_t i = 0; i < d->nops; i++) {
		struct sim_op *op = d->ops[i];
		struct sim_handle *h = sim_handle_get(d, op->fh);
		if (op->kind == SIM_DISK_WRITE && h && !h->dir &&
		    !sim_misaligned(h, op->wbuf, op->off, op->len))
			sim_tear(d, &d->inodes[h->ino], op->off, op->wbuf, op->len, 4);
	}
}

void sim_disk_crash(struct sim_disk *d)
{
	sim_crash_data(d);
	uint32_t keep = d->nnsops ? (uint32_t)(sim_rand(d) % (d->nnsops + 1)) : 0;
	for (uint32_t i = 0; i < keep; i++)
		sim_ns_apply(d, &d->nsops[i]);
	d->nnsops = 0;
	for (uint32_t i = 0; i < d->nops; i++)
		free(d->ops[i]);
	d->nops = 0;
	d->nhandles = 0;
	d->nvnames = 0;
	for (uint32_t i = 0; i < d->ndnames; i++)
		sim_name_set(&d->vnames, &d->nvnames, &d->capvnames, d->dnames[i].path,
			     d->dnames[i].ino);
	for (uint32_t i = 0; i < d->ninodes; i++) {
		struct sim_inode *in = &d->inodes[i];
		if (!in->live)
			continue;
		in->handles = 0;
		if (!sim_ino_named(d, (int32_t)i, true)) {
			sim_inode_free(in);
			continue;
		}
		sim_inode_sync(in, UINT64_MAX, true);
		sim_image_resize(&in->vis, in->dur.size);
		if (in->dur.size)
			memcpy(in->vis.bytes, in->dur.bytes, in->dur.size);
	}
	d->st.crashes++;
}

/* ---- Faults, corruption, capacity ---- */

void sim_disk_fail(struct sim_disk *d, enum sim_disk_op op, const char *path_part, int err,
		   uint32_t times)
{
	ASSERT(d->nfaults < SIM_FAULTS_MAX && err < 0 && times > 0);
	struct sim_fault *f = &d->faults[d->nfaults++];
	f->op = op;
	f->err = err;
	f->times = times;
	snprintf(f->part, SIM_PATH_MAX, "%s", path_part ? path_part : "");
}

int sim_disk_corrupt(struct sim_disk *d, const char *path, uint64_t off, uint32_t len,
		     uint8_t mask)
{
	int32_t ino = sim_vis_ino(d, path);
	if (ino < 0)
		return -ENOENT;
	struct sim_inode *in = &d->inodes[ino];
	for (uint64_t i = off; i < off + len; i++) {
		if (i < in->dur.size)
			in->dur.bytes[i] ^= mask;
		if (i < in->vis.size)
			in->vis.bytes[i] ^= mask;
	}
	return 0;
}

void sim_disk_capacity_set(struct sim_disk *d, uint64_t bytes)
{
	d->cfg.capacity_bytes = bytes;
}

void sim_disk_stats_get(const struct sim_disk *d, struct sim_disk_stats *out)
{
	*out = d->st;
}

/* ---- Direct access for tests ---- */

int sim_disk_file_size(const struct sim_disk *d, const char *path, uint64_t *out)
{
	int32_t ino = sim_vis_ino(d, path);
	if (ino < 0)
		return -ENOENT;
	*out = d->inodes[ino].vis.size;
	return 0;
}

int sim_disk_file_read(const struct sim_disk *d, const char *path, uint64_t off, void *buf,
		       size_t len)
{
	int32_t ino = sim_vis_ino(d, path);
	if (ino < 0)
		return -ENOENT;
	const struct sim_image *im = &d->inodes[ino].vis;
	if (off >= im->size)
		return 0;
	size_t n = (size_t)MIN((uint64_t)len, im->size - off);
	memcpy(buf, im->bytes + off, n);
	return (int)n;
}

int sim_disk_file_write(struct sim_disk *d, const char *path, uint64_t off, const void *buf,
			size_t len)
{
	int32_t ino = sim_vis_ino(d, path);
	if (ino < 0) {
		if (!sim_parent_exists(d, path))
			return -ENOENT;
		ino = sim_inode_new(d);
		sim_name_set(&d->vnames, &d->nvnames, &d->capvnames, path, ino);
		sim_name_set(&d->dnames, &d->ndnames, &d->capdnames, path, ino);
	}
	struct sim_inode *in = &d->inodes[ino];
	sim_image_write(&in->vis, off, buf, len);
	sim_image_write(&in->dur, off, buf, len);
	return (int)len;
}

bool sim_disk_exists(const struct sim_disk *d, const char *path)
{
	return sim_vis_ino(d, path) >= 0 || sim_dir_exists(d, path);
}

int sim_disk_remove(struct sim_disk *d, const char *path)
{
	int32_t v = sim_name_find(d->vnames, d->nvnames, path);
	if (v < 0)
		return -ENOENT;
	int32_t ino = d->vnames[v].ino;
	sim_name_del(d->vnames, &d->nvnames, (uint32_t)v);
	int32_t n = sim_name_find(d->dnames, d->ndnames, path);
	if (n >= 0)
		sim_name_del(d->dnames, &d->ndnames, (uint32_t)n);
	sim_inode_maybe_free(d, ino);
	return 0;
}

int sim_disk_mkdir(struct sim_disk *d, const char *path)
{
	if (sim_disk_exists(d, path))
		return -EEXIST;
	if (!sim_parent_exists(d, path))
		return -ENOENT;
	sim_dir_add(d, path);
	return 0;
}

/* ---- Lifetime ---- */

struct sim_disk *sim_disk_create(const struct sim_disk_config *cfg)
{
	struct sim_disk *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->base.ops = &sim_disk_ops;
	d->cfg = *cfg;
	if (!d->cfg.sector_bytes)
		d->cfg.sector_bytes = SIM_DISK_SECTOR_BYTES_DEFAULT;
	if (!d->cfg.latency_ns)
		d->cfg.latency_ns = SIM_DISK_LATENCY_NS_DEFAULT;
	d->rng = cfg->seed * 0x9E3779B97F4A7C15ull + 1;
	sim_dir_add(d, "/");
	sim_dir_add(d, ".");
	return d;
}

void sim_disk_destroy(struct sim_disk *d)
{
	if (!d)
		return;
	for (uint32_t i = 0; i < d->ninodes; i++)
		sim_inode_free(&d->inodes[i]);
	for (uint32_t i = 0; i < d->nops; i++)
		free(d->ops[i]);
	free(d->inodes);
	free(d->vnames);
	free(d->dnames);
	free(d->nsops);
	free(d->dirs);
	free(d->handles);
	free(d->ops);
	free(d);
}

struct log_disk *sim_disk_io(struct sim_disk *d)
{
	return &d->base;
}
