// The watch multiplexer: callers' subscriptions (caller, path, token) on
// top of one XenStore watch per distinct path, however many subscribe.
//
// A subscription succeeds once xenstored holds the watch; the subscriber
// then gets one event at once, as XenStore fires a new watch once. The
// daemon's upstream tokens are its own ("xsd:<n>"); callers' tokens never
// reach xenstored, so two callers may use the same token.
//
// When the connection drops, subscriptions stay; on reconnect every path is
// watched again and the initial event xenstored fires goes to all of that
// path's subscribers, so they can resynchronise.
//
// Subscribing and unsubscribing take effect in the order they were asked
// for: while a path's watch is being placed, every change to that path's
// subscriptions waits behind it, in order, so a Watch and the Unwatch sent
// right after it are answered, and take effect, in that order.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "protocol/result.h"

namespace xs {
class Client;
}

namespace xsd {

class WatchMultiplexer {
public:
    // Sends one event to one subscriber.
    using Deliver = std::function<void(const std::string& subscriber, const std::string& path,
                                       const std::string& token)>;
    // nullopt: subscribed; else why not.
    using Done = std::function<void(const std::optional<xs::Error>& error)>;
    // Whether the subscription was there to remove.
    using Removed = std::function<void(bool found)>;

    explicit WatchMultiplexer(Deliver deliver) : deliver_(std::move(deliver)) {}

    // The subscriber name of the daemon's own watches (no bus name is
    // empty): they share upstream watches with callers' but are not counted
    // in watchCount() or subscriptionCount(), which describe the callers'.
    static inline const std::string Own;

    // Subscribes; done runs once XenStore holds the watch (or refused it),
    // and the subscriber's initial event follows right after a success.
    // `client` is null while disconnected.
    void subscribe(xs::Client* client, const std::string& subscriber, const std::string& path,
                   const std::string& token, Done done);
    // done(false) when the subscriber holds no such subscription; at once,
    // unless the path's watch is being placed.
    void unsubscribe(xs::Client* client, const std::string& subscriber, const std::string& path,
                     const std::string& token, Removed done);
    // The subscriber left the bus: drop all it holds.
    void dropSubscriber(xs::Client* client, const std::string& subscriber);

    // At shutdown: remove every upstream watch; subscriptions go with them.
    void releaseAll(xs::Client* client);

    void onWatchEvent(const std::string& path, const std::string& upstreamToken);
    void onConnected(xs::Client& client);
    void onDisconnected();

    // Delivers an event for `path` to each subscriber of that watched path,
    // as if XenStore had fired it (for a change XenStore makes silently).
    void fire(const std::string& path);
    // The paths callers watch (each once).
    std::vector<std::string> watchedPaths() const;

    // XenStore watches held (or being placed) upstream for callers.
    size_t watchCount() const;
    size_t subscriptionCount() const { return subscriptions_; }
    size_t subscriptionsOf(const std::string& subscriber) const;
    // What the subscriber watches: (path, token) of each subscription.
    std::vector<std::pair<std::string, std::string>> watchedBy(const std::string& subscriber) const;

private:
    using Key = std::pair<std::string, std::string>;  // (subscriber, token)
    // A change to a path's subscriptions waiting for its watch to be placed.
    struct Waiter {
        Key key;
        Done subscribed;  // a subscription to add
        Removed removed;  // or one to remove
    };
    enum class State { Registering, Active, Down };
    struct Upstream {
        const std::string* path = nullptr;  // its key in byPath_
        std::string token;
        State state = State::Down;
        // What to do with the initial event xenstored fires for a new watch:
        // first registration: drop it (each subscriber gets its own at once);
        // re-registration after a reconnect: deliver it to everyone.
        bool dropInitial = false;
        std::set<Key> subscribers;
        std::deque<Waiter> waiting;  // in the order they were asked for
    };

    // Whether a caller (not only the daemon) subscribes or waits to.
    static bool forCallers(const Upstream& up);
    void registerUpstream(xs::Client& client, const std::string& path, Upstream& up);
    void onRegistered(xs::Client& client, const std::string& path, const std::string& token,
                      const std::optional<xs::Error>& error);
    // Each adds or removes one subscription of an Active (or failed) path
    // and answers; false: the key was (not) there already.
    bool add(Upstream& up, const Key& key);
    bool remove(Upstream& up, const Key& key);
    void release(xs::Client* client, const std::string& path);

    // One subscription as its subscriber's index holds it: the path and
    // the token where byPath_ keeps them (a key of byPath_, a Key of its
    // Upstream's subscribers), not copies. A path and a token may each be
    // 4 KB long and a caller may hold hundreds: kept once, not three times
    // and twice.
    struct Held {
        const std::string* path;
        const std::string* token;
    };
    struct ByPathThenToken {
        using is_transparent = void;
        using Strings = std::pair<const std::string&, const std::string&>;
        static Strings strings(const Held& h) { return {*h.path, *h.token}; }
        static const Strings& strings(const Strings& s) { return s; }
        template <class A, class B> bool operator()(const A& a, const B& b) const
        {
            return strings(a) < strings(b);
        }
    };

    Deliver deliver_;
    std::map<std::string, Upstream> byPath_;
    std::unordered_map<std::string, const std::string*> pathByToken_;  // the path: a key of byPath_
    std::unordered_map<std::string, std::set<Held, ByPathThenToken>> bySubscriber_;
    size_t subscriptions_ = 0;
    uint64_t nextToken_ = 1;
};

}  // namespace xsd
