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
// Other floors belong in the same vtable: a fan-out floor, say, as a method
// that sends N unicast signals to the callers that asked for them.
#include <systemd/sd-bus.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

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

const sd_bus_vtable vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Echo", "s", "s", echo, SD_BUS_VTABLE_UNPRIVILEGED),
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
