// Who is calling: uid and groups of each bus client, asked of the bus once
// per unique name and cached until the name leaves the bus.
//
// dbus-daemon 1.14's GetConnectionCredentials gives the uid and pid but not
// the groups, so the primary and supplementary groups are read from
// /proc/PID/status — the credentials of the process as it is, which is what
// sd-bus's augmented credentials do too. The lookup is asynchronous: no call
// waits on the bus inside the event loop.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include <sdbus-c++/IProxy.h>

#include "dbus/caller.h"

namespace xsd {

class CallerRegistry {
public:
    // caller is null when the bus could not say (then error says why).
    using Resolved = std::function<void(const Caller* caller, const std::string& error)>;

    // busProxy: a proxy for org.freedesktop.DBus on the daemon's connection.
    explicit CallerRegistry(sdbus::IProxy& busProxy) : bus_(busProxy) {}

    // Runs done at once when the name is known, else once the bus answered.
    void resolve(const std::string& uniqueName, Resolved done);
    // The name left the bus.
    void forget(const std::string& uniqueName);
    const Caller* find(const std::string& uniqueName) const;

    // Fills gid and groups from /proc/PID/status, if the process there still
    // has uid `uid`; exposed for tests.
    static bool readProcessGroups(uint32_t pid, uint32_t uid, Caller& out);

private:
    sdbus::IProxy& bus_;
    std::unordered_map<std::string, Caller> known_;
    std::unordered_map<std::string, std::vector<Resolved>> waiting_;
};

}  // namespace xsd
