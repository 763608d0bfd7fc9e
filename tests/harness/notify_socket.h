// The service manager's side of sd_notify(3), for tests: a datagram Unix
// socket the test owns. Point a daemon's $NOTIFY_SOCKET at path() and read
// what it reports (READY=1, STATUS=…, WATCHDOG=1, RELOADING=1, STOPPING=1)
// without systemd running.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/harness/process.h"

namespace xsd::test {

class NotifySocket {
public:
    // Binds a fresh socket in a temporary directory that every uid may use,
    // so a daemon running as another user can report too.
    NotifySocket();
    ~NotifySocket();
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;

    // For $NOTIFY_SOCKET.
    const std::string& path() const { return path_; }
    // {"NOTIFY_SOCKET", path()} to merge into a child's environment.
    Env env() const { return {{"NOTIFY_SOCKET", path_}}; }

    // The next message (one datagram, e.g. "READY=1\nSTATUS=…"), or nothing
    // if none arrives within `timeout`.
    std::optional<std::string> receive(std::chrono::milliseconds timeout);
    // The pid the kernel vouches for as the sender of the last message
    // received (SCM_CREDENTIALS), or -1.
    pid_t lastSender() const { return lastSender_; }

    // Receives until a message satisfies `wanted`; returns that message.
    // Messages passed over stay in history().
    std::optional<std::string> waitUntil(const std::function<bool(const std::string&)>& wanted,
                                         std::chrono::milliseconds timeout);
    // waitUntil a message has a line equal to `line` ("READY=1") or, if
    // `line` ends with '=', a line starting with it ("STATUS=").
    std::optional<std::string> waitFor(std::string_view line,
                                       std::chrono::milliseconds timeout);

    // Every message received so far, in order.
    const std::vector<std::string>& history() const { return history_; }

    // Whether `message` has a line matching `line` as waitFor() means it.
    static bool hasLine(std::string_view message, std::string_view line);

private:
    TempDir dir_{"xsd-notify"};
    std::string path_;
    int fd_ = -1;
    pid_t lastSender_ = -1;
    std::vector<std::string> history_;
};

}  // namespace xsd::test
