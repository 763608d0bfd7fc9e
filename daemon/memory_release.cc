#include "daemon/memory_release.h"

#include <malloc.h>

#include "daemon/log.h"
#include "daemon/timer.h"

namespace xsd {

MemoryRelease::~MemoryRelease()
{
    sd_event_source_disable_unref(timer_);
}

void MemoryRelease::afterBurst()
{
    if (!armOneShot(loop_, timer_, monotonicNow(loop_) + QuietUsec, &MemoryRelease::onQuiet, this,
                    "memory-release"))
        log::warning("cannot schedule giving back the memory of a burst; it stays with the daemon");
}

int MemoryRelease::onQuiet(sd_event_source*, uint64_t, void*)
{
    malloc_trim(0);
    return 0;
}

}  // namespace xsd
