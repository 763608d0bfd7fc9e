// One-shot timers on the loop's monotonic clock, kept in one event source
// each: created the first time, only moved after that (the transaction
// idle timeout, the reconnection backoff, the STATUS= coalescing).
#pragma once

#include <systemd/sd-event.h>

#include <cstdint>

namespace xsd {

inline uint64_t monotonicNow(sd_event* loop)
{
    uint64_t now = 0;
    sd_event_now(loop, CLOCK_MONOTONIC, &now);
    return now;
}

// Fires `handler` once at `when` (CLOCK_MONOTONIC, µs). False if the source
// could not be created; an armed timer is moved.
inline bool armOneShot(sd_event* loop, sd_event_source*& source, uint64_t when,
                       sd_event_time_handler_t handler, void* userdata, const char* description)
{
    if (!source) {
        if (sd_event_add_time(loop, &source, CLOCK_MONOTONIC, when, 0, handler, userdata) < 0)
            return false;
        sd_event_source_set_description(source, description);
    } else {
        sd_event_source_set_time(source, when);
    }
    sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
    return true;
}

}  // namespace xsd
