// A bus client as the bus reports it: what the daemon's decisions about a
// caller start from (dbus/callers.h asks the bus; daemon/config/access.h
// judges).
#pragma once

#include <cstdint>
#include <vector>

namespace xsd {

struct Caller {
    uint32_t uid = 0;
    uint32_t gid = 0;              // primary group; UINT32_MAX when not known apart
    std::vector<uint32_t> groups;  // supplementary groups (or every group, primary included)
    uint32_t pid = 0;              // for logs only; never part of a decision
};

}  // namespace xsd
