// What may be sent to xenstored, checked before it is sent. Each check
// returns the rule that was broken, in words a caller can act on, or nothing
// when the input is fine. xenstored kills a connection that sends an
// oversized payload, so nothing reaches the wire without passing here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xs {

using Violation = std::optional<std::string>;

enum class PathKind { Absolute, Relative, Special };
PathKind pathKind(std::string_view path);

// A node path for data operations: absolute or relative, never special.
Violation checkPath(std::string_view path);
// A watch path: a node path or one of @introduceDomain / @releaseDomain.
Violation checkWatchPath(std::string_view path);
// One permission entry: n/r/w/b followed by a domid, e.g. "r5".
Violation checkPermission(std::string_view perm);
// A SET_PERMS list: at least the owner entry, each entry valid.
Violation checkPermissions(const std::vector<std::string>& perms);
Violation checkDomid(uint64_t domid);
// The whole request payload a message would carry.
Violation checkPayloadSize(size_t payloadBytes);

}  // namespace xs
