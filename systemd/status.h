// The one line `systemctl status` shows for the daemon (STATUS=), built from
// the same counts the D-Bus properties publish, so an administrator sees at a
// glance whether XenStore is reachable and how busy the daemon is.
#pragma once

#include <string>

namespace xsd {

struct StatusCounts {
    bool connected = false;
    std::string backend;  // xs::Backend::describe(), e.g. "unix:/var/run/xenstored/socket"
    unsigned watches = 0;        // XenStore watches held upstream (WatchCount)
    unsigned subscriptions = 0;  // callers' (path, token) subscriptions (SubscriptionCount)
    unsigned transactions = 0;   // open transactions (TransactionCount)
    std::string note;            // appended when not empty, e.g. why a reload was refused
};

// "Connected to unix:/var/run/xenstored/socket; 3 watches, 7 subscriptions,
// 1 transaction", or "Not connected to …; …" while the daemon reconnects.
std::string formatStatus(const StatusCounts& counts);

}  // namespace xsd
