// Peer.Ping to another bus client, to learn whether it reads what it is
// sent. Every D-Bus library (sd-bus, GDBus, libdbus) answers
// org.freedesktop.DBus.Peer.Ping on any object by itself, and only once it
// has read all that came before it: a connection's messages arrive in
// order. So an answer says the peer has read everything sent to it before
// the ping; silence until the timeout says it has not.
//
// Each ping holds one of the daemon's pending replies at dbus-daemon, which
// allows a connection only so many (max_replies_per_connection: 128 on the
// system bus), and the daemon's own calls to the bus need some too. So at
// most `maxInFlight` pings are under way; more wait their turn, in order.
//
// When dbus-daemon itself refuses the ping (its policy does not let the
// daemon send it, or a limit), the peer cannot be asked, and counts as
// reading: the daemon works on as it did without pings, and says so once.
#pragma once

#include <systemd/sd-bus.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <string>

namespace xsd {

class PeerPings {
public:
    using Done = std::function<void(bool read)>;

    static constexpr size_t DefaultMaxInFlight = 32;
    static constexpr uint64_t DefaultTimeoutUsec = 10'000'000;

    explicit PeerPings(sd_bus* bus, size_t maxInFlight = DefaultMaxInFlight,
                       uint64_t timeoutUsec = DefaultTimeoutUsec);
    // Pings under way are cancelled: their `done` never runs.
    ~PeerPings();
    PeerPings(const PeerPings&) = delete;
    PeerPings& operator=(const PeerPings&) = delete;

    // `done` runs once, later (or at once when the ping cannot be sent).
    void ping(const std::string& peer, Done done);

    size_t inFlight() const { return inFlight_.size(); }

private:
    struct Pending {
        PeerPings* self = nullptr;
        Done done;
        sd_bus_slot* slot = nullptr;
        std::list<Pending>::iterator at;
    };

    static int onReply(sd_bus_message* reply, void* userdata, sd_bus_error*);
    void sendWaiting();
    void send(const std::string& peer, Done done);

    sd_bus* bus_;
    size_t maxInFlight_;
    uint64_t timeoutUsec_;
    std::deque<std::pair<std::string, Done>> waiting_;
    std::list<Pending> inFlight_;  // stable addresses: each is its slot's userdata
    bool warned_ = false;
};

}  // namespace xsd
