// A real oxenstored for one test, in a directory of its own (see
// xenstored-sandbox), and XenStore's own command-line tools pointed at it.
// It runs with domain init: guest domains (tests/harness/guest.h) can be
// introduced and are served through their rings.
#pragma once

#include <string>
#include <vector>

#include "tests/harness/guest.h"
#include "tests/harness/process.h"

namespace xsd::test {

class Xenstored {
public:
    // Starts oxenstored and waits until its socket accepts connections.
    // `extraConfig`: lines for its oxenstored.conf ("quota-maxwatch = 4").
    explicit Xenstored(std::string extraConfig = {});
    // Killed outright: oxenstored ignores SIGTERM while a guest's connection
    // has replies it has not read, or a SET_TARGET (it would wait for them
    // to go, to save its state for a live update).
    ~Xenstored() { stop(9); }
    Xenstored(const Xenstored&) = delete;
    Xenstored& operator=(const Xenstored&) = delete;

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

    // One request as dom0 on a connection of its own, waiting for the
    // reply: a test's own toolstack moves, without the daemon. Fields are
    // joined as GuestClient::call joins them.
    XenStoreReply request(xs::MessageType type, const std::vector<std::string>& fields) const;
    // What a toolstack does for a new domain N, as libxl does: its home
    // /local/domain/N, dom0's and readable by N, with `domid` and `name`,
    // and `data` and `control/shutdown` that N owns. Throws on a refusal.
    void makeHome(unsigned domid) const;
    // INTRODUCE of the domain (makeHome first, for a whole guest); throws
    // on a refusal.
    void introduce(const GuestDomain& domain) const;

private:
    TempDir dir_{"xsd-xenstored"};
    std::string extraConfig_;
    Process proc_;
};

}  // namespace xsd::test
