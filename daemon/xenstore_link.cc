#include "daemon/xenstore_link.h"

#include <algorithm>
#include <cstdint>

#include "daemon/log.h"
#include "daemon/timer.h"

namespace xsd {

namespace {
constexpr uint64_t FirstBackoffUsec = 50'000;
constexpr uint64_t MaxBackoffUsec = 2'000'000;
// Requests sent and unanswered, for all callers together: below oxenstored's
// per-domain quota of outstanding requests (quota-maxoutstanding, 1024 by
// default), which binds the daemon when it runs in a guest. More wait, in
// order, in the client.
constexpr size_t MaxInFlight = 512;
}  // namespace

XenStoreLink::XenStoreLink(sd_event* loop, std::string spec, Events events)
    : loop_(sd_event_ref(loop)), spec_(std::move(spec)),
      backend_(xs::Backend::parse(spec_).value_or(xs::Backend{})), events_(std::move(events)),
      backoffUsec_(FirstBackoffUsec)
{
}

XenStoreLink::~XenStoreLink()
{
    sd_event_source_disable_unref(retry_);
    client_.reset();
    sd_event_unref(loop_);
}

void XenStoreLink::start()
{
    attempt();
}

void XenStoreLink::setReplyTimeout(uint64_t usec)
{
    replyTimeoutUsec_ = usec;
    if (client_)
        client_->setReplyTimeout(usec);
}

void XenStoreLink::attempt()
{
    // The previous client is dead; it is destroyed here, outside its own
    // callbacks.
    client_.reset();
    answered_ = false;
    std::string why;
    if (auto resolved = xs::Backend::parse(spec_, &why))
        backend_ = *resolved;
    int fd = why.empty() ? xs::openTransport(backend_, &why) : -1;
    if (fd < 0) {
        // Say it once per outage, not at every retry.
        if (why != lastFailure_)
            log::warning("xenstored is not reachable: ", why, "; retrying");
        lastFailure_ = why;
        scheduleRetry();
        return firstAttemptDone();
    }
    client_ = std::make_unique<xs::Client>(
        loop_, fd,
        xs::Client::Handlers{
            [this](const std::string& path, const std::string& token) {
                if (events_.watchEvent)
                    events_.watchEvent(path, token);
            },
            [this](const std::string& reason) { onDisconnected(reason); },
        },
        MaxInFlight);
    if (!client_->connected()) {
        // epoll refuses some descriptors (/dev/null, a regular file): say
        // which way that was, once per outage, as for a failed open.
        why = "xenstored at " + backend_.describe() +
              " cannot be watched in the event loop (not a socket or xenbus device?)";
        if (why != lastFailure_)
            log::warning(why, "; retrying");
        lastFailure_ = why;
        scheduleRetry();
        return firstAttemptDone();
    }
    client_->setReplyTimeout(replyTimeoutUsec_);
    // Any answer will do, an error too; only silence does not (the reply
    // timeout then drops the connection, and onDisconnected retries).
    client_->read("/", xs::NoTransaction, [this](const xs::Result<std::string>& r) {
        if (r || r.error().kind != xs::Error::Kind::Connection)
            answered();
    });
    client_->flushQueued();
}

void XenStoreLink::answered()
{
    answered_ = true;
    ++generation_;
    backoffUsec_ = FirstBackoffUsec;
    lastFailure_.clear();
    log::info("connected to xenstored at ", backend_.describe());
    if (events_.connected)
        events_.connected();
    firstAttemptDone();
}

void XenStoreLink::afterFirstAttempt(std::function<void()> then)
{
    if (firstSettled_)
        return then();
    afterFirst_.push_back(std::move(then));
}

void XenStoreLink::firstAttemptDone()
{
    if (firstSettled_)
        return;
    firstSettled_ = true;
    auto waiting = std::move(afterFirst_);
    afterFirst_.clear();
    for (auto& then : waiting)
        then();
}

void XenStoreLink::onDisconnected(const std::string& reason)
{
    // Runs inside the client's callback: the client stays (dead) until the
    // retry replaces it.
    if (!answered_) {
        // A connection that never answered: one more failed attempt.
        const std::string why = "xenstored at " + backend_.describe() +
                                " accepted a connection, then: " + reason;
        if (why != lastFailure_)
            log::warning(why, "; retrying");
        lastFailure_ = why;
        scheduleRetry();
        return firstAttemptDone();
    }
    answered_ = false;
    log::warning("lost the connection to xenstored: ", reason);
    backoffUsec_ = FirstBackoffUsec;
    scheduleRetry();
    if (events_.disconnected)
        events_.disconnected(reason);
}

void XenStoreLink::scheduleRetry()
{
    uint64_t when = monotonicNow(loop_) + backoffUsec_;
    backoffUsec_ = std::min(backoffUsec_ * 2, MaxBackoffUsec);
    if (!armOneShot(loop_, retry_, when, &XenStoreLink::onRetry, this, "xenstore-retry"))
        log::error("cannot schedule a reconnection to xenstored");
}

int XenStoreLink::onRetry(sd_event_source*, uint64_t, void* self)
{
    static_cast<XenStoreLink*>(self)->attempt();
    return 0;
}

}  // namespace xsd
