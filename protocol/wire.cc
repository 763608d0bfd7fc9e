#include "protocol/wire.h"

#include <algorithm>
#include <array>

namespace xs {

namespace {
constexpr std::array<std::string_view, 27> TypeNames = {
    "CONTROL",   "DIRECTORY",       "READ",       "GET_PERMS",
    "WATCH",     "UNWATCH",         "TRANSACTION_START", "TRANSACTION_END",
    "INTRODUCE", "RELEASE",         "GET_DOMAIN_PATH",   "WRITE",
    "MKDIR",     "RM",              "SET_PERMS",  "WATCH_EVENT",
    "ERROR",     "IS_DOMAIN_INTRODUCED", "RESUME", "SET_TARGET",
    "RESTRICT",  "RESET_WATCHES",   "DIRECTORY_PART", "GET_FEATURE",
    "SET_FEATURE", "GET_QUOTA",     "SET_QUOTA",
};
}  // namespace

std::string_view messageTypeName(MessageType type)
{
    auto n = static_cast<uint32_t>(type);
    if (n < TypeNames.size())
        return TypeNames[n];
    return "INVALID";
}

std::optional<MessageType> messageTypeFromWire(uint32_t value)
{
    if (value < TypeNames.size())
        return static_cast<MessageType>(value);
    return std::nullopt;
}

bool isXenStoreErrno(std::string_view name)
{
    return std::ranges::find(XenStoreErrnos, name, &ErrnoEntry::name) != std::end(XenStoreErrnos);
}

std::string_view errnoDescription(std::string_view name)
{
    auto it = std::ranges::find(XenStoreErrnos, name, &ErrnoEntry::name);
    return it != std::end(XenStoreErrnos) ? it->description : "unknown error";
}

std::string_view errorDescription(MessageType request, bool inTransaction, std::string_view name)
{
    if (name != "EQUOTA")
        return errnoDescription(name);
    // oxenstored's names for the quotas (oxenstored.conf), so that the
    // message says what an administrator would raise.
    switch (request) {
    case MessageType::Watch:
        return "the domain's quota of watches is reached (oxenstored's quota-maxwatch)";
    case MessageType::TransactionStart:
        return "the domain's quota of open transactions is reached (oxenstored's "
               "quota-transaction)";
    case MessageType::Write:
    case MessageType::Mkdir:
    case MessageType::SetPerms:
        if (inTransaction)
            return "the domain's quota of nodes (quota-maxentity) or of requests in one "
                   "transaction (quota-maxrequests) is reached";
        return "the domain's quota of nodes is reached (oxenstored's quota-maxentity)";
    default:
        return errnoDescription(name);
    }
}

}  // namespace xs
