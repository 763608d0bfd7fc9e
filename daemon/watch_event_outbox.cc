#include "daemon/watch_event_outbox.h"

#include <algorithm>
#include <vector>

#include "daemon/log.h"

namespace xsd {

WatchEventOutbox::WatchEventOutbox(sd_event* loop, Bus bus, size_t window)
    : bus_(std::move(bus)), window_(window ? window : 1)
{
    // A post source runs after an iteration that dispatched anything else,
    // such as sd-bus writing its queue out: no polling while nothing moves.
    if (sd_event_add_post(loop, &post_, &WatchEventOutbox::onPost, this) < 0) {
        log::error("cannot hold watch events back in the event loop; they go straight to sd-bus");
        post_ = nullptr;
        return;
    }
    sd_event_source_set_description(post_, "watch-event-outbox");
    sd_event_source_set_enabled(post_, SD_EVENT_OFF);
}

WatchEventOutbox::~WatchEventOutbox()
{
    *alive_ = false;
    sd_event_source_disable_unref(post_);
}

size_t WatchEventOutbox::bytes(const std::string& subscriber, const std::string& path,
                               const std::string& token)
{
    // The body, and a header naming sender, destination, object, interface,
    // member and signature.
    return subscriber.size() + path.size() + token.size() + 160;
}

bool WatchEventOutbox::mayHand(const Subscriber& s, size_t n)
{
    return s.unread == 0 || s.unread + n <= UnreadBytes;
}

bool WatchEventOutbox::caughtUp(const Subscriber& s)
{
    return s.unread < UnreadBytes / 2;
}

void WatchEventOutbox::send(const std::string& subscriber, const std::string& path,
                            const std::string& token)
{
    Subscriber& s = subscribers_[subscriber];
    if (s.owed) {
        // Its watched paths' events, once it has caught up, cover this one.
        ++lostEvents_;
        return;
    }
    const size_t n = bytes(subscriber, path, token);
    // The usual case: nothing waiting, sd-bus and the subscriber keeping up.
    if (s.waiting.empty() && mayHand(s, n) && roomInWindow())
        return emit(subscriber, s, {path, token});
    if (s.waiting.size() >= perSubscriberLimit_)
        return lost(s, "more than " + std::to_string(perSubscriberLimit_) +
                           " events wait for one subscriber (queued_watch_events_per_subscriber)");
    if (queued_ >= backlogLimit_ && !longestLineGivesWay(s))
        return lost(s, "more than " + std::to_string(backlogLimit_) +
                           " events wait for the bus (queued_watch_events)");
    s.waiting.push_back({path, token});
    ++queued_;
    if (!mayHand(s, n) && !s.pinging)
        ping(subscriber, s);
    keepPumping(true);
}

bool WatchEventOutbox::longestLineGivesWay(const Subscriber& s)
{
    Subscriber* longest = nullptr;
    for (auto& [name, other] : subscribers_)
        if (&other != &s && (!longest || other.waiting.size() > longest->waiting.size()))
            longest = &other;
    if (!longest || longest->waiting.size() <= s.waiting.size() + 1)
        return false;
    lost(*longest, "more than " + std::to_string(backlogLimit_) +
                       " events wait for the bus (queued_watch_events); the longest line gives way",
         0);
    return true;
}

bool WatchEventOutbox::roomInWindow()
{
    if (!post_)
        return true;
    if (handedSinceIdle_ < window_)
        return true;
    if (bus_.writing())
        return false;
    handedSinceIdle_ = 0;
    return true;
}

void WatchEventOutbox::emit(const std::string& name, Subscriber& s, const Event& e)
{
    ++handedSinceIdle_;
    if (auto refused = bus_.emit(name, e.path, e.token))
        return lost(s, *refused);
    s.unread += bytes(name, e.path, e.token);
    if (s.unread >= UnreadBytes / 2 && !s.pinging)
        ping(name, s);
}

void WatchEventOutbox::ping(const std::string& name, Subscriber& s)
{
    if (!bus_.ping) {
        s.unread = 0;  // nothing to ask with: every subscriber counts as reading
        return;
    }
    s.pinging = true;
    s.unreadAtPing = s.unread;
    bus_.ping(name, [this, alive = std::weak_ptr<bool>(alive_), name](bool read) {
        if (!alive.expired())
            onPingAnswered(name, read);
    });
}

void WatchEventOutbox::onPingAnswered(const std::string& name, bool read)
{
    auto it = subscribers_.find(name);
    if (it == subscribers_.end())
        return;  // forgotten meanwhile
    Subscriber& s = it->second;
    s.pinging = false;
    if (read)
        s.unread -= std::min(s.unread, s.unreadAtPing);
    s.unreadAtPing = 0;
    // Not read: it stays held back, and is asked again when the outbox
    // next has events for it.
    keepPumping(true);
}

void WatchEventOutbox::lost(Subscriber& s, const std::string& why, size_t events)
{
    if (lostEvents_ == 0)
        log::warning("watch events are being lost (", why,
                     "); each subscriber that loses one will get its watched paths' events "
                     "again once it has caught up");
    lostEvents_ += events + s.waiting.size();
    queued_ -= s.waiting.size();
    s.waiting.clear();
    if (!s.owed) {
        s.owed = true;
        ++owedCount_;
        ++affected_;
    }
    keepPumping(true);
}

void WatchEventOutbox::forget(const std::string& subscriber)
{
    auto it = subscribers_.find(subscriber);
    if (it == subscribers_.end())
        return;
    queued_ -= it->second.waiting.size();
    if (it->second.owed)
        --owedCount_;
    subscribers_.erase(it);
}

int WatchEventOutbox::onPost(sd_event_source*, void* self)
{
    static_cast<WatchEventOutbox*>(self)->pump();
    return 0;
}

void WatchEventOutbox::pump()
{
    // Subscribers with events waiting take turns, one event each, while
    // sd-bus has room; one that has not read enough of what it was handed
    // waits for its ping (asked again if the last went unanswered).
    bool windowFull = false;
    for (bool moved = true; moved && !windowFull;) {
        moved = false;
        for (auto& [name, s] : subscribers_) {
            if (s.waiting.empty())
                continue;
            const Event& next = s.waiting.front();
            if (!mayHand(s, bytes(name, next.path, next.token))) {
                if (!s.pinging)
                    ping(name, s);
                continue;
            }
            if (!roomInWindow()) {
                windowFull = true;
                break;
            }
            Event e = std::move(s.waiting.front());
            s.waiting.pop_front();
            --queued_;
            emit(name, s, e);
            moved = true;
        }
    }
    // Each subscriber that lost events, once it has caught up and sd-bus
    // has written what it holds, is sent its watched paths' events (through
    // send(), which may add subscribers: not while walking them). One that
    // has not caught up is asked whether it has.
    std::vector<std::string> resync;
    if (owedCount_ > 0 && !windowFull && !bus_.writing()) {
        for (auto& [name, s] : subscribers_) {
            if (!s.owed)
                continue;
            if (caughtUp(s)) {
                s.owed = false;
                --owedCount_;
                resync.push_back(name);
            } else if (!s.pinging) {
                ping(name, s);
            }
        }
    }
    if (!resync.empty()) {
        log::info("watch events: ", resync.size(), " subscribers caught up after ", lostEvents_,
                  " events were lost for ", affected_,
                  "; each is sent its watched paths' events again");
        lostEvents_ = 0;
        affected_ = owedCount_;
    }
    for (const auto& name : resync)
        bus_.resync(name);
    // Pumping goes on while something could move once sd-bus has written;
    // a subscriber waiting for its ping is woken by the answer. Entries that
    // hold nothing go.
    bool more = false;
    for (auto it = subscribers_.begin(); it != subscribers_.end();) {
        Subscriber& s = it->second;
        const bool held = !s.waiting.empty() &&
                          !mayHand(s, bytes(it->first, s.waiting.front().path, s.waiting.front().token));
        more = more || (!held && !s.waiting.empty()) || (s.owed && caughtUp(s));
        if (s.waiting.empty() && !s.owed && !s.pinging && s.unread == 0)
            it = subscribers_.erase(it);
        else
            ++it;
    }
    keepPumping(more);
}

void WatchEventOutbox::keepPumping(bool on)
{
    if (post_)
        sd_event_source_set_enabled(post_, on ? SD_EVENT_ON : SD_EVENT_OFF);
}

}  // namespace xsd
