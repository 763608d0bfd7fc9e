// Watch events on their way to the bus, charged to each subscriber.
//
// dbus-daemon takes a few tens of thousands of messages a second. A burst
// of changes under a path many callers watch can ask for more, and a
// stopped or overloaded dbus-daemon takes none. Handed everything at once,
// sd-bus would hold every message in one write queue that it shifts per
// message written (a cost that grows with its square), while replies to
// every caller wait behind it. So the outbox hands sd-bus at most `window`
// messages beyond what it has written, and keeps the rest itself.
//
// A subscriber that does not read its socket is the other danger.
// dbus-daemon keeps what is sent to it and counts it against the sender:
// once it keeps as much of the daemon's messages as it lets one connection
// have in flight (127 MB on the system bus), it stops reading the daemon's
// connection, and every event and every reply to everyone stops. So each
// subscriber is handed at most `UnreadBytes` of events it has not been seen
// to read. Seen to read means it answered a Peer.Ping sent after them (its
// D-Bus library answers one once it has read all before it: a connection's
// messages arrive in order); the ping goes when half of that is handed.
// Beyond it, a subscriber's events wait here, in a line of its own.
//
// Every line is bounded: `perSubscriber` events each, `backlog` for all
// together (queued_watch_events_per_subscriber, queued_watch_events). When
// the backlog is full, the longest line gives way, not a shorter one: a
// well-behaved subscriber loses nothing to one that does not read. A
// subscriber that loses an event cannot tell which, so, as after a
// reconnection to xenstored, it is sent the event of each path it watches
// once it has caught up (read what it was handed, and the bus has written
// what it holds): its cue to read them afresh. That covers whatever it was
// owed meanwhile, so what waits in its line goes, and so do its events
// until then. Two log lines per episode, not one per event. When sd-bus is
// the bottleneck, subscribers with events waiting take turns, one event
// each.
#pragma once

#include <systemd/sd-event.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
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
        // Asks the subscriber to answer Peer.Ping; `read` runs once, true
        // when the subscriber has read what was sent before the ping, false
        // when it did not answer. None: every subscriber counts as reading.
        std::function<void(const std::string& subscriber, std::function<void(bool read)> read)> ping;
    };

    static constexpr size_t DefaultWindow = 1024;
    // Bytes of events (as sent, near enough) a subscriber may have unread.
    static constexpr size_t UnreadBytes = 64 * 1024;

    WatchEventOutbox(sd_event* loop, Bus bus, size_t window = DefaultWindow);
    ~WatchEventOutbox();
    WatchEventOutbox(const WatchEventOutbox&) = delete;
    WatchEventOutbox& operator=(const WatchEventOutbox&) = delete;

    // The queued_watch_events limits (on start and reload).
    void setBacklogLimit(size_t events) { backlogLimit_ = events; }
    void setPerSubscriberLimit(size_t events) { perSubscriberLimit_ = events; }

    void send(const std::string& subscriber, const std::string& path, const std::string& token);
    // The subscriber left the bus: what waits for it goes, and it is owed
    // nothing.
    void forget(const std::string& subscriber);

    // Events waiting, for all subscribers together.
    size_t backlog() const { return queued_; }

private:
    struct Event {
        std::string path, token;
    };
    struct Subscriber {
        std::deque<Event> waiting;
        size_t unread = 0;        // bytes handed to sd-bus, not yet seen read
        size_t unreadAtPing = 0;  // what the ping under way confirms, once answered
        bool pinging = false;
        bool owed = false;        // lost an event: owed its watched paths' events
    };
    using Subscribers = std::map<std::string, Subscriber>;

    static int onPost(sd_event_source* s, void* self);
    void pump();
    // Whether sd-bus may be handed one more message now.
    bool roomInWindow();
    static size_t bytes(const std::string& subscriber, const std::string& path,
                        const std::string& token);
    // Whether `s` may be handed `n` more bytes: it has read enough of the
    // rest.
    static bool mayHand(const Subscriber& s, size_t n);
    // It has read most of what it was handed: time to make up for a loss.
    static bool caughtUp(const Subscriber& s);
    void emit(const std::string& name, Subscriber& s, const Event& e);
    void ping(const std::string& name, Subscriber& s);
    void onPingAnswered(const std::string& name, bool read);
    // The backlog is full: the longest line but `s`'s loses what waits in
    // it, if it is longer than `s`'s. False when none is.
    bool longestLineGivesWay(const Subscriber& s);
    // `s` loses `events` and what waits in its line, and is owed its
    // watched paths' events.
    void lost(Subscriber& s, const std::string& why, size_t events = 1);
    void keepPumping(bool on);

    sd_event_source* post_ = nullptr;
    Bus bus_;
    size_t window_;
    size_t backlogLimit_ = Limits{}.queuedWatchEvents;
    size_t perSubscriberLimit_ = Limits{}.queuedWatchEventsPerSubscriber;
    size_t handedSinceIdle_ = 0;  // messages given to sd-bus since its queue was last empty
    // Those with anything under way, in order of name: the order they take
    // turns in.
    Subscribers subscribers_;
    size_t queued_ = 0;     // events waiting, all subscribers together
    size_t owedCount_ = 0;  // subscribers owed their watched paths' events
    uint64_t lostEvents_ = 0;  // in this episode
    size_t affected_ = 0;      // subscribers, in this episode
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace xsd
