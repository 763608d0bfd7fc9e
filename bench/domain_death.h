// The benchmark's domains part: with many introduced guests, how long one
// guest's death (VIRQ_DOM_EXC raised) takes to reach a WatchDomains
// subscriber as DomainReleased, and how many XenStore requests the daemon
// spent on it.
#pragma once

#include <cstdint>
#include <functional>

#include "tests/harness/stack.h"

namespace xsd::bench {

// Introduces `guests` guest domains (1..guests) in the stack's oxenstored,
// kills `deaths` of them one at a time and prints the figures, with the
// ratio against one IS_DOMAIN_INTRODUCED round trip (`isIntroduced`: a
// blocking client's) measured in the same run.
void domainDeath(xsd::test::Stack& stack, int guests, int deaths,
                 const std::function<bool(uint32_t)>& isIntroduced);

}  // namespace xsd::bench
