// Snapshot: a whole subtree read in one XenStore transaction, so what it
// shows existed together, rendered as nested JSON (API.md, Snapshot).
#pragma once

#include <functional>
#include <string>

#include "protocol/client.h"

namespace xsd {

// All reads of the walk are pipelined on the one connection; the
// transaction is then aborted (nothing was written).
void takeSnapshot(xs::Client& client, const std::string& path,
                  std::function<void(xs::Result<std::string> json)> done);

}  // namespace xsd
