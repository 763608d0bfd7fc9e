// xenstore-dbus-bus-floor: what the bus alone costs, for the benchmark to
// measure the daemon against. A service written directly on sd-bus
// (libsystemd), single-threaded, that does no work: Echo(s) -> s answers
// with its argument. A call to it pays what any D-Bus call pays — the
// client's library, dbus-daemon routing it both ways, one service reading
// and answering — and nothing of the daemon's own: no sdbus-c++, no event
// loop of its own, no checks, no xenstored. Peer.Ping to the daemon is no
// floor: sd-bus answers it inside the daemon's loop, with no arguments.
//
//   xenstore-dbus-bus-floor ADDRESS
//
// It owns org.xenproject.BusFloor on the bus at ADDRESS (bench/bus-floor.conf
// lets it, on a bus configured like the system bus) and serves
// org.xenproject.BusFloor at /org/xenproject/BusFloor until it is killed.
//
// The fan-out floor: Subscribe(s path, s token) records the caller as a
// subscriber of `path` (as Watch does in the daemon); Fanout(as paths)
// sends each subscriber of each path, path by path, a unicast signal shaped
// like the daemon's WatchEvent (same member, same arguments), as fast as
// the bus takes them, then flushes sd-bus's queue. What one sender emitting
// those signals costs the bus and the receivers, and nothing else.
#include <poll.h>
#include <systemd/sd-bus.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr const char* Name = "org.xenproject.BusFloor";
constexpr const char* ObjectPath = "/org/xenproject/BusFloor";
constexpr const char* Interface = "org.xenproject.BusFloor";

int echo(sd_bus_message* call, void*, sd_bus_error*)
{
    const char* text = nullptr;
    if (int r = sd_bus_message_read(call, "s", &text); r < 0)
        return r;
    return sd_bus_reply_method_return(call, "s", text);
}

// path -> (subscriber's unique name, token), in the order they subscribed.
std::map<std::string, std::vector<std::pair<std::string, std::string>>> subscribers;

int subscribe(sd_bus_message* call, void*, sd_bus_error*)
{
    const char* path = nullptr;
    const char* token = nullptr;
    if (int r = sd_bus_message_read(call, "ss", &path, &token); r < 0)
        return r;
    subscribers[path].emplace_back(sd_bus_message_get_sender(call), token);
    return sd_bus_reply_method_return(call, "");
}

int fanout(sd_bus_message* call, void*, sd_bus_error*)
{
    sd_bus* bus = sd_bus_message_get_bus(call);
    char** paths = nullptr;
    if (int r = sd_bus_message_read_strv(call, &paths); r < 0)
        return r;
    uint32_t sent = 0;
    int r = 0;
    for (char** p = paths; p && *p && r >= 0; ++p) {
        for (const auto& [destination, token] : subscribers[*p]) {
            sd_bus_message* signal = nullptr;
            r = sd_bus_message_new_signal(bus, &signal, ObjectPath, Interface, "WatchEvent");
            if (r >= 0)
                r = sd_bus_message_set_destination(signal, destination.c_str());
            if (r >= 0)
                r = sd_bus_message_append(signal, "ss", *p, token.c_str());
            if (r >= 0)
                r = sd_bus_send(bus, signal, nullptr);
            sd_bus_message_unref(signal);
            // Once the socket is full, sd-bus queues, and writing out a long
            // queue costs it the square of its length (each message written
            // moves the rest up): as fast a sender as sd-bus allows waits
            // for the socket instead, keeping its queue short.
            if (r >= 0 && (sd_bus_get_events(bus) & POLLOUT))
                r = sd_bus_flush(bus);
            if (r < 0)
                break;
            ++sent;
        }
    }
    for (char** p = paths; p && *p; ++p)
        free(*p);
    free(paths);
    if (r < 0)
        return r;
    if ((r = sd_bus_flush(bus)) < 0)
        return r;
    return sd_bus_reply_method_return(call, "u", sent);
}

const sd_bus_vtable vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Echo", "s", "s", echo, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("Subscribe", "ss", "", subscribe, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("Fanout", "as", "u", fanout, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL("WatchEvent", "ss", 0),
    SD_BUS_VTABLE_END,
};

int fail(const char* what, int r)
{
    std::fprintf(stderr, "xenstore-dbus-bus-floor: %s: %s\n", what, std::strerror(-r));
    return 1;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s ADDRESS\n", argv[0]);
        return 2;
    }
    sd_bus* bus = nullptr;
    int r = sd_bus_new(&bus);
    if (r < 0)
        return fail("sd_bus_new", r);
    if ((r = sd_bus_set_address(bus, argv[1])) < 0)
        return fail("sd_bus_set_address", r);
    sd_bus_set_bus_client(bus, 1);
    if ((r = sd_bus_start(bus)) < 0)
        return fail("connecting to the bus", r);
    if ((r = sd_bus_add_object_vtable(bus, nullptr, ObjectPath, Interface, vtable, nullptr)) < 0)
        return fail("sd_bus_add_object_vtable", r);
    if ((r = sd_bus_request_name(bus, Name, 0)) < 0)
        return fail("owning org.xenproject.BusFloor", r);
    // sd-bus's own loop: take what came in, else sleep until more does.
    for (;;) {
        r = sd_bus_process(bus, nullptr);
        if (r < 0)
            return fail("sd_bus_process", r);
        if (r > 0)
            continue;
        if ((r = sd_bus_wait(bus, UINT64_MAX)) < 0 && r != -EINTR)
            return fail("sd_bus_wait", r);
    }
}
