#include "dbus/bus_event_source.h"

#include <cstdint>
#include <stdexcept>

#include <sdbus-c++/Error.h>

namespace xsd {

BusEventSource::BusEventSource(sd_event* loop, sdbus::IConnection& connection,
                               std::function<void(const std::string&)> onFailure,
                               std::function<void()> afterBatch)
    : connection_(connection), onFailure_(std::move(onFailure)), afterBatch_(std::move(afterBatch))
{
    auto poll = connection_.getEventLoopPollData();
    int r = sd_event_add_io(loop, &io_, poll.fd, static_cast<uint32_t>(poll.events),
                            &BusEventSource::onIo, this);
    if (r >= 0)
        r = sd_event_source_set_prepare(io_, &BusEventSource::onPrepare);
    if (r >= 0)
        r = sd_event_add_time(loop, &timer_, CLOCK_MONOTONIC, UINT64_MAX, 0,
                              &BusEventSource::onTimer, this);
    if (r < 0)
        throw std::runtime_error("cannot attach the D-Bus connection to the event loop");
    sd_event_source_set_description(io_, "dbus-io");
    sd_event_source_set_description(timer_, "dbus-timer");
    sd_event_source_set_enabled(timer_, SD_EVENT_OFF);
}

BusEventSource::~BusEventSource()
{
    sd_event_source_disable_unref(io_);
    sd_event_source_disable_unref(timer_);
}

int BusEventSource::onPrepare(sd_event_source*, void* self)
{
    auto* me = static_cast<BusEventSource*>(self);
    try {
        auto poll = me->connection_.getEventLoopPollData();
        sd_event_source_set_io_events(me->io_, static_cast<uint32_t>(poll.events));
        if (poll.timeout_usec == UINT64_MAX) {
            sd_event_source_set_enabled(me->timer_, SD_EVENT_OFF);
        } else {
            sd_event_source_set_time(me->timer_, poll.timeout_usec);
            sd_event_source_set_enabled(me->timer_, SD_EVENT_ONESHOT);
        }
    } catch (const sdbus::Error& e) {
        me->onFailure_(e.getMessage());
    }
    return 0;
}

int BusEventSource::onIo(sd_event_source*, int, uint32_t, void* self)
{
    static_cast<BusEventSource*>(self)->process();
    return 0;
}

int BusEventSource::onTimer(sd_event_source*, uint64_t, void* self)
{
    static_cast<BusEventSource*>(self)->process();
    return 0;
}

void BusEventSource::process()
{
    // A bounded batch, so a flood of calls cannot keep the loop from
    // xenstored's replies; sd-bus reports a zero timeout while more is
    // queued, and the timer brings us straight back.
    try {
        for (int i = 0; i < 64; ++i)
            if (!connection_.processPendingRequest())
                break;
    } catch (const sdbus::Error& e) {
        onFailure_(e.getMessage());
    }
    if (afterBatch_)
        afterBatch_();
}

}  // namespace xsd
