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
//   xenstore-dbus-bench [--quick] [--rounds N] [--seconds S]
// (throughput: each kind of call measured N times for S seconds, in turns)
#include <poll.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
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
    void getVersion() { proxy->getProperty("Version").onInterface(Interface); }
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

// Ping is answered inside sd-bus; Get(Version) is the cheapest call that,
// like Read, carries arguments and a string answer through sdbus-c++ (no
// XenStore work): the floor for any method of the daemon.
enum class Call { Ping, GetVersion, ReadSharedKey, ReadOwnKey };
constexpr const char* callNames[] = {"Ping", "Get(Version)", "Read(one key)", "Read(own keys)"};

// CPU seconds used so far by each process of the stack.
struct Cpu {
    double clients = 0, bus = 0, daemon = 0, xenstored = 0;

    static Cpu now(Stack& stack)
    {
        return {cpuSeconds(getpid()), cpuSeconds(stack.bus().pid()),
                cpuSeconds(stack.daemon().pid()), cpuSeconds(stack.xenstored().pid())};
    }
    Cpu operator-(const Cpu& o) const
    {
        return {clients - o.clients, bus - o.bus, daemon - o.daemon, xenstored - o.xenstored};
    }
    Cpu& operator+=(const Cpu& o)
    {
        clients += o.clients, bus += o.bus, daemon += o.daemon, xenstored += o.xenstored;
        return *this;
    }
};

struct Rate {
    long calls = 0;
    double perSecond = 0;
    Cpu cpu;  // used during the window
};

// Calls per second with `clients` connections making `call` as fast as
// they can; ReadOwnKey reads /bench/own/N, which must exist.
Rate throughput(Stack& stack, int clients, double seconds, Call call)
{
    std::vector<std::unique_ptr<BusCaller>> callers;
    for (int i = 0; i < clients; ++i)
        callers.push_back(std::make_unique<BusCaller>(stack.address()));
    std::atomic<bool> go{false}, stop{false};
    std::atomic<long> calls{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i)
        threads.emplace_back([&, c = callers[i].get(), own = "/bench/own/" + std::to_string(i)] {
            while (!go)
                std::this_thread::yield();
            long n = 0;
            while (!stop) {
                switch (call) {
                case Call::Ping: c->ping(); break;
                case Call::GetVersion: c->getVersion(); break;
                case Call::ReadSharedKey: c->read("/bench/key"); break;
                case Call::ReadOwnKey: c->read(own); break;
                }
                ++n;
            }
            calls += n;
        });
    auto t0 = Clock::now();
    Cpu cpu0 = Cpu::now(stack);
    go = true;
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& t : threads)
        t.join();
    return {calls, calls / std::chrono::duration<double>(Clock::now() - t0).count(),
            Cpu::now(stack) - cpu0};
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
    bool quick = false;
    double seconds = 2.0;
    int rounds = 5;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--quick")
            quick = true, seconds = 0.5, rounds = 1;
        else if (arg == "--rounds" && i + 1 < argc)
            rounds = std::max(1, std::atoi(argv[++i]));
        else if (arg == "--seconds" && i + 1 < argc)
            seconds = std::max(0.1, std::atof(argv[++i]));
        else {
            std::fprintf(stderr, "usage: %s [--quick] [--rounds N] [--seconds S]\n", argv[0]);
            return 2;
        }
    }
    const int n = quick ? 500 : 5000;

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
    // key per connection shows the cost when nothing can be shared.
    for (int i = 0; i < 64; ++i)
        direct.write("/bench/own/" + std::to_string(i), "value");
    // Each kind of call is measured `rounds` times, the kinds taking turns,
    // and the median taken: with every process on two cores, one window
    // alone swings by a tenth or more.
    constexpr Call kinds[] = {Call::Ping, Call::GetVersion, Call::ReadSharedKey, Call::ReadOwnKey};
    constexpr int K = std::size(kinds);
    // Where the CPU goes at 64 connections: per call, for each process.
    struct Usage {
        Cpu cpu;
        long calls = 0;
    } use[K];
    std::printf("throughput, calls/s (median of %d windows of %.1f s)\n                 ", rounds,
                seconds);
    for (auto k : kinds)
        std::printf("%16s", callNames[int(k)]);
    std::printf("    each / Ping: Get  Read(one)  Read(own)   READs per Read(one)\n");
    for (int clients : {1, 8, 64}) {
        auto reads = [&] { return stack.xenstored().countAccessLog({" read ", "/bench/key "}); };
        std::vector<double> rate[K];
        long sharedCalls = 0;
        int upstream = 0;
        for (int r = 0; r < rounds; ++r)
            for (auto k : kinds) {
                int before = k == Call::ReadSharedKey ? reads() : 0;
                Rate got = throughput(stack, clients, seconds, k);
                if (k == Call::ReadSharedKey)
                    upstream += reads() - before, sharedCalls += got.calls;
                rate[int(k)].push_back(got.perSecond);
                if (clients == 64)
                    use[int(k)].cpu += got.cpu, use[int(k)].calls += got.calls;
            }
        double m[K];
        std::printf("  %2d connections", clients);
        for (int k = 0; k < K; ++k)
            std::printf("%16.0f", m[k] = stats(rate[k]).median);
        std::printf("            %4.2f  %9.2f  %9.2f   %19.2f%s\n", m[1] / m[0], m[2] / m[0],
                    m[3] / m[0], double(upstream) / std::max(1L, sharedCalls),
                    clients == 64 ? "   target: Read >= 0.90" : "");
    }
    std::printf("\nCPU µs per call at 64 connections   clients  dbus-daemon   daemon  xenstored"
                "    total\n");
    for (int k = 0; k < K; ++k) {
        const Cpu& c = use[k].cpu;
        double f = 1e6 / std::max(1L, use[k].calls);
        std::printf("  %-33s %8.1f %12.1f %8.1f %10.1f %8.1f\n", callNames[k], c.clients * f,
                    c.bus * f, c.daemon * f, c.xenstored * f,
                    (c.clients + c.bus + c.daemon + c.xenstored) * f);
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
