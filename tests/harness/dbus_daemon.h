// A private dbus-daemon for one test, configured like the system bus (deny
// by default) and including the project's own policy file, so the policy is
// exercised for real.
#pragma once

#include <string>
#include <vector>

#include "tests/harness/process.h"

namespace xsd::test {

class DbusDaemon {
public:
    // policyFiles: bus policy files to include (the project's by default).
    explicit DbusDaemon(std::vector<std::string> policyFiles = {defaultPolicy()});
    ~DbusDaemon();

    // unix:path=…, for --address / --bus / DBUS_SYSTEM_BUS_ADDRESS.
    const std::string& address() const { return address_; }
    pid_t pid() const { return proc_.pid(); }
    // Where the bus looks for activatable services ([D-BUS Service] files,
    // read when a call names a service nobody owns). Empty until a test
    // writes one; activation execs Exec= directly (no launch helper).
    std::string serviceDir() const { return dir_ / "services"; }

    static std::string defaultPolicy();

private:
    TempDir dir_{"xsd-bus"};
    Process proc_;
    std::string address_;
};

}  // namespace xsd::test
