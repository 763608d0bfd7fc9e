/*
 * Preloaded into oxenstored so that it runs without a hypervisor and without
 * touching a real Xen host's files. It stands in for:
 *
 *  - the hypervisor calls oxenstored makes, so that it serves guest domains
 *    for real. Everything lives in the sandbox directory $XSD_TEST_RUNDIR:
 *      domains/N/page    domain N's shared store page (struct
 *                        xenstore_domain_interface, 4096 bytes), mapped by
 *                        xc_map_foreign_range; the guest maps it too;
 *      domains/N/state   domain N exists while this file does; it says
 *                        "running", "shutdown CODE" or "dying"
 *                        (xc_domain_getinfolist);
 *      domains/N/evtchn  the guest's end of its event channels: a datagram
 *                        socket the guest binds;
 *      evtchn            xenstored's end: the datagram socket behind
 *                        xenevtchn_fd.
 *    An event is one datagram of two native uint32, (domid, port). A guest
 *    notifies xenstored with (N, P), P its own port; xenstored's notify of
 *    the local port it bound to (N, P) reaches domains/N/evtchn as (0, P).
 *    A VIRQ is (DOMID_XEN, virq): a test changes a state file and raises
 *    VIRQ_DOM_EXC, as Xen does when a domain shuts down or dies;
 *  - its RLIMIT_NOFILE request (nr_open), clamped to the hard limit, which
 *    an unprivileged container would otherwise refuse;
 *  - the hard-coded /var/run/xenstored directory (socket, db dump),
 *    rewritten to $XSD_TEST_RUNDIR, so parallel tests never share a socket.
 *
 * Without $XSD_TEST_RUNDIR no event ever fires and no page can be mapped:
 * oxenstored serves its socket only (run it with --no-domain-init then).
 *
 * One C file needing only libc and libdl, so that it builds and works
 * wherever oxenstored runs (a container, a package's own tests).
 */
/* Both open and open64 are defined below, so no transparent aliasing. */
#undef _FILE_OFFSET_BITS
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* --- the sandbox ------------------------------------------------------- */

#define DOMID_XEN 0x7FF2u
#define MAX_DOMAINS 4096

/* $XSD_TEST_RUNDIR/<fmt…> in buf, or NULL when there is no sandbox or the
 * path does not fit. */
static const char *sandbox_path(char *buf, size_t size, const char *fmt, ...)
{
    const char *dir = getenv("XSD_TEST_RUNDIR");
    if (!dir || !*dir)
        return NULL;
    int n = snprintf(buf, size, "%s/", dir);
    if (n < 0 || (size_t)n >= size)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, size - (size_t)n, fmt, ap);
    va_end(ap);
    return m < 0 || (size_t)m >= size - (size_t)n ? NULL : buf;
}

static int unix_address(struct sockaddr_un *addr, const char *path)
{
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    if (!path || strlen(path) >= sizeof addr->sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(addr->sun_path, path);
    return 0;
}

/* --- libxenctrl -------------------------------------------------------- */

static int xc_handle;

void *xc_interface_open(void *logger, void *dombuild_logger, unsigned flags)
{
    (void)logger; (void)dombuild_logger; (void)flags;
    return &xc_handle;
}

int xc_interface_close(void *xch) { (void)xch; return 0; }

/* struct xc_error: an enum code, then XC_MAX_ERROR_MSG_LEN bytes of
 * message. Code 0 (XC_ERROR_NONE) makes oxenstored's bindings say errno. */
static struct { int code; char message[1024]; } no_xc_error;

const void *xc_get_last_error(void *xch) { (void)xch; return &no_xc_error; }
const char *xc_error_code_to_desc(int code) { (void)code; return "No error details"; }

/* Domain N's store page: its page file, found by domid (the mfn is the
 * toolstack's number for the page, which oxenstored only compares). */
void *xc_map_foreign_range(void *xch, uint32_t dom, int size, int prot, unsigned long mfn)
{
    (void)xch; (void)mfn;
    char buf[PATH_MAX];
    const char *path = sandbox_path(buf, sizeof buf, "domains/%u/page", dom);
    int fd = path ? open(path, O_RDWR | O_CLOEXEC) : -1;
    if (fd < 0)
        return NULL;
    struct stat st;
    void *p = NULL;
    if (fstat(fd, &st) == 0) {
        if (size <= 0 || st.st_size < size)
            errno = EINVAL;  /* a short file would fault when read */
        else if ((p = mmap(NULL, (size_t)size, prot, MAP_SHARED, fd, 0)) == MAP_FAILED)
            p = NULL;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return p;
}

/* xc_domaininfo_t of Xen 4.17 (XEN_DOMCTL_INTERFACE_VERSION 0x15): the
 * domain id and its flags; everything after them reads as zero. */
struct domaininfo {
    uint16_t domain;
    uint16_t pad;
    uint32_t flags;
    unsigned char rest[104];
};
_Static_assert(sizeof(struct domaininfo) == 112, "xen_domctl_getdomaininfo of Xen 4.17");

#define DOMINF_DYING (1u << 0)
#define DOMINF_SHUTDOWN (1u << 2)
#define DOMINF_RUNNING (1u << 5)
#define DOMINF_SHUTDOWN_SHIFT 16

/* Domain N's flags from its state file; -1 when it does not exist. */
static int64_t domain_flags(unsigned long domid)
{
    char buf[PATH_MAX];
    const char *path = sandbox_path(buf, sizeof buf, "domains/%lu/state", domid);
    FILE *f = path ? fopen(path, "re") : NULL;
    if (!f)
        return -1;
    char word[32] = "";
    unsigned code = 0;
    int n = fscanf(f, "%31s %u", word, &code);
    fclose(f);
    if (n >= 1 && strcmp(word, "dying") == 0)
        return DOMINF_DYING;
    if (n >= 1 && strcmp(word, "shutdown") == 0)
        return DOMINF_SHUTDOWN | ((code & 0xffu) << DOMINF_SHUTDOWN_SHIFT);
    return DOMINF_RUNNING;
}

static int by_domid(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

/* As Xen: the domains that exist from `first` on, in order, at most `max`.
 * oxenstored asks for one at a time and checks that it got that one. */
int xc_domain_getinfolist(void *xch, uint32_t first, unsigned max, struct domaininfo *info)
{
    (void)xch;
    static unsigned ids[MAX_DOMAINS];
    size_t count = 0;
    if (max == 1 && domain_flags(first) >= 0) {
        ids[count++] = first;  /* the common question, without a scan */
    } else if (max > 0) {
        char buf[PATH_MAX];
        const char *path = sandbox_path(buf, sizeof buf, "domains");
        DIR *d = path ? opendir(path) : NULL;
        for (struct dirent *e; d && (e = readdir(d)) && count < MAX_DOMAINS;) {
            char *end;
            unsigned long id = strtoul(e->d_name, &end, 10);
            if (end != e->d_name && *end == '\0' && id >= first && id < DOMID_XEN &&
                domain_flags(id) >= 0)
                ids[count++] = (unsigned)id;
        }
        if (d)
            closedir(d);
        qsort(ids, count, sizeof ids[0], by_domid);
    }
    unsigned n = 0;
    for (; n < count && n < max; n++) {
        int64_t flags = domain_flags(ids[n]);
        memset(&info[n], 0, sizeof info[n]);
        info[n].domain = (uint16_t)ids[n];
        info[n].flags = flags < 0 ? DOMINF_DYING : (uint32_t)flags;  /* gone meanwhile */
    }
    return (int)n;
}

/* --- libxenevtchn ------------------------------------------------------ */

/* Local ports 1..MAX_PORTS-1 (0 is never a valid port, as in Xen). A port
 * that is unbound remembers what it was bound to, so that binding the same
 * remote port of the same domain again gets the same local port back:
 * oxenstored re-binds on a second INTRODUCE of a domain and keeps using the
 * old number in its port table. */
#define MAX_PORTS 4096
enum port_state { PORT_FREE, PORT_INTERDOMAIN, PORT_VIRQ };
static struct {
    enum port_state state;
    uint32_t domid, remote;  /* interdomain: the guest's end; virq: DOMID_XEN, virq */
} ports[MAX_PORTS];

static int evtchn_fd = -1;
static int evtchn_handle;

static int bind_port(uint32_t domid, uint32_t remote, enum port_state state)
{
    int lowest = 0;
    for (int p = 1; p < MAX_PORTS; p++) {
        if (ports[p].state != PORT_FREE)
            continue;
        if (ports[p].domid == domid && ports[p].remote == remote && (domid || remote)) {
            lowest = p;
            break;
        }
        if (!lowest)
            lowest = p;
    }
    if (!lowest) {
        errno = ENOSPC;
        return -1;
    }
    ports[lowest].state = state;
    ports[lowest].domid = domid;
    ports[lowest].remote = remote;
    return lowest;
}

void *xenevtchn_open(void *logger, unsigned flags)
{
    (void)logger; (void)flags;
    if (evtchn_fd >= 0)
        return &evtchn_handle;
    /* Datagrams keep events apart: one read, one port, as the device does. */
    evtchn_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (evtchn_fd < 0)
        return NULL;
    char buf[PATH_MAX];
    struct sockaddr_un addr;
    const char *path = sandbox_path(buf, sizeof buf, "evtchn");
    if (path && unix_address(&addr, path) == 0) {
        unlink(path);
        if (bind(evtchn_fd, (struct sockaddr *)&addr, sizeof addr) == 0)
            return &evtchn_handle;
    }
    /* No sandbox: a socket nobody can reach, which never fires. */
    if (!path)
        return &evtchn_handle;
    close(evtchn_fd);
    evtchn_fd = -1;
    return NULL;
}

void *xenevtchn_fdopen(void *logger, int fd, unsigned flags)
{
    (void)fd;
    return xenevtchn_open(logger, flags);
}

int xenevtchn_close(void *xce) { (void)xce; return 0; }
int xenevtchn_fd(void *xce) { (void)xce; return evtchn_fd; }

int xenevtchn_bind_virq(void *xce, unsigned virq)
{
    (void)xce;
    return bind_port(DOMID_XEN, virq, PORT_VIRQ);
}

/* As Xen does, the new port starts pending: what the guest wrote and
 * notified before the bind is read at once. */
int xenevtchn_bind_interdomain(void *xce, uint32_t domid, unsigned remote_port)
{
    (void)xce;
    int port = bind_port(domid, remote_port, PORT_INTERDOMAIN);
    char buf[PATH_MAX];
    struct sockaddr_un addr;
    const char *path = sandbox_path(buf, sizeof buf, "evtchn");
    uint32_t event[2] = {domid, remote_port};
    if (port > 0 && path && unix_address(&addr, path) == 0)
        sendto(evtchn_fd, event, sizeof event, MSG_DONTWAIT | MSG_NOSIGNAL,
               (struct sockaddr *)&addr, sizeof addr);
    return port;
}

int xenevtchn_unbind(void *xce, unsigned port)
{
    (void)xce;
    if (port == 0 || port >= MAX_PORTS || ports[port].state == PORT_FREE) {
        errno = EINVAL;
        return -1;
    }
    ports[port].state = PORT_FREE;
    return 0;
}

/* The next event for a bound port. Events for ports not bound (a guest
 * that notifies before it is introduced, or after it is released) are
 * dropped, as Xen drops them. */
int xenevtchn_pending(void *xce)
{
    (void)xce;
    for (;;) {
        uint32_t event[2];
        ssize_t n = recv(evtchn_fd, event, sizeof event, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n != sizeof event)
            continue;
        enum port_state want = event[0] == DOMID_XEN ? PORT_VIRQ : PORT_INTERDOMAIN;
        for (int p = 1; p < MAX_PORTS; p++)
            if (ports[p].state == want && ports[p].domid == event[0] &&
                ports[p].remote == event[1])
                return p;
    }
}

int xenevtchn_unmask(void *xce, unsigned port) { (void)xce; (void)port; return 0; }

/* Wakes the guest at the other end, if it listens. Never blocks: a guest
 * whose queue is full has events to wake it already. */
int xenevtchn_notify(void *xce, unsigned port)
{
    (void)xce;
    if (port == 0 || port >= MAX_PORTS || ports[port].state != PORT_INTERDOMAIN) {
        errno = EINVAL;
        return -1;
    }
    char buf[PATH_MAX];
    struct sockaddr_un addr;
    const char *path = sandbox_path(buf, sizeof buf, "domains/%u/evtchn", ports[port].domid);
    if (!path || unix_address(&addr, path) < 0)
        return 0;
    uint32_t event[2] = {0, ports[port].remote};
    sendto(evtchn_fd, event, sizeof event, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&addr,
           sizeof addr);
    return 0;
}

/* --- RLIMIT_NOFILE clamp ----------------------------------------------- */

#define REAL(name) static __typeof__(name) *real; if (!real) real = dlsym(RTLD_NEXT, #name)

int setrlimit(__rlimit_resource_t resource, const struct rlimit *rl)
{
    REAL(setrlimit);
    struct rlimit want = *rl, cur;
    if (resource == RLIMIT_NOFILE && getrlimit(RLIMIT_NOFILE, &cur) == 0) {
        if (want.rlim_max > cur.rlim_max) want.rlim_max = cur.rlim_max;
        if (want.rlim_cur > want.rlim_max) want.rlim_cur = want.rlim_max;
    }
    return real(resource, &want);
}

int prlimit64(pid_t pid, __rlimit_resource_t resource, const struct rlimit64 *nl,
              struct rlimit64 *ol)
{
    REAL(prlimit64);
    if (!nl || resource != RLIMIT_NOFILE)
        return real(pid, resource, nl, ol);
    struct rlimit64 want = *nl, cur;
    if (real(pid, resource, NULL, &cur) == 0) {
        if (want.rlim_max > cur.rlim_max) want.rlim_max = cur.rlim_max;
        if (want.rlim_cur > want.rlim_max) want.rlim_cur = want.rlim_max;
    }
    return real(pid, resource, &want, ol);
}

/* --- /var/run/xenstored rewrite --------------------------------------- */

static const char xenstored_dir[] = "/var/run/xenstored";

/* Returns path, or the same path under $XSD_TEST_RUNDIR written into buf. */
static const char *rewrite(const char *path, char *buf, size_t size)
{
    const char *dir = getenv("XSD_TEST_RUNDIR");
    size_t n = sizeof xenstored_dir - 1;
    if (!dir || !path || strncmp(path, xenstored_dir, n) != 0 ||
        (path[n] != '\0' && path[n] != '/'))
        return path;
    if ((size_t)snprintf(buf, size, "%s%s", dir, path + n) >= size)
        return path;
    return buf;
}

int unlink(const char *path)
{
    REAL(unlink);
    char buf[PATH_MAX];
    return real(rewrite(path, buf, sizeof buf));
}

int mkdir(const char *path, mode_t mode)
{
    REAL(mkdir);
    char buf[PATH_MAX];
    return real(rewrite(path, buf, sizeof buf), mode);
}

int chmod(const char *path, mode_t mode)
{
    REAL(chmod);
    char buf[PATH_MAX];
    return real(rewrite(path, buf, sizeof buf), mode);
}

static int open_rewritten(int (*real)(const char *, int, ...), const char *path, int flags,
                          va_list ap)
{
    mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
    char buf[PATH_MAX];
    return real(rewrite(path, buf, sizeof buf), flags, mode);
}

int open(const char *path, int flags, ...)
{
    REAL(open);
    va_list ap;
    va_start(ap, flags);
    int fd = open_rewritten(real, path, flags, ap);
    va_end(ap);
    return fd;
}

int open64(const char *path, int flags, ...)
{
    REAL(open64);
    va_list ap;
    va_start(ap, flags);
    int fd = open_rewritten(real, path, flags, ap);
    va_end(ap);
    return fd;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    REAL(bind);
    if (!addr || addr->sa_family != AF_UNIX || len > sizeof(struct sockaddr_un))
        return real(fd, addr, len);
    /* The caller's sun_path need not be NUL-terminated: copy it into a
     * zeroed address before reading it as a string. */
    struct sockaddr_un in;
    memset(&in, 0, sizeof in);
    memcpy(&in, addr, len);
    char buf[PATH_MAX];
    const char *path = rewrite(in.sun_path, buf, sizeof buf);
    if (path == in.sun_path)
        return real(fd, addr, len);
    struct sockaddr_un out;
    memset(&out, 0, sizeof out);
    out.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof out.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(out.sun_path, path);
    return real(fd, (struct sockaddr *)&out, sizeof out);
}
