// What the system-service tests add to the stack harness: calls made as the
// unprivileged uid 65534 by clients nobody here wrote (gdbus, which names
// the D-Bus error; busctl, which prints only its message), a long-lived
// unprivileged watch subscriber, a daemon started by the test itself (for
// environments the Stack does not give it, or before xenstored runs), and
// waiting for STATUS= lines on a NotifySocket.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/harness/notify_socket.h"
#include "tests/harness/process.h"
#include "tests/harness/stack.h"

#ifndef XSD_TEST_CLIENT
#error "XSD_TEST_CLIENT must name the xsd-test-client helper"
#endif

namespace xsd::test {

// One call's outcome as gdbus reports it.
struct CallOutcome {
    int status = -1;
    std::string out;      // the reply, in GVariant text: ('hello',)
    std::string error;    // the D-Bus error name, "" on success
    std::string message;  // the error's message
    std::string raw;      // gdbus's stderr, for failure messages
    bool ok() const { return status == 0; }
};

inline CallOutcome outcomeOf(const Output& o)
{
    CallOutcome c{o.status, o.out, "", "", o.err};
    // "Error: GDBus.Error:org.xenproject.XenStore1.Error.AccessDenied: uid 65534 may not …"
    const std::string marker = "GDBus.Error:";
    if (auto at = o.err.find(marker); at != std::string::npos) {
        auto start = at + marker.size();
        auto colon = o.err.find(": ", start);
        c.error = o.err.substr(start, colon - start);
        if (colon != std::string::npos) {
            c.message = o.err.substr(colon + 2);
            while (!c.message.empty() && c.message.back() == '\n')
                c.message.pop_back();
        }
    }
    return c;
}

// `gdbus call` of a method on the daemon as uid/gid 65534 with only the
// supplementary `groups`.
inline CallOutcome callAsNobody(Stack& stack, const std::string& method,
                                const std::vector<std::string>& args,
                                const std::vector<unsigned>& groups = {},
                                const std::string& object = ObjectPath,
                                const std::string& interface = Interface)
{
    std::vector<std::string> argv{"gdbus",         "call",   "--address",
                                  stack.address(), "--dest", BusName,
                                  "--object-path", object,   "--method",
                                  interface + "." + method};
    argv.insert(argv.end(), args.begin(), args.end());
    return outcomeOf(stack.asNobody(argv, groups));
}

// `busctl call` on the daemon as uid/gid 65534.
inline Output busctlAsNobody(Stack& stack, const std::string& method,
                             const std::vector<std::string>& args,
                             const std::vector<unsigned>& groups = {})
{
    std::vector<std::string> argv{"busctl", "--address=" + stack.address(), "call", BusName,
                                  ObjectPath, Interface, method};
    argv.insert(argv.end(), args.begin(), args.end());
    return stack.asNobody(argv, groups);
}

// `xsd-test-client … watch` (tests/system/test_client.cc) running as uid/gid
// 65534: subscribes to (path, token) pairs and prints one line per Watch
// result and per event. Or any other mode of the client that stays.
class NobodyWatcher {
public:
    NobodyWatcher(Stack& stack, const std::vector<std::pair<std::string, std::string>>& watches)
        : NobodyWatcher(Mode{{"watch"}}, stack, watches)
    {
    }
    // The client's arguments after the bus address: {"watch-domains"}.
    struct Mode {
        std::vector<std::string> args;
    };
    NobodyWatcher(const Mode& mode, Stack& stack,
                  const std::vector<std::pair<std::string, std::string>>& watches = {})
    {
        std::vector<std::string> argv{XSD_TEST_CLIENT, stack.address()};
        argv.insert(argv.end(), mode.args.begin(), mode.args.end());
        for (const auto& [path, token] : watches)
            argv.insert(argv.end(), {path, token});
        argv = asNobodyCommand(argv);
        proc_ = Process::writing(argv, dir_ / "out", dir_ / "err");
    }

    std::vector<std::string> lines() const { return splitLines(readFile(dir_ / "out")); }
    bool has(const std::string& line) const
    {
        for (const auto& l : lines())
            if (l == line)
                return true;
        return false;
    }
    bool waitForLine(const std::string& line,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) const
    {
        return waitFor([&] { return has(line); }, timeout);
    }
    // Everything it printed, for failure messages.
    std::string transcript() const
    {
        return readFile(dir_ / "out") + "(stderr) " + readFile(dir_ / "err");
    }
    Process& process() { return proc_; }

private:
    TempDir dir_{"xsd-nobody-watcher"};
    Process proc_;
};

// `xsd-test-client … tx-write`: a write inside a transaction as uid 65534;
// returns what it printed.
inline Output transactionWriteAsNobody(Stack& stack, const std::string& path,
                                       const std::string& value)
{
    return stack.asNobody({XSD_TEST_CLIENT, stack.address(), "tx-write", path, value});
}

// A second xenstore-dbusd on the stack's bus and xenstored, started by the
// test with the environment it chooses (NOTIFY_SOCKET, WATCHDOG_*), e.g.
// while xenstored is not running. `wrapper` goes before the daemon's argv
// (a shell that sets a variable to its own pid, then execs the daemon).
class OwnDaemon {
public:
    OwnDaemon(Stack& stack, const Env& env, const std::vector<std::string>& extraArgs = {},
              const std::vector<std::string>& wrapper = {})
    {
        std::vector<std::string> argv = wrapper;
        argv.insert(argv.end(), {Stack::daemonPath(), "--bus", stack.address(), "--xenstore",
                                 stack.xenstored().backend(), "--verbose"});
        argv.insert(argv.end(), extraArgs.begin(), extraArgs.end());
        proc_ = Process::logging(argv, dir_ / "daemon.log", env);
    }
    Process& process() { return proc_; }
    pid_t pid() const { return proc_.pid(); }
    std::string log() const { return readFile(dir_ / "daemon.log"); }

private:
    TempDir dir_{"xsd-own-daemon"};
    Process proc_;
};

// A stack without its own daemon, for tests that start one themselves
// (OwnDaemon, or a daemon run until it exits).
inline Stack::Options withoutDaemon()
{
    Stack::Options o;
    o.startDaemon = false;
    return o;
}

// Whether the daemon's bus name has an owner now, as the bus says.
inline bool nameOwned(Stack& stack)
{
    auto r = stack.busctl({"call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                           "org.freedesktop.DBus", "NameHasOwner", "s", BusName});
    return r.status == 0 && r.out == "b true\n";
}

// The value of the message's STATUS= line, if it has one.
inline std::optional<std::string> statusOf(const std::string& message)
{
    std::istringstream in(message);
    for (std::string line; std::getline(in, line);)
        if (line.rfind("STATUS=", 0) == 0)
            return line.substr(7);
    return std::nullopt;
}

// Receives until a message's STATUS= contains `needle`; returns that STATUS.
inline std::optional<std::string> waitForStatus(NotifySocket& ns, const std::string& needle,
                                                std::chrono::milliseconds timeout)
{
    auto m = ns.waitUntil(
        [&](const std::string& message) {
            auto s = statusOf(message);
            return s && s->find(needle) != std::string::npos;
        },
        timeout);
    return m ? statusOf(*m) : std::nullopt;
}

}  // namespace xsd::test
