#include "protocol/transport.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace xs {

std::string Backend::describe() const
{
    return (kind == Kind::Unix ? "unix:" : "xenbus:") + path;
}

std::optional<Backend> Backend::parse(std::string_view spec, std::string* why)
{
    auto fail = [&](std::string msg) -> std::optional<Backend> {
        if (why)
            *why = std::move(msg);
        return std::nullopt;
    };
    if (spec == "auto") {
        // libxenstore's order: the environment, the socket, the device.
        if (const char* env = std::getenv("XENSTORED_PATH"); env && *env) {
            struct stat st {};
            bool isDevice = ::stat(env, &st) == 0 && S_ISCHR(st.st_mode);
            return Backend{isDevice ? Kind::XenBus : Kind::Unix, env};
        }
        if (::access(std::string(DefaultSocketPath).c_str(), F_OK) == 0)
            return Backend{Kind::Unix, std::string(DefaultSocketPath)};
        return Backend{Kind::XenBus, std::string(DefaultXenBusPath)};
    }
    auto take = [&](std::string_view prefix, Kind kind) -> std::optional<Backend> {
        auto path = spec.substr(prefix.size());
        if (path.empty() || path.front() != '/')
            return fail("'" + std::string(spec) + "': expected an absolute path after '" +
                        std::string(prefix) + "'");
        return Backend{kind, std::string(path)};
    };
    if (spec.starts_with("unix:"))
        return take("unix:", Kind::Unix);
    if (spec.starts_with("xenbus:"))
        return take("xenbus:", Kind::XenBus);
    return fail("'" + std::string(spec) + "' is not auto, unix:PATH or xenbus:PATH");
}

int openTransport(const Backend& backend, std::string* why)
{
    auto fail = [&](std::string what) {
        if (why)
            *why = what + " " + backend.describe() + ": " + std::strerror(errno);
        return -1;
    };
    if (backend.kind == Backend::Kind::XenBus) {
        int fd = ::open(backend.path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
            return fail("cannot open");
        return fd;
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (backend.path.size() >= sizeof addr.sun_path) {
        errno = ENAMETOOLONG;
        return fail("cannot connect to");
    }
    std::memcpy(addr.sun_path, backend.path.data(), backend.path.size());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail("cannot create a socket for");
    // A non-blocking connect to a Unix socket either completes at once or
    // fails with EAGAIN when the listener's backlog is full; both are final.
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
        int saved = errno;
        ::close(fd);
        errno = saved;
        return fail("cannot connect to");
    }
    return fd;
}

}  // namespace xs
