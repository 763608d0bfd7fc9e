// The bus floor (bench/bus_floor_service.cc) as a benchmark starts and calls it:
// the minimal service on the same bus as the daemon, whose Echo costs what
// a D-Bus call costs and nothing else.
#pragma once

#include <sys/types.h>

#include <string>

#include "tests/harness/process.h"

namespace xsd::bench {

inline constexpr const char* FloorName = "org.xenproject.BusFloor";
inline constexpr const char* FloorObject = "/org/xenproject/BusFloor";
inline constexpr const char* FloorInterface = "org.xenproject.BusFloor";

class BusFloor {
public:
    // Starts the floor on the bus at `address` and waits until it owns its
    // name; the bus must have been given policyFile(). Throws if it does not
    // come up.
    explicit BusFloor(const std::string& address);

    pid_t pid() const { return process_.pid(); }

    // The bus policy that lets the floor own its name and be called, on a
    // bus configured like the system bus.
    static std::string policyFile();

private:
    test::Process process_;
};

}  // namespace xsd::bench
