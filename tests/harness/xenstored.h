// A real oxenstored for one test, in a directory of its own (see
// xenstored-sandbox), and XenStore's own command-line tools pointed at it.
#pragma once

#include <string>
#include <vector>

#include "tests/harness/process.h"

namespace xsd::test {

class Xenstored {
public:
    // Starts oxenstored and waits until its socket accepts connections.
    Xenstored();

    const std::string& dir() const { return dir_.path(); }
    std::string socketPath() const { return dir_ / "socket"; }
    std::string backend() const { return "unix:" + socketPath(); }
    pid_t pid() const { return proc_.pid(); }

    // oxenstored's access log: one line per request per connection.
    std::string accessLog() const;
    // Lines of the access log that contain every one of `needles`.
    int countAccessLog(const std::vector<std::string>& needles) const;

    // Stops it with `sig` (SIGKILL: as if it crashed); a later start() brings
    // up a fresh, empty store on the same socket path.
    void stop(int sig = 9);
    void start();

    // Runs a XenStore tool (xenstore-read, xenstore-write, xenstore-ls, …)
    // against this xenstored through XENSTORED_PATH.
    Output tool(const std::string& name, const std::vector<std::string>& args = {},
                const std::string& input = {}) const;
    // xenstore-write / xenstore-read, failing the test if the tool fails.
    void write(const std::string& path, const std::string& value) const;
    std::string read(const std::string& path) const;

private:
    TempDir dir_{"xsd-xenstored"};
    Process proc_;
};

}  // namespace xsd::test
