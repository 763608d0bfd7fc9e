// A real polkitd (Debian's polkitd 122) for one test, on the test's private
// system-like bus.
//
// polkitd takes its bus from $DBUS_SYSTEM_BUS_ADDRESS, but reads actions
// and rules only from fixed system directories (/usr/share/polkit-1/actions,
// /etc/polkit-1/rules.d, /usr/share/polkit-1/rules.d). So it runs as root in
// a mount namespace of its own (unshare --mount, private propagation) in
// which directories of the test's sandbox are bind-mounted over those
// three: the project's .policy, and the test's own JavaScript rules. Nothing
// outside the sandbox changes, and several tests may run their own at once.
// It drops to the polkitd user itself; the bus must let that user own
// org.freedesktop.PolicyKit1 (busPolicy(), the file Debian's polkitd ships).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/harness/process.h"

namespace xsd::test {

class Polkitd {
public:
    // `actions`: .policy files to offer; `rules`: the text of the one rules
    // file (JavaScript, polkit(8)). Starts it and waits until it owns its
    // name on the bus at `busAddress`; throws if it does not.
    Polkitd(std::string busAddress, std::vector<std::string> actions, const std::string& rules);
    ~Polkitd();

    void start();
    // Sends `sig` (SIGKILL by default) and waits for the exit.
    void kill(int sig = 9);
    pid_t pid() const { return proc_.pid(); }
    bool running() { return proc_.running(); }

    // Replaces the rules; returns once polkitd has loaded them again.
    void setRules(const std::string& rules);
    std::string log() const;
    // How many times it has (re)loaded its rules so far.
    int rulesLoaded() const;

    // The bus policy file that lets the polkitd user own its name.
    static std::string busPolicy();
    // Debian's polkitd binary.
    static std::string binary();

private:
    void writeRules(const std::string& rules);

    std::string busAddress_;
    TempDir dir_{"xsd-polkitd"};
    Process proc_;
};

}  // namespace xsd::test
