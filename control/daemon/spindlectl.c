/* spindlectl: the operator's command line for a spindle cluster. It checks the request,
 * sends it to the local spindle-control's admin socket (admin.h), prints the answer, and
 * exits with a code that says what happened:
 *   0 done, 1 failed otherwise, 2 bad usage, 3 no leader or no majority, 4 unknown lane or
 *   node, 5 not allowed in the cluster's current state, 6 timed out (it may still happen),
 *   7 the local spindle-control cannot be reached. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/admin.h"

#define CTL_EXIT_UNREACHABLE 7
#define CTL_SOCKET_DEFAULT "./spindle-control-data/admin.sock"
#define CTL_ANSWER_BYTES_MAX (16u << 20)

static void usage(FILE *out)
{
	fprintf(out,
		"usage: spindlectl [--socket PATH] COMMAND [ARGS] [--json] [--timeout SECONDS]\n"
		"\n"
		"commands:\n"
		"  status                               nodes, lanes, primaries, epochs, health\n"
		"  failover LANE|all [--to NODE]        move primaries (a planned switchover)\n"
		"  node add NODE MGMT_IP:PORT [REPL]    add a node: it joins every lane\n"
		"  node remove NODE                     remove a node from every lane\n"
		"  node replace OLD NEW MGMT_IP:PORT [REPL]\n"
		"                                       add NEW, then remove OLD\n"
		"  node drain NODE                      move every primary NODE holds to other\n"
		"                                       healthy voters and cancel switchovers to\n"
		"                                       NODE (before stopping NODE)\n"
		"  bootstrap [--lanes N]                create the cluster's lanes (once)\n"
		"\n"
		"--socket defaults to $SPINDLE_CONTROL_SOCKET, else %s.\n"
		"exit codes: 0 done, 1 failed, 2 usage, 3 no leader or no majority, 4 unknown lane\n"
		"or node, 5 not allowed now, 6 timed out, 7 spindle-control unreachable.\n",
		CTL_SOCKET_DEFAULT);
}

static int ctl_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Reads the whole answer (the daemon closes the connection after it). */
static char *ctl_read_all(int fd, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1);
	while (buf != NULL) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			char *g = cap < CTL_ANSWER_BYTES_MAX ? realloc(buf, 2 * cap + 1) : NULL;
			if (g == NULL) {
				free(buf);
				return NULL;
			}
			buf = g;
			cap *= 2;
		}
	}
	if (buf != NULL)
		buf[n] = '\0';
	*len = n;
	return buf;
}

/* Joins the arguments into the request line; returns 0 or -E2BIG. */
static int ctl_request_line(int argc, char **argv, int first, char *line, size_t cap)
{
	size_t off = 0;
	line[0] = '\0';
	for (int i = first; i < argc; i++) {
		if (strchr(argv[i], '\n') != NULL || strchr(argv[i], ' ') != NULL)
			return -EINVAL;
		int n = snprintf(line + off, cap - off, "%s%s", off ? " " : "", argv[i]);
		if (n < 0 || (size_t)n >= cap - off)
			return -E2BIG;
		off += (size_t)n;
	}
	return 0;
}

static int ctl_answer(const char *answer, size_t len, bool json)
{
	const char *nl = memchr(answer, '\n', len);
	if (nl == NULL) {
		fprintf(stderr, "spindlectl: spindle-control closed the connection without an answer\n");
		return 1;
	}
	const char *body = nl + 1;
	if (strncmp(answer, "OK\n", 3) == 0) {
		fputs(body, stdout);
		return 0;
	}
	char code_name[32] = "";
	sscanf(answer, "ERR %31s", code_name);
	int code = ctld_admin_code_parse(code_name);
	if (json)
		fputs(body, stdout);
	else
		fprintf(stderr, "spindlectl: %s", body);
	return code < 0 ? 1 : ctld_admin_exit_code((enum ctld_admin_code)code);
}

int main(int argc, char **argv)
{
	const char *path = getenv("SPINDLE_CONTROL_SOCKET");
	int first = 1;
	if (first < argc && (strcmp(argv[first], "--help") == 0 || strcmp(argv[first], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (first + 1 < argc && strcmp(argv[first], "--socket") == 0) {
		path = argv[first + 1];
		first += 2;
	}
	if (path == NULL || path[0] == '\0')
		path = CTL_SOCKET_DEFAULT;
	char line[1024], err[256];
	struct ctld_admin_req req;
	if (first >= argc || ctl_request_line(argc, argv, first, line, sizeof(line) - 1) != 0 ||
	    ctld_admin_parse(line, &req, err, sizeof(err)) != 0) {
		if (first < argc)
			fprintf(stderr, "spindlectl: %s\n", first < argc && line[0] ? err : "bad arguments");
		usage(stderr);
		return 2;
	}
	int fd = ctl_connect(path);
	if (fd < 0) {
		fprintf(stderr, "spindlectl: cannot reach spindle-control at %s: %s\n", path,
			strerror(errno));
		return CTL_EXIT_UNREACHABLE;
	}
	strcat(line, "\n");
	size_t len = strlen(line), off = 0;
	while (off < len) {
		ssize_t n = write(fd, line + off, len - off);
		if (n <= 0) {
			fprintf(stderr, "spindlectl: cannot send to spindle-control: %s\n", strerror(errno));
			close(fd);
			return CTL_EXIT_UNREACHABLE;
		}
		off += (size_t)n;
	}
	char *answer = ctl_read_all(fd, &len);
	close(fd);
	if (answer == NULL) {
		fprintf(stderr, "spindlectl: out of memory reading the answer\n");
		return 1;
	}
	int rc = ctl_answer(answer, len, req.json);
	free(answer);
	return rc;
}
