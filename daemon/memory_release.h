// Giving back what a burst took.
//
// glibc's malloc keeps freed memory for later: a Snapshot of 10,000 nodes
// (the nodes, the JSON, the reply) leaves the daemon some 8 MiB larger for
// good, most of it in free pages inside the heap that only malloc_trim()
// returns to the system. So once a burst is over (nothing more asked of it
// for a moment) the daemon trims, once; a burst that goes on moves the
// moment on, so a stream of calls pays for one trim at its end, not one a
// call.
#pragma once

#include <systemd/sd-event.h>

#include <cstdint>

namespace xsd {

class MemoryRelease {
public:
    // How long after the last burst the trim waits: long enough for sd-bus
    // to have written the reply out (and freed it), short enough that an
    // idle daemon is back to its size before anyone looks.
    static constexpr uint64_t QuietUsec = 200'000;

    explicit MemoryRelease(sd_event* loop) : loop_(loop) {}
    ~MemoryRelease();
    MemoryRelease(const MemoryRelease&) = delete;
    MemoryRelease& operator=(const MemoryRelease&) = delete;

    // Something just used (and freed) a lot of memory.
    void afterBurst();

private:
    static int onQuiet(sd_event_source* s, uint64_t usec, void* self);

    sd_event* loop_;
    sd_event_source* timer_ = nullptr;
};

}  // namespace xsd
