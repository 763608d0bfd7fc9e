// xenstore-dbus-bench: how much the daemon costs, as ratios against floors
// measured in the same run (never absolute targets; machines differ).
//
//   latency:     Read through the daemon  vs  Echo to the bus floor (a
//                minimal service on sd-bus, on the same bus: what the bus
//                alone costs) + a direct XenStore read from a blocking
//                client; also vs Peer.Ping to the daemon + that read (Ping
//                pays the daemon's own loop, so it flatters the ratio)
//   throughput:  Read vs Echo (and Ping, Get) with 1, 8 and 64 concurrent
//                client connections; Read of a key per connection also vs
//                Echo followed by a direct read of that key (nothing to
//                share: xenstored's cost is in the floor); and the CPU each
//                process spends a call
//   atomic:      WriteMany of 100 keys vs 100 Writes; CompareAndWrite vs Read
//   listing:     xenstorectl ls vs xenstore-ls direct to xenstored, on a
//                store of 10,300 nodes under /local/domain, side by side
//   fan-out:     one write reaching 1,000 subscribers of one path, and 100
//                writes (one per path) reaching 10,000 subscribers over
//                100 paths, vs the bus floor sending the same unicast
//                signals to the same receivers (one raw sd-bus sender, as
//                fast as the bus takes them); rounds in turns, medians;
//                with and without a match rule per receiver; and the
//                number of XenStore watches the daemon used
//   memory:      the daemon's resident size idle, then idle again after a
//                burst of Snapshots of 10,000 nodes (first, on a fresh
//                daemon), and with 10,000 subscriptions
//   totals:      the daemon's resident size with watches_total subscriptions
//                (the longest paths and tokens) and with transactions_total
//                open transactions, each on a daemon of its own
//   domains:     with 200 introduced guests, one guest's death to
//                DomainReleased at a subscriber, and the XenStore requests it
//                took, vs one IS_DOMAIN_INTRODUCED round trip
//
// It starts its own oxenstored, dbus-daemon, xenstore-dbusd (the test
// harness's Stack) and bus floor, so it needs nothing running. Usage:
//   xenstore-dbus-bench [--quick] [--rounds N] [--seconds S] [--only PARTS]
// (throughput: each kind of call measured N times for S seconds, in turns;
// fan-out: N rounds; PARTS: some of latency,throughput,atomic,listing,
// fanout,memory,totals,domains, comma-separated)
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>
#include <systemd/sd-bus.h>

#include "bench/bus_floor.h"
#include "bench/domain_death.h"
#include "bench/totals_memory.h"
#include "protocol/codec.h"
#include "protocol/transport.h"
#include "tests/harness/stack.h"

#ifndef XSD_CTL_PATH
#error "XSD_CTL_PATH must name the built xenstorectl"
#endif

using namespace xsd::test;
using namespace xsd::bench;
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
// sd_bus_call()s, the same for every kind of call measured, to the daemon
// and to the bus floor alike.
struct BusCaller {
    std::unique_ptr<sdbus::IConnection> conn;
    std::unique_ptr<sdbus::IProxy> proxy;
    std::unique_ptr<sdbus::IProxy> floor;
    explicit BusCaller(const std::string& address)
        : conn(sdbus::createSessionBusConnectionWithAddress(address)),
          proxy(sdbus::createProxy(*conn, BusName, ObjectPath)),
          floor(sdbus::createProxy(*conn, FloorName, FloorObject))
    {
    }
    void read(const std::string& path)
    {
        std::string v;
        proxy->callMethod("Read").onInterface(Interface).withArguments(path).storeResultsTo(v);
    }
    void echo(const std::string& text)
    {
        std::string v;
        floor->callMethod("Echo").onInterface(FloorInterface).withArguments(text).storeResultsTo(v);
    }
    void ping() { proxy->callMethod("Ping").onInterface("org.freedesktop.DBus.Peer"); }
    void getVersion() { proxy->getProperty("Version").onInterface(Interface); }
    void write(const std::string& path, const std::string& value)
    {
        proxy->callMethod("Write").onInterface(Interface).withArguments(path, value);
    }
    void writeMany(const std::map<std::string, std::string>& values)
    {
        proxy->callMethod("WriteMany").onInterface(Interface).withArguments(values);
    }
    bool compareAndWrite(const std::string& path, const std::string& expected, const std::string& value)
    {
        bool written = false;
        std::string current;
        proxy->callMethod("CompareAndWrite")
            .onInterface(Interface)
            .withArguments(path, expected, value)
            .storeResultsTo(written, current);
        return written;
    }
    std::string snapshot(const std::string& path)
    {
        std::string json;
        proxy->callMethod("Snapshot").onInterface(Interface).withArguments(path).storeResultsTo(json);
        return json;
    }
};

// The floor for XenStore: a blocking client on xenstored's socket, as
// libxenstore's is — the request written, its answer read, nothing between.
class BlockingXenStore {
public:
    explicit BlockingXenStore(const std::string& backend)
    {
        auto b = xs::Backend::parse(backend);
        std::string why;
        // oxenstored accepts one connection at a time: many opened at once
        // find its listen queue full (EAGAIN) for a moment.
        for (int tries = 0; b && tries < 200; ++tries) {
            fd_ = xs::openTransport(*b, &why);
            if (fd_ >= 0 || why.find(std::strerror(EAGAIN)) == std::string::npos)
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        if (fd_ < 0)
            throw std::runtime_error("cannot reach xenstored at " + backend + ": " + why);
        fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
    }
    ~BlockingXenStore() { ::close(fd_); }
    BlockingXenStore(const BlockingXenStore&) = delete;
    BlockingXenStore& operator=(const BlockingXenStore&) = delete;

    std::string read(const std::string& path) { return request(xs::MessageType::Read, path + '\0'); }
    bool isDomainIntroduced(uint32_t domid)
    {
        return request(xs::MessageType::IsDomainIntroduced, std::to_string(domid) + '\0').starts_with("T");
    }
    void write(const std::string& path, const std::string& value)
    {
        request(xs::MessageType::Write, path + '\0' + value);
    }

private:
    std::string request(xs::MessageType type, const std::string& payload)
    {
        std::string why;
        auto frame = xs::encodeRequest(type, nextReqId_++, 0, payload, &why);
        if (!frame)
            throw std::runtime_error(why);
        for (size_t sent = 0; sent < frame->size();) {
            ssize_t n = ::write(fd_, frame->data() + sent, frame->size() - sent);
            if (n <= 0)
                throw std::runtime_error("writing to xenstored failed");
            sent += static_cast<size_t>(n);
        }
        xs::Message reply;
        while (decoder_.next(reply) != xs::FrameDecoder::Status::Frame) {
            char buf[65536];
            ssize_t n = ::read(fd_, buf, sizeof buf);
            if (n <= 0 || decoder_.failed())
                throw std::runtime_error("reading from xenstored failed");
            decoder_.feed({buf, static_cast<size_t>(n)});
        }
        if (reply.header.type == xs::MessageType::Error)
            throw std::runtime_error("xenstored refused a request: " + reply.payload);
        return reply.payload;
    }

    int fd_ = -1;
    uint32_t nextReqId_ = 1;
    xs::FrameDecoder decoder_;
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

// Echo is the floor: what any call with a string argument and answer costs
// on this bus. Ping is answered inside sd-bus, in the daemon's loop;
// Get(Version) is the cheapest call that, like Read, carries arguments and
// a string answer through sdbus-c++ (no XenStore work). EchoThenRead is
// the floor for a key per connection, where no XenStore READ can be
// shared: Echo, then the connection's own key read directly from xenstored
// by a blocking client of its own — the bus and xenstored alone, one after
// the other, as a Read needs them.
enum class Call { Echo, Ping, GetVersion, ReadSharedKey, ReadOwnKey, EchoThenRead };
constexpr const char* callNames[] = {"Echo(floor)", "Ping",           "Get(Version)",
                                     "Read(one key)", "Read(own keys)", "Echo+direct"};

// CPU seconds used so far by each process of the stack, and the floor's.
struct Cpu {
    double clients = 0, bus = 0, daemon = 0, floor = 0, xenstored = 0;

    static Cpu now(Stack& stack, const BusFloor& f)
    {
        return {cpuSeconds(getpid()), cpuSeconds(stack.bus().pid()), cpuSeconds(stack.daemon().pid()),
                cpuSeconds(f.pid()), cpuSeconds(stack.xenstored().pid())};
    }
    Cpu operator-(const Cpu& o) const
    {
        return {clients - o.clients, bus - o.bus, daemon - o.daemon, floor - o.floor,
                xenstored - o.xenstored};
    }
    Cpu& operator+=(const Cpu& o)
    {
        clients += o.clients, bus += o.bus, daemon += o.daemon, floor += o.floor,
            xenstored += o.xenstored;
        return *this;
    }
    double total() const { return clients + bus + daemon + floor + xenstored; }
};

struct Rate {
    long calls = 0;
    double perSecond = 0;
    Cpu cpu;  // used during the window
};

// Calls per second with `clients` connections making `call` as fast as
// they can; ReadOwnKey reads /bench/own/N, which must exist.
Rate throughput(Stack& stack, const BusFloor& floor, int clients, double seconds, Call call)
{
    std::vector<std::unique_ptr<BusCaller>> callers;
    std::vector<std::unique_ptr<BlockingXenStore>> directs;
    for (int i = 0; i < clients; ++i) {
        callers.push_back(std::make_unique<BusCaller>(stack.address()));
        if (call == Call::EchoThenRead)
            directs.push_back(std::make_unique<BlockingXenStore>(stack.xenstored().backend()));
    }
    std::atomic<bool> go{false}, stop{false};
    std::atomic<long> calls{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i)
        threads.emplace_back([&, c = callers[i].get(), d = directs.empty() ? nullptr : directs[i].get(),
                              own = "/bench/own/" + std::to_string(i)] {
            while (!go)
                std::this_thread::yield();
            long n = 0;
            while (!stop) {
                switch (call) {
                case Call::Echo: c->echo("/bench/key"); break;
                case Call::Ping: c->ping(); break;
                case Call::GetVersion: c->getVersion(); break;
                case Call::ReadSharedKey: c->read("/bench/key"); break;
                case Call::ReadOwnKey: c->read(own); break;
                case Call::EchoThenRead: c->echo(own), d->read(own); break;
                }
                ++n;
            }
            calls += n;
        });
    auto t0 = Clock::now();
    Cpu cpu0 = Cpu::now(stack, floor);
    go = true;
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& t : threads)
        t.join();
    return {calls, calls / std::chrono::duration<double>(Clock::now() - t0).count(),
            Cpu::now(stack, floor) - cpu0};
}

// WriteMany against the Writes it replaces, CompareAndWrite against Read:
// what doing it in one call, in a transaction of the daemon's, costs.
void atomicCalls(BusCaller& caller, int n)
{
    std::map<std::string, std::string> many;
    for (int k = 0; k < 100; ++k)
        many["/bench/many/k" + std::to_string(k)] = "value-" + std::to_string(k);
    const int rounds = std::max(20, n / 50);
    Stats writeMany = measure(rounds, [&] { caller.writeMany(many); });
    Stats writes = measure(rounds, [&] {
        for (const auto& [path, value] : many)
            caller.write(path, value);
    });
    // Always written: each call expects what the one before wrote.
    std::string current = "a";
    caller.write("/bench/cas", current);
    Stats cas = measure(n, [&] {
        std::string next = current == "a" ? "b" : "a";
        if (!caller.compareAndWrite("/bench/cas", current, next))
            throw std::runtime_error("CompareAndWrite did not write");
        current = next;
    });
    Stats read = measure(n, [&] { caller.read("/bench/cas"); });
    std::printf("atomic calls                     median µs    p99 µs\n");
    std::printf("  WriteMany of 100 keys          %9.1f %9.1f   (%d calls)\n", writeMany.median,
                writeMany.p99, rounds);
    std::printf("  100 Write calls in a row       %9.1f %9.1f\n", writes.median, writes.p99);
    std::printf("  WriteMany / 100 Writes         %9.2f %9.2f\n", writeMany.median / writes.median,
                writeMany.p99 / writes.p99);
    std::printf("  CompareAndWrite (writing)      %9.1f %9.1f   (%d calls)\n", cas.median, cas.p99, n);
    std::printf("  Read                           %9.1f %9.1f\n", read.median, read.p99);
    std::printf("  CompareAndWrite / Read         %9.2f %9.2f\n\n", cas.median / read.median,
                cas.p99 / read.p99);
}

// A toolstack's /local/domain: `domains` guests of exactly `each` nodes
// (the domain's own node included), written directly. Returns how many
// nodes are below /local/domain.
size_t writeDomains(BlockingXenStore& direct, int domains, size_t each)
{
    size_t total = 0;
    for (int d = 1; d <= domains; ++d) {
        const std::string id = std::to_string(d);
        std::vector<std::pair<std::string, std::string>> leaves = {
            {"name", "guest-" + id},
            {"domid", id},
            {"vm", "/vm/00000000-0000-0000-0000-" + std::string(12 - std::min<size_t>(12, id.size()), '0') + id},
            {"memory/target", "1048576"},
            {"memory/static-max", "1048576"},
            {"memory/videoram", "-1"},
            {"cpu/0/availability", "online"},
            {"cpu/1/availability", "online"},
            {"device/vif/0/backend", "/local/domain/0/backend/vif/" + id + "/0"},
            {"device/vif/0/backend-id", "0"},
            {"device/vif/0/mac", "00:16:3e:5a:00:" + id},
            {"device/vif/0/handle", "0"},
            {"device/vif/0/state", "4"},
            {"device/vbd/51712/backend", "/local/domain/0/backend/vbd/" + id + "/51712"},
            {"device/vbd/51712/backend-id", "0"},
            {"device/vbd/51712/virtual-device", "51712"},
            {"device/vbd/51712/device-type", "disk"},
            {"device/vbd/51712/state", "4"},
            {"control/shutdown", ""},
            {"control/platform-feature-multiprocessor-suspend", "1"},
            {"console/port", "2"},
            {"console/ring-ref", "1000"},
            {"console/type", "xenconsoled"},
            {"store/port", "1"},
            {"store/ring-ref", "1001"},
            {"data/k0", "0"},
        };
        std::set<std::string> nodes{"/local/domain/" + id};
        auto add = [&](const std::string& relative) {
            for (size_t slash = relative.find('/'); slash != std::string::npos;
                 slash = relative.find('/', slash + 1))
                nodes.insert("/local/domain/" + id + "/" + relative.substr(0, slash));
            nodes.insert("/local/domain/" + id + "/" + relative);
        };
        for (const auto& leaf : leaves)
            add(leaf.first);
        for (int k = 1; nodes.size() < each; ++k) {
            leaves.push_back({"data/k" + std::to_string(k), std::to_string(k)});
            add(leaves.back().first);
        }
        for (const auto& [path, value] : leaves)
            direct.write("/local/domain/" + id + "/" + path, value);
        total += nodes.size();
    }
    return total;
}

// xenstorectl ls against xenstore-ls talking to xenstored directly, the
// two run in turns (fork, exec, output read in full: the same for both).
void listing(Stack& stack, BusCaller& caller, BlockingXenStore& direct, int runs)
{
    const size_t nodes = writeDomains(direct, 100, 103);
    const Env toXenstored{{"XENSTORED_PATH", stack.xenstored().socketPath()}};
    std::printf("listing %zu nodes under /local/domain  median ms    (%d runs each, in turns)\n", nodes,
                runs);
    for (const char* flags : {"", "-p"}) {
        std::vector<std::string> theirs{"xenstore-ls"}, ours{XSD_CTL_PATH, "--address", stack.address(), "ls"};
        if (*flags)
            theirs.push_back(flags), ours.push_back(flags);
        theirs.push_back("/local/domain"), ours.push_back("/local/domain");
        std::vector<double> theirMs, ourMs;
        bool same = true;
        for (int r = 0; r < runs; ++r) {
            auto t0 = Clock::now();
            auto a = run(theirs, toXenstored);
            theirMs.push_back(micros(Clock::now() - t0) / 1000);
            t0 = Clock::now();
            auto b = run(ours);
            ourMs.push_back(micros(Clock::now() - t0) / 1000);
            same = same && a.status == 0 && b.status == 0 && a.out == b.out;
        }
        double t = stats(theirMs).median, o = stats(ourMs).median;
        std::printf("  xenstore-ls %-3s direct            %8.1f\n", flags, t);
        std::printf("  xenstorectl ls %-3s               %8.1f   ratio %.2f%s   output %s\n", flags, o,
                    o / t, *flags ? "" : "   target <= 1.00",
                    same ? "byte-identical" : "DIFFERS");
    }
    std::vector<double> snapMs;
    for (int r = 0; r < runs; ++r) {
        auto t0 = Clock::now();
        caller.snapshot("/local/domain");
        snapMs.push_back(micros(Clock::now() - t0) / 1000);
    }
    std::printf("  (Snapshot of the subtree alone   %8.1f)\n", stats(snapMs).median);
}

// What a burst of Snapshots leaves behind: the daemon's resident memory
// once it is idle again after `callers` connections each took a Snapshot
// of 10,000 nodes at once, against its resident memory idle before (first
// thing in the run, on a daemon that has done nothing else yet).
void snapshotMemory(Stack& stack, BlockingXenStore& direct)
{
    const size_t nodes = writeDomains(direct, 100, 100);
    const pid_t daemon = stack.daemon().pid();
    const int callers = 8;
    std::vector<std::unique_ptr<BusCaller>> conns;
    for (int c = 0; c < callers; ++c)
        conns.push_back(std::make_unique<BusCaller>(stack.address()));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const long idle = residentKiB(daemon);
    std::vector<std::thread> threads;
    size_t bytes = 0;
    for (auto& c : conns)
        threads.emplace_back([&, c = c.get()] { bytes = c->snapshot("/local/domain").size(); });
    for (auto& t : threads)
        t.join();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const long after = residentKiB(daemon);
    std::printf("memory after a burst of %d Snapshots of %zu nodes (%zu bytes of JSON each)\n",
                callers, nodes, bytes);
    std::printf("  daemon RSS idle before %ld KiB, idle after %ld KiB: %.2f x idle   target <= 1.50\n\n",
                idle, after, double(after) / idle);
}

// `n` bus connections in this one process, written directly on sd-bus,
// each a receiver of the daemon's WatchEvent and of the bus floor's, all
// served from this one thread with epoll: only a connection whose socket
// has data is processed, so the receivers cost the same however the
// signals are spread in time. A filter counts the signals. With
// `matchRules`, each connection also asks the bus for them with a match
// rule per sender, as a subscriber using sdbus-c++, GDBus or
// sd_bus_match_signal() does; dbus-daemon then checks every such rule of
// the bus for every signal it routes.
class Receivers {
public:
    Receivers(const std::string& address, int n, bool matchRules) : epoll_(epoll_create1(EPOLL_CLOEXEC))
    {
        if (epoll_ < 0)
            throw std::runtime_error("epoll_create1 failed");
        for (int i = 0; i < n; ++i) {
            sd_bus* bus = nullptr;
            int r = sd_bus_new(&bus);
            all_.push_back(bus);
            if (r >= 0)
                r = sd_bus_set_address(bus, address.c_str());
            if (r >= 0)
                r = sd_bus_set_bus_client(bus, 1);
            if (r >= 0)
                r = sd_bus_start(bus);
            if (r >= 0)
                r = sd_bus_add_filter(bus, nullptr, &Receivers::onMessage, this);
            if (r >= 0 && matchRules)
                r = sd_bus_match_signal(bus, nullptr, BusName, ObjectPath, Interface, "WatchEvent",
                                        &Receivers::ignore, nullptr);
            if (r >= 0 && matchRules)
                r = sd_bus_match_signal(bus, nullptr, FloorName, FloorObject, FloorInterface,
                                        "WatchEvent", &Receivers::ignore, nullptr);
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u32 = static_cast<uint32_t>(i);
            if (r >= 0)
                r = epoll_ctl(epoll_, EPOLL_CTL_ADD, sd_bus_get_fd(bus), &ev);
            if (r < 0)
                throw std::runtime_error("a receiver could not connect: " + std::string(std::strerror(-r)));
        }
    }
    ~Receivers()
    {
        for (auto* bus : all_)
            sd_bus_flush_close_unref(bus);
        ::close(epoll_);
    }
    Receivers(const Receivers&) = delete;
    Receivers& operator=(const Receivers&) = delete;

    // Receiver i subscribes to `path` at the daemon (Watch) and at the floor.
    void subscribe(size_t i, const std::string& path, const std::string& token)
    {
        call(i, BusName, ObjectPath, Interface, "Watch", path, token);
        call(i, FloorName, FloorObject, FloorInterface, "Subscribe", path, token);
    }

    // Takes what every connection has read or can read (a blocking call
    // leaves the signals that arrived meanwhile in sd-bus's queue, where
    // epoll cannot see them).
    void drain()
    {
        for (auto* bus : all_)
            while (sd_bus_process(bus, nullptr) > 0) {
            }
    }

    // Processes until `target` signals arrived in total (or timeout).
    bool pump(long target, std::chrono::seconds timeout = std::chrono::seconds(30))
    {
        auto deadline = Clock::now() + timeout;
        epoll_event ready[256];
        while (received < target && Clock::now() < deadline) {
            int n = epoll_wait(epoll_, ready, std::size(ready), 100);
            for (int k = 0; k < n; ++k)
                while (sd_bus_process(all_[ready[k].data.u32], nullptr) > 0) {
                }
        }
        return received >= target;
    }

    long received = 0;

private:
    static int onMessage(sd_bus_message* m, void* self, sd_bus_error*)
    {
        if (sd_bus_message_is_signal(m, nullptr, "WatchEvent"))
            ++static_cast<Receivers*>(self)->received;
        return 0;
    }
    static int ignore(sd_bus_message*, void*, sd_bus_error*) { return 0; }

    void call(size_t i, const char* name, const char* object, const char* interface,
              const char* method, const std::string& path, const std::string& token)
    {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(all_[i], name, object, interface, method, &error, nullptr, "ss",
                                   path.c_str(), token.c_str());
        std::string why = error.message ? error.message : std::strerror(-r);
        sd_bus_error_free(&error);
        if (r < 0)
            throw std::runtime_error(std::string(method) + " " + path + " failed: " + why);
    }

    int epoll_;
    std::vector<sd_bus*> all_;
};

// One fan-out, measured against the bus floor in the same run: `rounds`
// rounds, each the floor sending the signals (one raw sd-bus sender: all of
// them, then a flush) and then the daemon (a direct XenStore write per
// path), every subscriber of each path getting one signal; medians.
struct Fanout {
    double floorMs = 0, daemonMs = 0;
    Cpu floorCpu, daemonCpu;  // medians are of time; CPU is summed over rounds
    long signals = 0;
    bool complete = true;
};

Fanout fanout(Stack& stack, const BusFloor& floor, BusCaller& caller, BlockingXenStore& direct,
              Receivers& receivers, const std::vector<std::string>& paths, long signals, int rounds)
{
    Fanout f;
    f.signals = signals;
    std::vector<double> floorMs, daemonMs;
    std::thread writer;
    auto once = [&](auto&& trigger, std::vector<double>& ms, Cpu& cpu) {
        receivers.drain();
        const long target = receivers.received + signals;
        Cpu c0 = Cpu::now(stack, floor);
        auto t0 = Clock::now();
        trigger();
        f.complete = receivers.pump(target) && f.complete;
        ms.push_back(micros(Clock::now() - t0) / 1000.0);
        cpu += Cpu::now(stack, floor) - c0;
        if (writer.joinable())
            writer.join();
    };
    for (int r = 0; r < rounds; ++r) {
        once(
            [&] {
                caller.floor->callMethod("Fanout")
                    .onInterface(FloorInterface)
                    .withArguments(paths)
                    .dontExpectReply();
            },
            floorMs, f.floorCpu);
        once(
            [&] {
                // The writer is a party of its own, as xenstored's other
                // clients are: the receivers are served meanwhile.
                writer = std::thread([&, r] {
                    for (const auto& path : paths)
                        direct.write(path, std::to_string(r));
                });
            },
            daemonMs, f.daemonCpu);
    }
    f.floorMs = stats(floorMs).median;
    f.daemonMs = stats(daemonMs).median;
    return f;
}

void fanouts(Stack& stack, const BusFloor& floor, BusCaller& caller, BlockingXenStore& direct,
             int rounds, bool matchRules)
{
    // The same 1,000 receivers for both: first all watching one path, then
    // each also watching 10 of 100 other paths (100 subscribers a path).
    // Paths of their own for each set of receivers: the floor remembers
    // subscribers that have left.
    const int n = 1000, pathCount = 100, perReceiver = 10;
    const std::string base = matchRules ? "/bench/fan-matched" : "/bench/fan";
    Receivers receivers(stack.address(), n, matchRules);
    const std::string one = base + "/one";
    direct.write(one, "");
    for (int i = 0; i < n; ++i)
        receivers.subscribe(i, one, "sub-" + std::to_string(i));
    const auto watchesForOne = stack.client()->WatchCount();
    std::vector<std::string> many;
    for (int p = 0; p < pathCount; ++p) {
        many.push_back(base + "/p" + std::to_string(100 + p));
        direct.write(many.back(), "");
    }
    for (int i = 0; i < n; ++i)
        for (int k = 0; k < perReceiver; ++k)
            receivers.subscribe(i, many[(i + k * perReceiver) % pathCount],
                                "t-" + std::to_string(i) + "-" + std::to_string(k));
    receivers.drain();

    std::printf("fan-out, receivers %s (median of %d rounds, floor and daemon in turns)\n",
                matchRules ? "WITH a match rule each for the signals (as sdbus-c++ and GDBus add)"
                           : "without match rules (a filter counts what arrives)",
                rounds);
    std::printf("                                                   floor ms  daemon ms   ratio\n");
    struct Case {
        const char* name;
        std::vector<std::string> paths;
        long signals;
        const char* target;
    } cases[] = {
        {"one write, 1,000 subscribers of one path      ", {one}, n, "target <= 1.20"},
        {"100 writes, 10,000 subscribers over 100 paths ", many, long(n) * perReceiver, "target <= 1.30"},
    };
    Fanout got[std::size(cases)];
    for (size_t c = 0; c < std::size(cases); ++c) {
        got[c] = fanout(stack, floor, caller, direct, receivers, cases[c].paths, cases[c].signals, rounds);
        std::printf("  %s %9.1f %10.1f %7.2f   %s%s\n", cases[c].name, got[c].floorMs, got[c].daemonMs,
                    got[c].daemonMs / got[c].floorMs, cases[c].target,
                    got[c].complete ? "" : "   (NOT ALL SIGNALS ARRIVED)");
    }
    std::printf("  XenStore watches for the 1,000 subscribers of one path: %u (target: 1)\n",
                watchesForOne);
    std::printf("  CPU µs per signal                               receivers  dbus-daemon   daemon"
                "    floor  xenstored\n");
    for (size_t c = 0; c < std::size(cases); ++c)
        for (bool ours : {false, true}) {
            const Cpu& u = ours ? got[c].daemonCpu : got[c].floorCpu;
            const double k = 1e6 / (double(got[c].signals) * rounds);
            std::printf("    %-45s %10.2f %12.2f %8.2f %8.2f %10.2f\n",
                        (std::string(c ? "10,000 over 100 paths, " : "1,000 of one path, ") +
                         (ours ? "the daemon" : "the floor"))
                            .c_str(),
                        u.clients * k, u.bus * k, u.daemon * k, u.floor * k, u.xenstored * k);
        }
    std::printf("\n");
}

}  // namespace

int main(int argc, char** argv)
{
    bool quick = false;
    double seconds = 2.0;
    int rounds = 5;
    std::string only;  // the parts to run, comma-separated; empty: all
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--quick")
            quick = true, seconds = 0.5, rounds = 1;
        else if (arg == "--rounds" && i + 1 < argc)
            rounds = std::max(1, std::atoi(argv[++i]));
        else if (arg == "--seconds" && i + 1 < argc)
            seconds = std::max(0.1, std::atof(argv[++i]));
        else if (arg == "--only" && i + 1 < argc)
            only = "," + std::string(argv[++i]) + ",";
        else {
            std::fprintf(stderr,
                         "usage: %s [--quick] [--rounds N] [--seconds S] "
                         "[--only latency,throughput,atomic,listing,fanout,memory,totals,domains]\n",
                         argv[0]);
            return 2;
        }
    }
    auto part = [&](const char* name) {
        return only.empty() || only.find("," + std::string(name) + ",") != std::string::npos;
    };
    const int n = quick ? 500 : 5000;

    Stack::Options options;
    options.verbose = false;
    options.busPolicies = {BusFloor::policyFile()};
    Stack stack(options);
    BusFloor floor(stack.address());
    BusCaller caller(stack.address());
    BlockingXenStore direct(stack.xenstored().backend());
    direct.write("/bench/key", "value");

    std::printf("xenstore-dbus benchmark (%s run; ratios are what matter)\n\n",
                quick ? "quick" : "full");

    if (part("memory"))
        snapshotMemory(stack, direct);

    if (part("latency")) {
        // --- latency ---------------------------------------------------------
        Stats read = measure(n, [&] { caller.read("/bench/key"); });
        Stats echo = measure(n, [&] { caller.echo("/bench/key"); });
        Stats ping = measure(n, [&] { caller.ping(); });
        Stats xs = measure(n, [&] { direct.read("/bench/key"); });
        std::printf("latency over %d calls       median µs    p99 µs\n", n);
        std::printf("  Read via the daemon      %9.1f %9.1f\n", read.median, read.p99);
        std::printf("  Echo to the bus floor    %9.1f %9.1f\n", echo.median, echo.p99);
        std::printf("  Peer.Ping to the daemon  %9.1f %9.1f\n", ping.median, ping.p99);
        std::printf("  direct XenStore read     %9.1f %9.1f   (a blocking client)\n", xs.median, xs.p99);
        std::printf("  Read / (Echo + direct)   %9.2f %9.2f   target <= 1.10 (median; the floor: the bus "
                    "and xenstored alone)\n",
                    read.median / (echo.median + xs.median), read.p99 / (echo.p99 + xs.p99));
        std::printf("  Read / (Ping + direct)   %9.2f %9.2f   (Ping pays the daemon's own loop: it flatters)\n\n",
                    read.median / (ping.median + xs.median), read.p99 / (ping.p99 + xs.p99));
    }

    if (part("throughput")) {
        // --- throughput ------------------------------------------------------
        // Reads of one key by many callers at once share XenStore READs (the
        // daemon coalesces reads of a node that wait together to be sent); a
        // key per connection shows the cost when nothing can be shared.
        for (int i = 0; i < 64; ++i)
            direct.write("/bench/own/" + std::to_string(i), "value");
        // Each kind of call is measured `rounds` times, the kinds taking turns,
        // and the median taken: with every process on two cores, one window
        // alone swings by a tenth or more.
        constexpr Call kinds[] = {Call::Echo,          Call::Ping,       Call::GetVersion,
                                  Call::ReadSharedKey, Call::ReadOwnKey, Call::EchoThenRead};
        constexpr int K = std::size(kinds);
        constexpr int E = int(Call::Echo), P = int(Call::Ping), G = int(Call::GetVersion),
                      R1 = int(Call::ReadSharedKey), Ro = int(Call::ReadOwnKey),
                      ED = int(Call::EchoThenRead);
        // Where the CPU goes at 64 connections: per call, for each process.
        struct Usage {
            Cpu cpu;
            long calls = 0;
        } use[K];
        std::printf("throughput, calls/s (median of %d windows of %.1f s)\n                 ", rounds,
                    seconds);
        for (auto k : kinds)
            std::printf("%15s", callNames[int(k)]);
        std::printf("   Read(one)/Echo Read(own)/Echo Read(own)/(Echo+direct)   Get/Ping   READs per Read(one)\n");
        for (int clients : {1, 8, 64}) {
            auto reads = [&] { return stack.xenstored().countAccessLog({" read ", "/bench/key "}); };
            std::vector<double> rate[K];
            long sharedCalls = 0;
            int upstream = 0;
            for (int r = 0; r < rounds; ++r)
                for (auto k : kinds) {
                    int before = k == Call::ReadSharedKey ? reads() : 0;
                    Rate got = throughput(stack, floor, clients, seconds, k);
                    if (k == Call::ReadSharedKey)
                        upstream += reads() - before, sharedCalls += got.calls;
                    rate[int(k)].push_back(got.perSecond);
                    if (clients == 64)
                        use[int(k)].cpu += got.cpu, use[int(k)].calls += got.calls;
                }
            double m[K];
            std::printf("  %2d connections", clients);
            for (int k = 0; k < K; ++k)
                std::printf("%15.0f", m[k] = stats(rate[k]).median);
            std::printf("   %14.2f %14.2f %23.2f %10.2f   %19.2f%s\n", m[R1] / m[E], m[Ro] / m[E],
                        m[Ro] / m[ED], m[G] / m[P], double(upstream) / std::max(1L, sharedCalls),
                        clients == 64 ? "   target: Read/Echo >= 0.90" : "");
        }
        std::printf("\nCPU µs per call at 64 connections   clients  dbus-daemon   daemon    floor  xenstored"
                    "    total\n");
        for (int k = 0; k < K; ++k) {
            const Cpu& c = use[k].cpu;
            double f = 1e6 / std::max(1L, use[k].calls);
            std::printf("  %-33s %8.1f %12.1f %8.1f %8.1f %10.1f %8.1f\n", callNames[k], c.clients * f,
                        c.bus * f, c.daemon * f, c.floor * f, c.xenstored * f, c.total() * f);
        }
        std::printf("\n");
    }

    // --- fan-out ---------------------------------------------------------
    if (part("fanout"))
        for (bool matchRules : {false, true})
            fanouts(stack, floor, caller, direct, quick ? 3 : rounds, matchRules);

    if (part("memory")) {
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
    }

    // --- atomic calls and listings -----------------------------------------
    // Last: the listing's store and snapshots grow the daemon's heap, which
    // the memory figures above must not see.
    std::printf("\n");
    if (part("atomic"))
        atomicCalls(caller, n);
    if (part("listing"))
        listing(stack, caller, direct, quick ? 3 : 5);
    // Last too: 200 guests the parts above need not see.
    if (part("domains"))
        domainDeath(stack, 200, quick ? 3 : 15,
                    [&](uint32_t d) { return direct.isDomainIntroduced(d); });
    // Daemons of their own: what the totals let all callers hold.
    if (part("totals"))
        totalsMemory();
    return 0;
}
