// xenstore-dbus-bench: how much the daemon costs, as ratios against floors
// measured in the same run (never absolute targets; machines differ).
//
//   latency:     Read through the daemon  vs  D-Bus Ping to the daemon +
//                a direct XenStore read with the protocol library
//   throughput:  Read vs Ping with 1, 8 and 64 concurrent client connections
//   fan-out:     one write reaching 1,000 subscribers of one path, and the
//                number of XenStore watches the daemon used for them
//   memory:      the daemon's resident size idle and with 10,000 subscriptions
//
// It starts its own oxenstored, dbus-daemon and xenstore-dbusd (the test
// harness's Stack), so it needs nothing running. Usage:
//   xenstore-dbus-bench [--quick]
#include <poll.h>
#include <systemd/sd-event.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "protocol/client.h"
#include "protocol/transport.h"
#include "tests/harness/event_loop.h"
#include "tests/harness/stack.h"

using namespace xsd::test;
using Clock = std::chrono::steady_clock;

namespace {

struct Stats {
    double median = 0, p99 = 0;  // microseconds
};

Stats stats(std::vector<double> us)
{
    std::sort(us.begin(), us.end());
    return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

double micros(Clock::duration d)
{
    return std::chrono::duration<double, std::micro>(d).count();
}

// A bus connection with no event-loop thread: calls are plain blocking
// sd_bus_call()s, the same for every kind of call measured.
struct BusCaller {
    std::unique_ptr<sdbus::IConnection> conn;
    std::unique_ptr<sdbus::IProxy> proxy;
    explicit BusCaller(const std::string& address)
        : conn(sdbus::createSessionBusConnectionWithAddress(address)),
          proxy(sdbus::createProxy(*conn, BusName, ObjectPath))
    {
    }
    void read(const std::string& path)
    {
        std::string v;
        proxy->callMethod("Read").onInterface(Interface).withArguments(path).storeResultsTo(v);
    }
    void ping() { proxy->callMethod("Ping").onInterface("org.freedesktop.DBus.Peer"); }
};

// The floor for XenStore: a read with the protocol library, no D-Bus.
struct DirectReader {
    EventLoop loop;
    std::unique_ptr<xs::Client> client;
    explicit DirectReader(const std::string& backend)
    {
        auto b = xs::Backend::parse(backend);
        client = std::make_unique<xs::Client>(loop.get(), xs::openTransport(*b), xs::Client::Handlers{});
    }
    void read(const std::string& path)
    {
        bool done = false;
        client->read(path, xs::NoTransaction, [&](xs::Result<std::string>) { done = true; });
        while (!done)
            sd_event_run(loop.get(), UINT64_MAX);
    }
    void write(const std::string& path, const std::string& value)
    {
        bool done = false;
        client->write(path, value, xs::NoTransaction, [&](xs::Result<xs::Unit>) { done = true; });
        while (!done)
            sd_event_run(loop.get(), UINT64_MAX);
    }
};

template <class F>
Stats measure(int n, F&& f)
{
    for (int i = 0; i < n / 10; ++i)
        f();  // warm up
    std::vector<double> us;
    us.reserve(n);
    for (int i = 0; i < n; ++i) {
        auto t0 = Clock::now();
        f();
        us.push_back(micros(Clock::now() - t0));
    }
    return stats(std::move(us));
}

enum class Call { Ping, ReadSharedKey, ReadOwnKey };

struct Rate {
    long calls = 0;
    double perSecond = 0;
};

// Calls per second with `clients` connections calling as fast as they can:
// Ping, Read of one key all share, or Read of a key per connection
// (/bench/own/N, which must exist).
Rate throughput(const std::string& address, int clients, double seconds, Call call)
{
    std::vector<std::unique_ptr<BusCaller>> callers;
    for (int i = 0; i < clients; ++i)
        callers.push_back(std::make_unique<BusCaller>(address));
    std::atomic<bool> go{false}, stop{false};
    std::atomic<long> calls{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i)
        threads.emplace_back([&, c = callers[i].get(), own = "/bench/own/" + std::to_string(i)] {
            while (!go)
                std::this_thread::yield();
            long n = 0;
            while (!stop) {
                if (call == Call::Ping)
                    c->ping();
                else
                    c->read(call == Call::ReadSharedKey ? "/bench/key" : own);
                ++n;
            }
            calls += n;
        });
    auto t0 = Clock::now();
    go = true;
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& t : threads)
        t.join();
    return {calls, calls / std::chrono::duration<double>(Clock::now() - t0).count()};
}

// `n` bus connections, each subscribed to `path` with its own token, all
// served from this one thread with poll().
struct Subscribers {
    std::vector<std::unique_ptr<sdbus::IConnection>> conns;
    std::vector<std::unique_ptr<sdbus::IProxy>> proxies;
    long received = 0;

    Subscribers(const std::string& address, int n, const std::string& path)
    {
        for (int i = 0; i < n; ++i) {
            conns.push_back(sdbus::createSessionBusConnectionWithAddress(address));
            auto p = sdbus::createProxy(*conns.back(), BusName, ObjectPath);
            p->uponSignal("WatchEvent").onInterface(Interface).call(
                [this](const std::string&, const std::string&) { ++received; });
            p->finishRegistration();
            p->callMethod("Watch").onInterface(Interface).withArguments(path, "sub-" + std::to_string(i));
            proxies.push_back(std::move(p));
        }
    }
    // Processes until `target` events arrived in total (or timeout).
    bool pump(long target, std::chrono::seconds timeout = std::chrono::seconds(30))
    {
        auto deadline = Clock::now() + timeout;
        std::vector<pollfd> fds(conns.size());
        while (received < target && Clock::now() < deadline) {
            for (size_t i = 0; i < conns.size(); ++i) {
                while (conns[i]->processPendingRequest()) {
                }
                fds[i] = {conns[i]->getEventLoopPollData().fd, POLLIN, 0};
            }
            if (received >= target)
                break;
            poll(fds.data(), fds.size(), 100);
        }
        return received >= target;
    }
};

}  // namespace

int main(int argc, char** argv)
{
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    const int n = quick ? 500 : 5000;
    const double seconds = quick ? 0.5 : 2.0;
    const int rounds = quick ? 1 : 3;

    Stack::Options options;
    options.verbose = false;
    Stack stack(options);
    BusCaller caller(stack.address());
    DirectReader direct(stack.xenstored().backend());
    direct.write("/bench/key", "value");

    std::printf("xenstore-dbus benchmark (%s run; ratios are what matter)\n\n",
                quick ? "quick" : "full");

    // --- latency ---------------------------------------------------------
    Stats read = measure(n, [&] { caller.read("/bench/key"); });
    Stats ping = measure(n, [&] { caller.ping(); });
    Stats xs = measure(n, [&] { direct.read("/bench/key"); });
    std::printf("latency over %d calls       median µs    p99 µs\n", n);
    std::printf("  Read via the daemon      %9.1f %9.1f\n", read.median, read.p99);
    std::printf("  Peer.Ping to the daemon  %9.1f %9.1f\n", ping.median, ping.p99);
    std::printf("  direct XenStore read     %9.1f %9.1f\n", xs.median, xs.p99);
    std::printf("  Read / (Ping + direct)   %9.2f %9.2f   target <= 1.10 (median)\n\n",
                read.median / (ping.median + xs.median), read.p99 / (ping.p99 + xs.p99));

    // --- throughput ------------------------------------------------------
    // Reads of one key by many callers at once share XenStore READs (the
    // daemon coalesces reads of a node that wait together to be sent); a
    // key per connection shows the cost when nothing can be shared. Both
    // are printed, with the XenStore READs each Read call cost.
    std::printf("throughput, calls/s    Read(one key)       Ping   Read/Ping   READs/Read"
                "   Read(own keys)   Read/Ping\n");
    for (int i = 0; i < 64; ++i)
        direct.write("/bench/own/" + std::to_string(i), "value");
    // Each kind of call is measured `rounds` times, the kinds taking turns,
    // and the median taken: with every process on two cores, one window
    // alone swings by a fifth.
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    for (int clients : {1, 8, 64}) {
        auto reads = [&] { return stack.xenstored().countAccessLog({" read ", "/bench/key "}); };
        std::vector<double> shared, ping, own;
        long sharedCalls = 0;
        int upstream = 0;
        for (int r = 0; r < rounds; ++r) {
            int before = reads();
            Rate s = throughput(stack.address(), clients, seconds, Call::ReadSharedKey);
            upstream += reads() - before;
            sharedCalls += s.calls;
            shared.push_back(s.perSecond);
            ping.push_back(throughput(stack.address(), clients, seconds, Call::Ping).perSecond);
            own.push_back(throughput(stack.address(), clients, seconds, Call::ReadOwnKey).perSecond);
        }
        double p = median(ping);
        std::printf("  %2d connections   %12.0f %10.0f   %9.2f   %10.2f   %14.0f   %9.2f%s\n",
                    clients, median(shared), p, median(shared) / p,
                    double(upstream) / std::max(1L, sharedCalls), median(own), median(own) / p,
                    clients == 64 ? "   target >= 0.90" : "");
    }
    std::printf("\n");

    // --- fan-out ---------------------------------------------------------
    {
        const int subscribers = 1000;
        Subscribers subs(stack.address(), subscribers, "/bench/fanout");
        subs.pump(subscribers);  // the initial events
        auto watches = stack.client()->WatchCount();
        auto t0 = Clock::now();
        direct.write("/bench/fanout/x", "1");
        bool all = subs.pump(2L * subscribers);
        double ms = micros(Clock::now() - t0) / 1000.0;
        std::printf("fan-out: one write reached %ld of %d subscribers in %.1f ms; "
                    "XenStore watches used: %u (target: 1)\n\n",
                    subs.received - subscribers, subscribers, ms, watches);
        if (!all)
            std::printf("  (not all events arrived within 30 s)\n");
    }

    // --- memory ----------------------------------------------------------
    {
        long idle = residentKiB(stack.daemon().pid());
        std::vector<std::unique_ptr<BusCaller>> holders;
        for (int c = 0; c < 100; ++c) {
            holders.push_back(std::make_unique<BusCaller>(stack.address()));
            for (int t = 0; t < 100; ++t)
                holders.back()->proxy->callMethod("Watch").onInterface(Interface).withArguments(
                    "/bench/mem/" + std::to_string(t), "t" + std::to_string(c));
        }
        long full = residentKiB(stack.daemon().pid());
        auto count = stack.client()->SubscriptionCount();
        std::printf("memory: daemon RSS idle %ld KiB; with %u subscriptions %ld KiB "
                    "(%.0f bytes each)\n",
                    idle, count, full, (full - idle) * 1024.0 / std::max(1u, count));
    }
    return 0;
}
