#include "systemd/status.h"

namespace xsd {

namespace {

std::string count(unsigned n, const char* singular, const char* plural)
{
    return std::to_string(n) + " " + (n == 1 ? singular : plural);
}

}  // namespace

std::string formatStatus(const StatusCounts& counts)
{
    std::string line = counts.connected ? "Connected to " : "Not connected to ";
    line += counts.backend.empty() ? "XenStore" : counts.backend;
    line += "; " + count(counts.watches, "watch", "watches") + ", " +
            count(counts.subscriptions, "subscription", "subscriptions") + ", " +
            count(counts.transactions, "transaction", "transactions");
    if (!counts.note.empty())
        line += "; " + counts.note;
    return line;
}

}  // namespace xsd
