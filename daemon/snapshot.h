// Snapshot: a whole subtree read in one XenStore transaction, so what it
// shows existed together, rendered as nested JSON (API.md, Snapshot).
#pragma once

#include <deque>
#include <functional>
#include <string>
#include <utility>

#include "daemon/xenstore_link.h"
#include "protocol/client.h"

namespace xsd {

// All reads of the walk are pipelined on the one connection; the
// transaction is then aborted (nothing was written).
void takeSnapshot(xs::Client& client, const std::string& path,
                  std::function<void(xs::Result<std::string> json)> done);

// Snapshots are taken one at a time. A walk holds its subtree in memory
// several times over (the nodes, the JSON, the requests still to send), so
// however many callers ask at once the daemon holds one walk's worth (32
// callers asking for a 33,000-node store at once made it grow by 650 MB);
// in a guest, a walk also uses one of the transactions xenstored's quota
// allows the daemon. Snapshots of one path that wait together share a walk:
// it starts after each of them was asked for, so it is as recent as each
// needs.
class SnapshotQueue {
public:
    using Done = std::function<void(const xs::Result<std::string>& json)>;

    explicit SnapshotQueue(XenStoreLink& link) : link_(link) {}

    // `path` is checked already. Answers through `done`, once.
    void take(const std::string& path, Done done);

private:
    void next();

    XenStoreLink& link_;
    std::deque<std::pair<std::string, Done>> waiting_;
    bool walking_ = false;
    bool advancing_ = false;  // inside next(): a walk that ends at once does not recurse
};

}  // namespace xsd
