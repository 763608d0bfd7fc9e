#include "dbus/errors.h"

#include "dbus/text.h"

namespace xsd::errors {

sdbus::Error make(std::string_view name, const std::string& message)
{
    // Messages quote paths, tokens and values that callers and xenstored
    // sent; an error that sd-bus cannot carry would leave the caller with
    // no answer at all.
    return sdbus::Error(std::string(Prefix) + std::string(name), textOrEscaped(message));
}

std::string_view nameForErrno(std::string_view e)
{
    struct Entry { std::string_view errnoName, dbusName; };
    static constexpr Entry table[] = {
        {"ENOENT", "NoEntry"},       {"EACCES", "PermissionDenied"},
        {"EINVAL", "InvalidArgument"}, {"EEXIST", "Exists"},
        {"EISDIR", "IsDirectory"},   {"ENOTEMPTY", "NotEmpty"},
        {"ENOSPC", "Quota"},         {"EQUOTA", "Quota"},
        {"E2BIG", "TooBig"},         {"EAGAIN", "Again"},
        {"EBUSY", "Busy"},           {"EROFS", "ReadOnly"},
        {"ENOSYS", "NotSupported"},  {"EIO", "IOError"},
        {"ENOMEM", "NoMemory"},      {"EPERM", "NotPermitted"},
        {"EISCONN", "IsConnected"},
    };
    for (const auto& entry : table)
        if (entry.errnoName == e)
            return entry.dbusName;
    return Failed;
}

sdbus::Error fromXenStore(const xs::Error& error, const std::string& what)
{
    const std::string& reason = error.reason.empty() ? error.message : error.reason;
    switch (error.kind) {
    case xs::Error::Kind::Connection:
        return make(NotConnected, what + ": xenstored is not reachable (" + reason + ")");
    case xs::Error::Kind::Invalid:
        return make(InvalidArgument, what + ": " + reason);
    case xs::Error::Kind::XenStore:
        break;
    }
    return make(nameForErrno(error.errnoName), what + ": " + reason + " (" + error.errnoName + ")");
}

}  // namespace xsd::errors
