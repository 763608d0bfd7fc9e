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
    return std::ranges::find(ErrnoNames, name) != std::end(ErrnoNames);
}

}  // namespace xs

namespace xs {

std::string_view errnoDescription(std::string_view name)
{
    struct Entry { std::string_view name, text; };
    static constexpr Entry table[] = {
        {"EINVAL", "invalid argument"},
        {"EACCES", "permission denied by XenStore"},
        {"EEXIST", "node exists"},
        {"EISDIR", "is a directory"},
        {"ENOENT", "no such node"},
        {"ENOMEM", "xenstored is out of memory"},
        {"ENOSPC", "xenstored is out of space: the domain's quota of nodes is used up"},
        {"EIO", "I/O error"},
        {"ENOTEMPTY", "node has children"},
        {"ENOSYS", "not supported by this xenstored"},
        {"EROFS", "XenStore is read-only"},
        {"EBUSY", "xenstored is busy"},
        {"EAGAIN", "transaction conflict, try again"},
        {"EISCONN", "already connected"},
        {"E2BIG", "too big for xenstored: a value over its size quota (quota-maxsize, 2048 bytes by "
                  "default) or a path over its length limit"},
        {"EPERM", "operation not permitted"},
        {"EQUOTA", "a xenstored quota is reached: the domain's nodes, watches, transactions or "
                   "outstanding requests"},
    };
    for (const auto& e : table)
        if (e.name == name)
            return e.text;
    return "unknown error";
}

}  // namespace xs
