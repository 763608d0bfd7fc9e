#include "tests/harness/notify_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace xsd::test {

namespace {

[[noreturn]] void fail(const std::string& what)
{
    throw std::runtime_error("notify socket: " + what + ": " + std::strerror(errno));
}

}  // namespace

NotifySocket::NotifySocket() : path_(dir_ / "notify")
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof addr.sun_path) {
        errno = ENAMETOOLONG;
        fail(path_);
    }
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
        fail("socket");
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
        fail("bind " + path_);
    // Sending a datagram needs write permission on the socket file.
    ::chmod(path_.c_str(), 0666);
    // As systemd does: the kernel attaches the sender's pid to each message.
    int on = 1;
    if (::setsockopt(fd_, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0)
        fail("SO_PASSCRED");
}

NotifySocket::~NotifySocket()
{
    if (fd_ >= 0)
        ::close(fd_);
}

std::optional<std::string> NotifySocket::receive(std::chrono::milliseconds timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        // Rounded up, so that "nothing within 100 ms" means 100 ms waited.
        auto left = std::chrono::ceil<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{fd_, POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            fail("poll");
        if (r == 0) {
            if (std::chrono::steady_clock::now() < deadline)
                continue;
            return std::nullopt;
        }

        // sd_notify messages are small; systemd itself takes at most a page.
        char buf[4096];
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
        iovec iov{buf, sizeof buf};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        ssize_t n = ::recvmsg(fd_, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0)
            fail("recvmsg");
        lastSender_ = -1;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
                ucred cred{};
                std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
                lastSender_ = cred.pid;
            }
        }
        std::string message(buf, static_cast<size_t>(n));
        // A trailing newline is allowed by the protocol; it is no assignment.
        while (!message.empty() && message.back() == '\n')
            message.pop_back();
        history_.push_back(message);
        return message;
    }
}

bool NotifySocket::hasLine(std::string_view message, std::string_view line)
{
    const bool prefix = !line.empty() && line.back() == '=';
    size_t start = 0;
    while (start <= message.size()) {
        size_t end = message.find('\n', start);
        if (end == std::string_view::npos)
            end = message.size();
        auto got = message.substr(start, end - start);
        if (prefix ? got.starts_with(line) : got == line)
            return true;
        start = end + 1;
    }
    return false;
}

std::optional<std::string> NotifySocket::waitUntil(
    const std::function<bool(const std::string&)>& wanted, std::chrono::milliseconds timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() < 0)
            return std::nullopt;
        auto message = receive(left);
        if (!message)
            return std::nullopt;
        if (wanted(*message))
            return message;
    }
}

std::optional<std::string> NotifySocket::waitFor(std::string_view line,
                                                 std::chrono::milliseconds timeout)
{
    return waitUntil([line](const std::string& m) { return hasLine(m, line); }, timeout);
}

}  // namespace xsd::test
