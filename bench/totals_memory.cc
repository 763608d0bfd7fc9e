#include "bench/totals_memory.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "protocol/wire.h"
#include "tests/harness/stack.h"

using namespace xsd::test;

namespace xsd::bench {

namespace {

// The defaults (daemon/config): the per-caller allowances and the totals.
constexpr int WatchesPerCaller = 256, WatchesTotal = 16384;
constexpr int TransactionsPerCaller = 8, TransactionsTotal = 1024;

// What a call failed with ("" when it succeeded).
template <class F>
std::string failureOf(F&& f)
{
    try {
        f();
    } catch (const sdbus::Error& e) {
        return e.getName() + ": " + e.getMessage();
    }
    return "";
}

// A bus connection whose calls are plain blocking ones. One that `reads`
// has an event-loop thread too, so it takes its watch events (and answers
// the daemon's Peer.Ping) as they come; one that does not is an attacker's,
// and the daemon holds its events up to queued_watch_events_per_subscriber.
struct Holder {
    explicit Holder(const std::string& address, bool reads = false)
        : conn(sdbus::createSessionBusConnectionWithAddress(address)),
          proxy(sdbus::createProxy(*conn, BusName, ObjectPath))
    {
        if (reads)
            conn->enterEventLoopAsync();
    }
    std::unique_ptr<sdbus::IConnection> conn;
    std::unique_ptr<sdbus::IProxy> proxy;
};

// `callers` connections, each making `per` calls of `call(holder, c, i)`,
// from a few threads at once.
std::vector<std::unique_ptr<Holder>> fill(Stack& stack, int callers, int per, bool read,
                                          void (*call)(Holder&, int, int))
{
    std::vector<std::unique_ptr<Holder>> holders;
    for (int c = 0; c < callers; ++c)
        holders.push_back(std::make_unique<Holder>(stack.address(), read));
    std::vector<std::thread> threads;
    constexpr int Threads = 8;
    for (int t = 0; t < Threads; ++t)
        threads.emplace_back([&, t] {
            for (int c = t; c < callers; c += Threads)
                for (int i = 0; i < per; ++i)
                    call(*holders[c], c, i);
        });
    for (auto& t : threads)
        t.join();
    return holders;
}

// The longest path a subscription can have, and the longest token beside
// it (path, token and their NULs in one XenStore payload); distinct per
// (c, i), so each is a XenStore watch of its own too.
constexpr size_t PathBytes = xs::AbsPathMax;
constexpr size_t TokenBytes = xs::PayloadMax - PathBytes - 2;

std::string watchedPath(int c, int i)
{
    std::string p = "/totals/" + std::to_string(c) + "-" + std::to_string(i);
    while (p.size() < PathBytes)
        p += "/" + std::string(std::min<size_t>(99, PathBytes - p.size() - 1), 'w');
    return p;
}

std::string token(int c, int i)
{
    std::string t = std::to_string(c) + "-" + std::to_string(i) + "-";
    return t + std::string(TokenBytes - t.size(), 't');
}

long settledResidentKiB(Stack& stack)
{
    std::this_thread::sleep_for(std::chrono::seconds(1));
    return residentKiB(stack.daemon().pid());
}

}  // namespace

void totalsMemory()
{
    Stack::Options options;
    options.verbose = false;  // the built-in rules: root may do anything
    for (bool read : {false, true}) {
        Stack stack(options);
        const long idle = settledResidentKiB(stack);
        auto holders = fill(stack, WatchesTotal / WatchesPerCaller, WatchesPerCaller, read,
                            [](Holder& h, int c, int i) {
                                h.proxy->callMethod("Watch").onInterface(Interface).withArguments(
                                    watchedPath(c, i), token(c, i));
                            });
        const long full = settledResidentKiB(stack);
        const unsigned count = stack.client()->SubscriptionCount();
        Holder extra(stack.address());
        const std::string next = failureOf([&] {
            extra.proxy->callMethod("Watch").onInterface(Interface).withArguments(watchedPath(-1, 0),
                                                                                token(-1, 0));
        });
        std::printf("totals: daemon RSS idle %ld KiB; with %u subscriptions (%zu connections %s, "
                    "%zu-byte paths, %zu-byte tokens, a XenStore watch each) %ld KiB "
                    "(%.0f bytes each); the next Watch: %s\n",
                    idle, count, holders.size(), read ? "reading their events" : "never reading",
                    PathBytes, TokenBytes, full, (full - idle) * 1024.0 / std::max(1u, count),
                    next.empty() ? "accepted" : next.substr(0, next.find(':')).c_str());
    }
    {
        Stack stack(options);
        const long idle = settledResidentKiB(stack);
        auto holders = fill(stack, TransactionsTotal / TransactionsPerCaller, TransactionsPerCaller,
                            false, [](Holder& h, int, int) {
                                sdbus::ObjectPath tx;
                                h.proxy->callMethod("StartTransaction").onInterface(Interface).storeResultsTo(tx);
                            });
        const long full = settledResidentKiB(stack);
        const unsigned count = stack.client()->TransactionCount();
        Holder extra(stack.address());
        const std::string next = failureOf(
            [&] { extra.proxy->callMethod("StartTransaction").onInterface(Interface); });
        std::printf("totals: daemon RSS idle %ld KiB; with %u open transactions (%zu connections) "
                    "%ld KiB (%.0f bytes each); the next StartTransaction: %s\n",
                    idle, count, holders.size(), full, (full - idle) * 1024.0 / std::max(1u, count),
                    next.empty() ? "accepted" : next.substr(0, next.find(':')).c_str());
    }
}

}  // namespace xsd::bench
