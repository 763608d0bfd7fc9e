// xenstore-dbus-probe-fanout: a second fan-out probe, sharing no code with
// xenstore-dbus-bench, shaped as simply as the measurement can be.
//
// N receiver connections (raw sd-bus, no match rules, one epoll) in this
// process. Each round, in turns:
//   floor:  one more connection of this process sends each receiver a
//           unicast signal shaped like WatchEvent, then flushes — what one
//           sender emitting them through dbus-daemon costs;
//   daemon: each receiver has called Watch(PATH, token) once; one raw
//           XenStore WRITE to PATH on xenstored's socket.
// Each time runs until every receiver has its signal; medians over the
// rounds.
//
//   scripts/run-local --quiet &
//   build/bench/xenstore-dbus-probe-fanout unix:path=$PWD/.run/bus
//       $PWD/.run/xenstored/socket [receivers=1000] [rounds=9]    (one line)
//
// Needs to be allowed Watch: root is, under run-local's default.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr const char* Name = "org.xenproject.XenStore1";
constexpr const char* Object = "/org/xenproject/XenStore1";
constexpr const char* Path = "/probe-fanout/p";

double nowMs()
{
    return std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void check(int r, const char* what)
{
    if (r < 0)
        throw std::runtime_error(std::string(what) + ": " + std::strerror(-r));
}

int onMessage(sd_bus_message* m, void* arrived, sd_bus_error*)
{
    if (sd_bus_message_is_signal(m, Name, "WatchEvent"))
        ++*static_cast<int*>(arrived);
    return 0;
}

sd_bus* open(const char* address)
{
    sd_bus* bus = nullptr;
    check(sd_bus_new(&bus), "sd_bus_new");
    check(sd_bus_set_address(bus, address), "sd_bus_set_address");
    check(sd_bus_set_bus_client(bus, 1), "sd_bus_set_bus_client");
    check(sd_bus_start(bus), "connecting to the bus");
    return bus;
}

// A blocking XenStore client that only writes: header (type, request id,
// transaction, length) and "path\0value", then waits for the answer.
class XenStoreWriter {
public:
    explicit XenStoreWriter(const char* socketPath)
    {
        fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, socketPath, sizeof a.sun_path - 1);
        if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0)
            throw std::runtime_error(std::string("connecting to xenstored: ") + std::strerror(errno));
    }
    ~XenStoreWriter() { close(fd_); }

    void write(const std::string& path, const std::string& value)
    {
        const std::string body = path + '\0' + value;
        const uint32_t header[4] = {11 /* XS_WRITE */, ++id_, 0, uint32_t(body.size())};
        std::string out(reinterpret_cast<const char*>(header), sizeof header);
        out += body;
        if (::write(fd_, out.data(), out.size()) != ssize_t(out.size()))
            throw std::runtime_error("writing to xenstored failed");
        uint32_t answer[4];
        char rest[4096];
        if (!readAll(answer, sizeof answer) || answer[3] > sizeof rest || !readAll(rest, answer[3]))
            throw std::runtime_error("xenstored did not answer");
        if (answer[0] != 11)
            throw std::runtime_error("xenstored refused the write");
    }

private:
    bool readAll(void* to, size_t n)
    {
        for (size_t got = 0; got < n;) {
            ssize_t r = ::read(fd_, static_cast<char*>(to) + got, n - got);
            if (r <= 0)
                return false;
            got += size_t(r);
        }
        return true;
    }
    int fd_ = -1;
    uint32_t id_ = 0;
};

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv)
try {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s BUS_ADDRESS XENSTORED_SOCKET [receivers] [rounds]\n", argv[0]);
        return 2;
    }
    const int n = argc > 3 ? std::atoi(argv[3]) : 1000;
    const int rounds = argc > 4 ? std::atoi(argv[4]) : 9;
    XenStoreWriter xenstore(argv[2]);
    xenstore.write(Path, "start");

    int arrived = 0;
    const int poller = epoll_create1(EPOLL_CLOEXEC);
    std::vector<sd_bus*> receivers(n);
    std::vector<std::string> names(n);
    for (int i = 0; i < n; ++i) {
        receivers[i] = open(argv[1]);
        const char* unique = nullptr;
        check(sd_bus_get_unique_name(receivers[i], &unique), "sd_bus_get_unique_name");
        names[i] = unique;
        check(sd_bus_add_filter(receivers[i], nullptr, onMessage, &arrived), "sd_bus_add_filter");
        sd_bus_error error = SD_BUS_ERROR_NULL;
        if (sd_bus_call_method(receivers[i], Name, Object, Name, "Watch", &error, nullptr, "ss", Path,
                               "t") < 0)
            throw std::runtime_error(std::string("Watch: ") + error.message);
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.u32 = uint32_t(i);
        check(epoll_ctl(poller, EPOLL_CTL_ADD, sd_bus_get_fd(receivers[i]), &e) < 0 ? -errno : 0,
              "epoll_ctl");
    }
    sd_bus* sender = open(argv[1]);

    // Takes in what has arrived until `want` signals have; the time since t0.
    auto awaitAll = [&](int want, double t0) {
        for (sd_bus* r : receivers)
            while (sd_bus_process(r, nullptr) > 0) {
            }
        epoll_event ready[256];
        while (arrived < want) {
            int k = epoll_wait(poller, ready, 256, 10000);
            if (k <= 0)
                throw std::runtime_error("only " + std::to_string(arrived) + " of " +
                                         std::to_string(want) + " signals arrived in 10 s");
            for (int j = 0; j < k; ++j)
                while (sd_bus_process(receivers[ready[j].data.u32], nullptr) > 0) {
                }
        }
        return nowMs() - t0;
    };
    // The event every Watch sends at once.
    awaitAll(n, nowMs());

    std::vector<double> floor, daemon;
    for (int round = 0; round < rounds; ++round) {
        usleep(100000);
        arrived = 0;
        double t0 = nowMs();
        for (const std::string& to : names) {
            sd_bus_message* signal = nullptr;
            check(sd_bus_message_new_signal(sender, &signal, Object, Name, "WatchEvent"), "new signal");
            check(sd_bus_message_set_destination(signal, to.c_str()), "set destination");
            check(sd_bus_message_append(signal, "ss", Path, "t"), "append");
            check(sd_bus_send(sender, signal, nullptr), "send");
            sd_bus_message_unref(signal);
        }
        check(sd_bus_flush(sender), "flush");
        floor.push_back(awaitAll(n, t0));

        usleep(100000);
        arrived = 0;
        t0 = nowMs();
        xenstore.write(Path, std::to_string(round));
        daemon.push_back(awaitAll(n, t0));
    }
    std::printf("fan-out to %d receivers, medians of %d rounds in turns        ms\n", n, rounds);
    std::printf("  floor: one sd-bus sender, send then flush      %8.1f\n", median(floor));
    std::printf("  daemon: one XenStore WRITE                     %8.1f\n", median(daemon));
    std::printf("  daemon / floor                                 %8.2f   target <= 1.20\n",
                median(daemon) / median(floor));
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "xenstore-dbus-probe-fanout: %s\n", e.what());
    return 1;
}
