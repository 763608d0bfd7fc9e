// Where xenstored is and how to reach it: a Unix socket (dom0, or the
// daemon run by hand) or the XenBus character device (a guest, or dom0
// with a stub-domain xenstored). Either way the result is one non-blocking
// file descriptor that an event loop drives.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace xs {

struct Backend {
    enum class Kind { Unix, XenBus };
    Kind kind = Kind::Unix;
    std::string path;

    // "unix:/var/run/xenstored/socket", "xenbus:/dev/xen/xenbus"
    std::string describe() const;

    // Parses auto | unix:PATH | xenbus:PATH. "auto" follows libxenstore:
    // $XENSTORED_PATH, else the socket if it exists, else the device.
    static std::optional<Backend> parse(std::string_view spec, std::string* why = nullptr);
};

inline constexpr std::string_view DefaultSocketPath = "/var/run/xenstored/socket";
inline constexpr std::string_view DefaultXenBusPath = "/dev/xen/xenbus";

// Opens the transport: a connected, non-blocking, close-on-exec fd, or -1
// with *why saying what failed.
int openTransport(const Backend& backend, std::string* why = nullptr);

}  // namespace xs
