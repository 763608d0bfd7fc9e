#include "daemon/watch_event_outbox.h"

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
    sd_event_source_disable_unref(post_);
}

void WatchEventOutbox::send(const std::string& subscriber, const std::string& path,
                            const std::string& token)
{
    // The usual case: nothing held back and sd-bus keeping up.
    if (backlog_.empty() && roomInWindow())
        return emit({subscriber, path, token});
    if (backlog_.size() >= backlogLimit_)
        return lost(subscriber, "more than " + std::to_string(backlogLimit_) +
                                    " events wait for the bus (queued_watch_events)");
    backlog_.push_back({subscriber, path, token});
    keepPumping(true);
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

void WatchEventOutbox::emit(const Event& e)
{
    ++handedSinceIdle_;
    if (auto refused = bus_.emit(e.subscriber, e.path, e.token))
        lost(e.subscriber, *refused);
}

void WatchEventOutbox::lost(const std::string& subscriber, const std::string& why)
{
    if (lostEvents_++ == 0)
        log::warning("watch events are being lost (", why,
                     "); each subscriber that loses one will get its watched paths' events "
                     "again once the bus has caught up");
    if (owed_.insert(subscriber).second)
        ++affected_;
    keepPumping(true);
}

int WatchEventOutbox::onPost(sd_event_source*, void* self)
{
    static_cast<WatchEventOutbox*>(self)->pump();
    return 0;
}

void WatchEventOutbox::pump()
{
    while (!backlog_.empty() && roomInWindow()) {
        emit(backlog_.front());
        backlog_.pop_front();
    }
    if (!backlog_.empty())
        return;  // sd-bus writing: the post source runs again when it has
    if (owed_.empty()) {
        keepPumping(false);
        return;
    }
    if (bus_.writing())
        return;
    // Caught up: the episode ends, and the owed resyncs go out (through
    // send(), so they too wait their turn if they fill the window).
    log::info("the bus has caught up with watch events: ", lostEvents_, " were lost, for ",
              affected_, " subscribers; each is sent its watched paths' events again");
    lostEvents_ = 0;
    affected_ = 0;
    auto owed = std::move(owed_);
    owed_.clear();
    for (const auto& subscriber : owed)
        bus_.resync(subscriber);
}

void WatchEventOutbox::keepPumping(bool on)
{
    if (post_)
        sd_event_source_set_enabled(post_, on ? SD_EVENT_ON : SD_EVENT_OFF);
}

}  // namespace xsd
