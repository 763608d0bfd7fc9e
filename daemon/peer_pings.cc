#include "daemon/peer_pings.h"

#include <cstring>

#include "daemon/log.h"
#include "dbus/signal_sender.h"

namespace xsd {

PeerPings::PeerPings(sd_bus* bus, size_t maxInFlight, uint64_t timeoutUsec)
    : bus_(sd_bus_ref(bus)), maxInFlight_(maxInFlight ? maxInFlight : 1), timeoutUsec_(timeoutUsec)
{
}

PeerPings::~PeerPings()
{
    for (auto& p : inFlight_)
        sd_bus_slot_unref(p.slot);
    sd_bus_unref(bus_);
}

void PeerPings::ping(const std::string& peer, Done done)
{
    if (inFlight_.size() >= maxInFlight_) {
        waiting_.emplace_back(peer, std::move(done));
        return;
    }
    send(peer, std::move(done));
}

void PeerPings::send(const std::string& peer, Done done)
{
    sd_bus_message* call = nullptr;
    int r = sd_bus_message_new_method_call(bus_, &call, peer.c_str(), "/",
                                           "org.freedesktop.DBus.Peer", "Ping");
    auto& p = inFlight_.emplace_back();
    p.self = this;
    p.done = std::move(done);
    p.at = std::prev(inFlight_.end());
    if (r >= 0)
        r = sd_bus_call_async(bus_, &p.slot, call, &PeerPings::onReply, &p, timeoutUsec_);
    sd_bus_message_unref(call);
    if (r < 0) {
        // Not sent (the bus connection is failing): nothing to learn.
        Done d = std::move(p.done);
        inFlight_.erase(p.at);
        d(true);
    }
}

int PeerPings::onReply(sd_bus_message* reply, void* userdata, sd_bus_error*)
{
    auto* p = static_cast<Pending*>(userdata);
    PeerPings* self = p->self;
    bool read = true;
    if (sd_bus_message_is_method_error(reply, nullptr)) {
        const char* sender = sd_bus_message_get_sender(reply);
        const sd_bus_error* e = sd_bus_message_get_error(reply);
        const char* name = e && e->name ? e->name : "";
        if (!sender || !std::strcmp(name, "org.freedesktop.DBus.Error.NoReply")) {
            // No answer within the timeout: sd-bus's own error (which it
            // says comes from the bus driver) or dbus-daemon's. A peer that
            // does not read is exactly what this is for: it did not read.
            // Counted as read, it was handed events again, and once the bus
            // held 2 MB for it every other subscriber waited (seen under
            // ASan, where the 10 s timeout came before the test's end).
            read = false;
        } else if (BusDriver == sender) {
            // The bus answered for the peer: gone (nobody to hold back), or
            // it would not pass the ping on.
            const bool gone = !std::strcmp(name, "org.freedesktop.DBus.Error.NameHasNoOwner") ||
                              !std::strcmp(name, "org.freedesktop.DBus.Error.ServiceUnknown");
            if (!gone && !self->warned_) {
                self->warned_ = true;
                log::warning("the bus refuses the daemon's Peer.Ping to a subscriber (", name, ": ",
                             e && e->message ? e->message : "",
                             "); subscribers that do not read cannot be told apart, and may hold "
                             "up the others' watch events (is the bus policy file installed?)");
            }
        }
        // Otherwise the peer answered with an error of its own: it read.
    }
    Done done = std::move(p->done);
    sd_bus_slot_unref(p->slot);
    self->inFlight_.erase(p->at);
    self->sendWaiting();
    done(read);
    return 0;
}

void PeerPings::sendWaiting()
{
    while (!waiting_.empty() && inFlight_.size() < maxInFlight_) {
        auto [peer, done] = std::move(waiting_.front());
        waiting_.pop_front();
        send(peer, std::move(done));
    }
}

}  // namespace xsd
