/*
 * Preloaded into oxenstored so that it runs without a hypervisor and without
 * touching a real Xen host's files:
 *  - the libxenctrl/libxenevtchn calls it makes at start are answered here
 *    (the event channel is an eventfd that never fires);
 *  - its RLIMIT_NOFILE request (nr_open) is clamped to the hard limit, which
 *    an unprivileged container would otherwise refuse;
 *  - the hard-coded /var/run/xenstored directory (socket, db dump) is
 *    rewritten to $XSD_TEST_RUNDIR, so parallel tests never share a socket.
 */
/* Both open and open64 are defined below, so no transparent aliasing. */
#undef _FILE_OFFSET_BITS
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* --- hypervisor stand-ins --------------------------------------------- */

static int evtchn_fd = -1;

void *xc_interface_open(void *logger, void *dombuild_logger, unsigned flags)
{
    (void)logger; (void)dombuild_logger; (void)flags;
    static int handle;
    return &handle;
}

int xc_interface_close(void *xch) { (void)xch; return 0; }

void *xenevtchn_open(void *logger, unsigned flags)
{
    (void)logger; (void)flags;
    static int handle;
    if (evtchn_fd < 0)
        evtchn_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return &handle;
}

void *xenevtchn_fdopen(void *logger, int fd, unsigned flags)
{
    (void)fd;
    return xenevtchn_open(logger, flags);
}

int xenevtchn_close(void *xce) { (void)xce; return 0; }
int xenevtchn_fd(void *xce) { (void)xce; return evtchn_fd; }
int xenevtchn_bind_virq(void *xce, unsigned virq) { (void)xce; (void)virq; return 1; }
int xenevtchn_pending(void *xce) { (void)xce; errno = EAGAIN; return -1; }
int xenevtchn_unmask(void *xce, unsigned port) { (void)xce; (void)port; return 0; }
int xenevtchn_notify(void *xce, unsigned port) { (void)xce; (void)port; return 0; }
int xenevtchn_unbind(void *xce, unsigned port) { (void)xce; (void)port; return 0; }

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
