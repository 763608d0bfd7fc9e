#include "tests/harness/pty_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <stdexcept>

#include "tests/harness/guest.h"

namespace xsd::test {

namespace {

[[noreturn]] void fail(const std::string& what)
{
    throw std::runtime_error("pty relay: " + what + ": " + std::strerror(errno));
}

// Raw mode on the slave: the line discipline must pass XenStore's binary
// frames untouched in both directions. Without it the tty would echo what
// the client writes back at it, turn CR into LF, treat ^C/^Z/^\ as signals,
// ^S/^Q as flow control, ^D as end of file, buffer input by lines (and cut
// lines at 4096 bytes), and add CR before every LF the client writes.
void makeRaw(int slave)
{
    termios tio{};
    if (tcgetattr(slave, &tio) < 0)
        fail("tcgetattr");
    cfmakeraw(&tio);
    tio.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL | ECHOE | ECHOK | ICANON | ISIG | IEXTEN);
    tio.c_iflag &= ~static_cast<tcflag_t>(IXON | IXOFF | ICRNL | INLCR | IGNCR | ISTRIP);
    tio.c_oflag &= ~static_cast<tcflag_t>(OPOST);
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VTIME] = 0;
    if (tcsetattr(slave, TCSANOW, &tio) < 0)
        fail("tcsetattr");
    // tcsetattr succeeds if it applied any of the changes; check they all took.
    termios now{};
    if (tcgetattr(slave, &now) < 0)
        fail("tcgetattr");
    if ((now.c_lflag & (ECHO | ICANON | ISIG | IEXTEN)) || (now.c_oflag & OPOST) ||
        (now.c_iflag & (IXON | ICRNL))) {
        errno = EINVAL;
        fail("the slave did not take raw mode");
    }
}

int connectTo(const std::string& path)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) {
        errno = ENAMETOOLONG;
        fail("socket path " + path);
    }
    std::memcpy(addr.sun_path, path.data(), path.size());
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fail("socket");
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
        int saved = errno;
        ::close(fd);
        errno = saved;
        fail("connect " + path);
    }
    return fd;
}

void setNonBlocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        fail("fcntl O_NONBLOCK");
}

// One direction of the relay: bytes read from one side wait here until the
// other takes them, so neither side ever blocks the other. `in` and `out`
// behave like read(2) and write(2) on a non-blocking descriptor.
struct Pipe {
    std::function<ssize_t(char*, size_t)> in;
    std::function<ssize_t(const char*, size_t)> out;
    std::string buffer;
    static constexpr size_t Cap = 256 * 1024;

    // False when the source ended (EOF, or EIO: the other side hung up).
    bool pull()
    {
        char buf[65536];
        for (;;) {
            ssize_t n = in(buf, sizeof buf);
            if (n > 0) {
                buffer.append(buf, static_cast<size_t>(n));
                if (buffer.size() >= Cap)
                    return true;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            return n < 0 && errno == EAGAIN;
        }
    }

    // False when the destination is gone.
    bool push()
    {
        while (!buffer.empty()) {
            ssize_t n = out(buffer.data(), buffer.size());
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return errno == EAGAIN;
            buffer.erase(0, static_cast<size_t>(n));
        }
        return true;
    }
};

auto reader(int fd)
{
    return [fd](char* b, size_t n) { return ::read(fd, b, n); };
}
auto writer(int fd)
{
    return [fd](const char* b, size_t n) { return ::write(fd, b, n); };
}

}  // namespace

PtyRelay::PtyRelay(const std::string& socketPath)
{
    openPty();
    try {
        socket_ = connectTo(socketPath);
        setNonBlocking(socket_);
    } catch (...) {
        for (int fd : {master_, slave_, wake_})
            ::close(fd);
        throw;
    }
    startThread();
}

PtyRelay::PtyRelay(const GuestDomain& domain)
{
    openPty();
    try {
        ring_ = std::make_unique<GuestRing>(domain);
    } catch (...) {
        for (int fd : {master_, slave_, wake_})
            ::close(fd);
        throw;
    }
    startThread();
}

void PtyRelay::openPty()
{
    try {
        master_ = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master_ < 0)
            fail("posix_openpt");
        if (grantpt(master_) < 0)
            fail("grantpt");
        if (unlockpt(master_) < 0)
            fail("unlockpt");
        char name[128];
        if (ptsname_r(master_, name, sizeof name) != 0)
            fail("ptsname_r");
        devicePath_ = name;
        slave_ = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave_ < 0)
            fail("open " + devicePath_);
        makeRaw(slave_);
        setNonBlocking(master_);
        wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (wake_ < 0)
            fail("eventfd");
    } catch (...) {
        for (int fd : {master_, slave_, wake_})
            if (fd >= 0)
                ::close(fd);
        throw;
    }
}

void PtyRelay::startThread()
{
    running_ = true;
    thread_ = std::thread([this] { relay(); });
}

PtyRelay::~PtyRelay()
{
    close();
}

void PtyRelay::close()
{
    if (thread_.joinable()) {
        uint64_t one = 1;
        [[maybe_unused]] auto n = write(wake_, &one, sizeof one);
        thread_.join();
    }
    if (wake_ >= 0) {
        ::close(wake_);
        wake_ = -1;
    }
}

void PtyRelay::relay()
{
    // The client's requests, and xenstored's replies and events. A ring
    // never ends and is never "writable": xenstored notifies when it has
    // written or taken something, and both rings are looked at after each
    // notification (drained first, so that none is missed).
    Pipe up{reader(master_), writer(socket_), {}};
    Pipe down{reader(socket_), writer(master_), {}};
    if (ring_) {
        auto ring = ring_.get();
        // As read(2)/write(2): EAGAIN for "nothing now", EIO once the
        // indexes make no sense (xenstored reset the page: the domain was
        // released), which ends the relay as a hang-up.
        auto asSyscall = [](auto&& move) -> ssize_t {
            try {
                if (size_t n = move())
                    return static_cast<ssize_t>(n);
                errno = EAGAIN;
            } catch (const std::runtime_error&) {
                errno = EIO;
            }
            return -1;
        };
        up.out = [ring, asSyscall](const char* b, size_t n) {
            return asSyscall([&] { return ring->write(b, n); });
        };
        down.in = [ring, asSyscall](char* b, size_t n) {
            return asSyscall([&] { return ring->read(b, n); });
        };
    }
    const int upstream = ring_ ? ring_->eventFd() : socket_;
    bool open = true;
    while (open) {
        short upstreamEvents = ring_ ? POLLIN
                                     : static_cast<short>(
                                           (down.buffer.size() < Pipe::Cap ? POLLIN : 0) |
                                           (up.buffer.empty() ? 0 : POLLOUT));
        pollfd fds[3] = {
            {master_, static_cast<short>((up.buffer.size() < Pipe::Cap ? POLLIN : 0) |
                                         (down.buffer.empty() ? 0 : POLLOUT)), 0},
            {upstream, upstreamEvents, 0},
            {wake_, POLLIN, 0},
        };
        if (poll(fds, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[2].revents)
            break;
        if (ring_)
            ring_->drain();
        if (fds[0].revents & (POLLIN | POLLERR | POLLHUP))
            open = up.pull() && open;
        if (ring_ ? down.buffer.size() < Pipe::Cap : (fds[1].revents & (POLLIN | POLLERR | POLLHUP)))
            open = down.pull() && open;
        // What already arrived is still delivered when a side ends, as a
        // device delivers replies that were queued before xenstored died.
        if (!up.push() || !down.push())
            open = false;
    }
    // Closing the master hangs up the slave: the client's next read sees
    // EOF, its next write EIO.
    for (int* fd : {&master_, &slave_, &socket_}) {
        if (*fd >= 0)
            ::close(*fd);
        *fd = -1;
    }
    ring_.reset();
    running_ = false;
}

}  // namespace xsd::test
