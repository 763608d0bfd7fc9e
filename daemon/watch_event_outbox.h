// Watch events on their way to the bus.
//
// dbus-daemon takes a few tens of thousands of messages a second. A burst
// of changes under a path many callers watch can ask for more, and a
// stopped dbus-daemon takes none. sd-bus would queue the daemon's messages
// without a bound worth having (393,216, some 400 MB) and then drain that
// queue at a cost that grows with its square, while replies to every
// caller wait behind it. So the outbox hands sd-bus at most `window`
// messages beyond what it has written, and keeps the rest itself, compact
// and in order, up to `backlog` events (the queued_watch_events limit).
//
// An event that finds the backlog full is lost. A subscriber that lost an
// event cannot tell which, so, as after a reconnection to xenstored, once
// the backlog has drained it is sent the event of each path it watches: its
// cue to read them afresh. Two log lines per episode, not one per event.
#pragma once

#include <systemd/sd-event.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>

#include "daemon/config/config.h"

namespace xsd {

class WatchEventOutbox {
public:
    struct Bus {
        // Sends one WatchEvent signal; nullopt when sd-bus took it, else why
        // not.
        std::function<std::optional<std::string>(const std::string& subscriber,
                                                 const std::string& path,
                                                 const std::string& token)>
            emit;
        // Whether sd-bus still has messages to write.
        std::function<bool()> writing;
        // Sends the subscriber an event for each path it watches (through
        // send(), like any other event).
        std::function<void(const std::string& subscriber)> resync;
    };

    static constexpr size_t DefaultWindow = 1024;

    WatchEventOutbox(sd_event* loop, Bus bus, size_t window = DefaultWindow);
    ~WatchEventOutbox();
    WatchEventOutbox(const WatchEventOutbox&) = delete;
    WatchEventOutbox& operator=(const WatchEventOutbox&) = delete;

    // The queued_watch_events limit (on start and reload).
    void setBacklogLimit(size_t events) { backlogLimit_ = events; }

    void send(const std::string& subscriber, const std::string& path, const std::string& token);
    // The subscriber left the bus: it is owed nothing.
    void forget(const std::string& subscriber) { owed_.erase(subscriber); }

    size_t backlog() const { return backlog_.size(); }

private:
    struct Event {
        std::string subscriber, path, token;
    };

    static int onPost(sd_event_source* s, void* self);
    void pump();
    // Whether sd-bus may be handed one more message now.
    bool roomInWindow();
    void emit(const Event& e);
    void lost(const std::string& subscriber, const std::string& why);
    void keepPumping(bool on);

    sd_event_source* post_ = nullptr;
    Bus bus_;
    size_t window_;
    size_t backlogLimit_ = Limits{}.queuedWatchEvents;
    size_t handedSinceIdle_ = 0;  // messages given to sd-bus since its queue was last empty
    std::deque<Event> backlog_;
    std::set<std::string> owed_;  // subscribers that lost an event: owed a resync
    uint64_t lostEvents_ = 0;     // in this episode
    size_t affected_ = 0;         // subscribers, in this episode
};

}  // namespace xsd
