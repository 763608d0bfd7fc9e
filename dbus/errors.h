// The error names of the D-Bus contract (API.md, "Errors") and the mapping
// from what xenstored answered to them.
#pragma once

#include <string>
#include <string_view>

#include <sdbus-c++/Error.h>

#include "protocol/result.h"

namespace xsd::errors {

inline constexpr std::string_view Prefix = "org.xenproject.XenStore1.Error.";

// The daemon's own errors.
inline constexpr std::string_view NotConnected = "NotConnected";
inline constexpr std::string_view AccessDenied = "AccessDenied";
inline constexpr std::string_view LimitExceeded = "LimitExceeded";
inline constexpr std::string_view NotText = "NotText";
inline constexpr std::string_view UnknownTransaction = "UnknownTransaction";
inline constexpr std::string_view InvalidArgument = "InvalidArgument";
inline constexpr std::string_view Failed = "Failed";

// org.xenproject.XenStore1.Error.<name>; what in `message` is not text is
// escaped (\xNN), so the error can always be sent.
sdbus::Error make(std::string_view name, const std::string& message);

// The D-Bus error name (without prefix) for a XenStore errno name.
std::string_view nameForErrno(std::string_view errnoName);

// A failed XenStore request as the D-Bus error a caller of `what` ("Read
// /a/b") gets: "Read /a/b: no such node (ENOENT)".
sdbus::Error fromXenStore(const xs::Error& error, const std::string& what);

}  // namespace xsd::errors
