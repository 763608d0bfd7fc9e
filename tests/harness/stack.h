// The whole stack for integration tests: a real oxenstored, a private
// dbus-daemon configured like the system bus, and xenstore-dbusd between
// them — plus clients of the daemon: sdbus-c++ proxies generated from the
// interface XML, and busctl/gdbus.
#pragma once

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "dbus/org.xenproject.XenStore1.Transaction.proxy.h"
#include "dbus/org.xenproject.XenStore1.proxy.h"
#include "tests/harness/dbus_daemon.h"
#include "tests/harness/process.h"
#include "tests/harness/xenstored.h"

namespace xsd::test {

inline constexpr const char* BusName = "org.xenproject.XenStore1";
inline constexpr const char* ObjectPath = "/org/xenproject/XenStore1";
inline constexpr const char* Interface = "org.xenproject.XenStore1";
inline constexpr const char* ErrorPrefix = "org.xenproject.XenStore1.Error.";

struct WatchEvent {
    std::string path;
    std::string token;
    bool operator==(const WatchEvent&) const = default;
};

// DomainIntroduced(domid) or DomainReleased(domid), and how many
// WatchEvents the client had received before it (for their order).
struct DomainSignal {
    std::string member;
    uint32_t domid = 0;
    size_t watchEventsBefore = 0;
};

// One client connection to the daemon, with its own bus connection and
// event-loop thread; collects the WatchEvent signals it receives.
class Client final : public sdbus::ProxyInterfaces<org::xenproject::XenStore1_proxy,
                                                   sdbus::Properties_proxy> {
public:
    explicit Client(const std::string& address);
    ~Client();

    // This client's bus connection: transactions it starts are used on it.
    sdbus::IConnection& connection() { return getProxy().getConnection(); }
    // Sends Snapshot(path) without waiting for the answer, which the future
    // holds: the JSON, or the error's name. Calls sent this way reach the
    // daemon in the order they were sent.
    std::future<std::string> snapshotLater(const std::string& path);
    std::vector<WatchEvent> events() const;
    // Waits until at least n events arrived; returns them all.
    std::vector<WatchEvent> waitForEvents(size_t n,
                                          std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
    void clearEvents();
    // Values of Connected announced by PropertiesChanged, in order.
    std::vector<bool> connectedChanges() const;
    // DomainIntroduced/DomainReleased received; waits until at least n.
    std::vector<DomainSignal> domainSignals() const;
    std::vector<DomainSignal> waitForDomainSignals(
        size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

private:
    void onWatchEvent(const std::string& path, const std::string& token) override;
    void onDomainIntroduced(const uint32_t& domid) override;
    void onDomainReleased(const uint32_t& domid) override;
    void onPropertiesChanged(const std::string& interfaceName,
                             const std::map<std::string, sdbus::Variant>& changed,
                             const std::vector<std::string>& invalidated) override;

    mutable std::mutex mutex_;
    mutable std::condition_variable cv_;
    std::vector<WatchEvent> events_;
    std::vector<bool> connectedChanges_;
    std::vector<DomainSignal> domainSignals_;
};

// A transaction object, driven by the client that started it (or, to test
// ownership, by another).
class TransactionClient final
    : public sdbus::ProxyInterfaces<org::xenproject::XenStore1::Transaction_proxy> {
public:
    TransactionClient(sdbus::IConnection& connection, const std::string& path)
        : ProxyInterfaces(connection, BusName, path)
    {
        registerProxy();
    }
    ~TransactionClient() { unregisterProxy(); }
};

// The name of the error a call failed with, or "" when it succeeded.
template <class F>
std::string errorOf(F&& f)
{
    try {
        f();
    } catch (const sdbus::Error& e) {
        return e.getName();
    }
    return "";
}

// A path of exactly `bytes` bytes, absolute or relative, in components of
// 99 characters: for the length limits.
std::string longPath(size_t bytes, bool absolute);

class Stack {
public:
    struct Options {
        std::optional<std::string> config;  // JSON; none: the daemon runs without --config
        bool verbose = true;
        std::vector<std::string> extraArgs;
        Env env;
        // false: no daemon (the test starts its own, or runs it to exit).
        bool startDaemon = true;
        // Where the daemon's stderr goes (the test keeps the descriptor);
        // -1: to daemonLog() with its stdout.
        int daemonStderr = -1;
        // Lines for oxenstored's configuration ("test-eagain = true").
        std::string xenstoredConfig;
        // Bus policy files besides the project's (the benchmark's floor).
        std::vector<std::string> busPolicies;
    };

    Stack() : Stack(Options{}) {}
    explicit Stack(Options options);

    Xenstored& xenstored() { return xenstored_; }
    DbusDaemon& bus() { return bus_; }
    const std::string& address() const { return bus_.address(); }
    Process& daemon() { return daemon_; }
    std::string daemonLog() const;
    std::string configPath() const { return dir_ / "config.json"; }

    // `extraArgs` go after the options' own (a later --xenstore wins: a
    // test whose way to xenstored exists only once the stack does).
    void startDaemon(const std::vector<std::string>& extraArgs = {});
    // Waits until the daemon owns its name and is connected to xenstored.
    bool waitReady(std::chrono::milliseconds timeout = std::chrono::seconds(15));
    int stopDaemon(int sig = 15);

    std::unique_ptr<Client> client() { return std::make_unique<Client>(address()); }
    // A bus connection of its own, for transaction proxies.
    std::unique_ptr<sdbus::IConnection> connection();

    // busctl / gdbus against the test bus.
    Output busctl(const std::vector<std::string>& args, const Env& env = {});
    Output gdbus(const std::vector<std::string>& args, const Env& env = {});
    // `busctl call` of a method of the daemon's main object: args are the
    // signature, then the values.
    Output busctlCall(const std::string& method, const std::vector<std::string>& args);
    // Any command, run as uid/gid 65534 (nobody) with only `groups`.
    Output asNobody(const std::vector<std::string>& argv, const std::vector<unsigned>& groups = {});
    // A signal that claims to be `interface`.`member` at `path`, with string
    // arguments, sent by uid 65534 to the bus client `destination` (a
    // unique name). Returns once the daemon has read it: a Peer.Ping to the
    // daemon follows on the same connection.
    Output forgeSignal(const std::string& destination, const std::string& path,
                       const std::string& interface, const std::string& member,
                       const std::vector<std::string>& args);
    // The unique name that owns org.xenproject.XenStore1 now.
    std::string daemonUniqueName();
    // The unique name of the bus connection process `pid` made (its first,
    // if several); "" when it has none.
    std::string uniqueNameOf(pid_t pid);

    static std::string daemonPath();

private:
    Options options_;
    TempDir dir_{"xsd-stack"};
    Xenstored xenstored_;
    DbusDaemon bus_;
    Process daemon_;
};

}  // namespace xsd::test
