// Snapshot: a whole subtree read in one XenStore transaction, so what it
// shows existed together, rendered as nested JSON (API.md, Snapshot).
#pragma once

#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "daemon/xenstore_link.h"
#include "protocol/client.h"

namespace xsd {

// All reads of the walk are pipelined on the one connection; the
// transaction is then aborted (nothing was written). JSON larger than an
// answer may be (MaxAnswerBytes) fails with E2BIG, saying to snapshot
// smaller subtrees; the walk stops early once what it read alone is more.
void takeSnapshot(xs::Client& client, const std::string& path,
                  std::function<void(xs::Result<std::string> json)> done);

// Snapshots are taken one at a time. A walk holds its subtree in memory
// several times over (the nodes, the JSON, the requests still to send), so
// however many callers ask at once the daemon holds one walk's worth (32
// callers asking for a 33,000-node store at once made it grow by 650 MB);
// in a guest, a walk also uses one of the transactions xenstored's quota
// allows the daemon.
//
// Callers take turns, each with its oldest snapshot, so one that asks for
// many holds up another by one walk at most. Snapshots of the same path
// that wait together share a walk: it starts after each of them was asked
// for, so it is as recent as each needs.
class SnapshotQueue {
public:
    using Done = std::function<void(const xs::Result<std::string>& json)>;

    explicit SnapshotQueue(XenStoreLink& link) : link_(link) {}

    // `sender` asks for a snapshot of `path` (checked already); answered
    // through `done`, once.
    void take(const std::string& sender, const std::string& path, Done done);
    // `sender` left the bus: the snapshots it still waits for are not taken
    // (those it shares with others still are).
    void forget(const std::string& sender);

private:
    struct Waiter {
        std::string path;
        Done done;
    };

    void next();
    // The path whose turn it is, and every waiter for it, taken out of line.
    std::pair<std::string, std::vector<Done>> nextWalk();

    XenStoreLink& link_;
    std::unordered_map<std::string, std::deque<Waiter>> waiting_;  // per caller, oldest first
    std::deque<std::string> turns_;  // callers with snapshots waiting, each once, next first
    bool walking_ = false;
    bool advancing_ = false;  // inside next(): a walk that ends at once does not recurse
};

}  // namespace xsd
