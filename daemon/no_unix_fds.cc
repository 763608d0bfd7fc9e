#include "daemon/no_unix_fds.h"

#include <dlfcn.h>
#include <systemd/sd-bus.h>

#include <atomic>
#include <cerrno>

namespace {
std::atomic<unsigned> withoutFds{0};
}

namespace xsd {

unsigned busesWithoutUnixFds()
{
    return withoutFds.load();
}

}  // namespace xsd

// Takes the place of sd-bus's own (the executable's symbols come first):
// every caller of sd_bus_start() in the process, sdbus-c++ and sd-bus's own
// sd_bus_open_*() alike, reaches this.
extern "C" __attribute__((visibility("default"))) int sd_bus_start(sd_bus* bus)
{
    using Start = int (*)(sd_bus*);
    static const auto start = reinterpret_cast<Start>(dlsym(RTLD_NEXT, "sd_bus_start"));
    if (!start)
        return -ENOSYS;
    if (int r = sd_bus_negotiate_fds(bus, 0); r < 0)
        return r;
    ++withoutFds;
    return start(bus);
}
