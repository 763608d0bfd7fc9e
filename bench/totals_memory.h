// The benchmark's totals part: the daemon's resident memory when callers
// hold all that watches_total and transactions_total let them, the way an
// attacker would (many connections, the longest paths and tokens), each on
// a daemon of its own with the default limits.
#pragma once

namespace xsd::bench {

void totalsMemory();

}  // namespace xsd::bench
