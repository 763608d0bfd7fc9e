// The XenStore wire format: what xenstored and its clients exchange, as Xen's
// xs_wire.h and docs/misc/xenstore.txt define it. Pure data, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace xs {

enum class MessageType : uint32_t {
    Control = 0,  // was DEBUG
    Directory = 1,
    Read = 2,
    GetPerms = 3,
    Watch = 4,
    Unwatch = 5,
    TransactionStart = 6,
    TransactionEnd = 7,
    Introduce = 8,
    Release = 9,
    GetDomainPath = 10,
    Write = 11,
    Mkdir = 12,
    Rm = 13,
    SetPerms = 14,
    WatchEvent = 15,
    Error = 16,
    IsDomainIntroduced = 17,
    Resume = 18,
    SetTarget = 19,
    Restrict = 20,  // removed from Xen; the number stays reserved
    ResetWatches = 21,
    DirectoryPart = 22,
    GetFeature = 23,
    SetFeature = 24,
    GetQuota = 25,
    SetQuota = 26,
    Invalid = 0xffff,
};

// XenStore's own name for a type ("READ", "WATCH_EVENT", …).
std::string_view messageTypeName(MessageType type);
// The type for a number received on the wire, if it is one xs_wire.h names.
std::optional<MessageType> messageTypeFromWire(uint32_t value);

// Sizes fixed by xs_wire.h. What a client *sends* must fit PayloadMax:
// xenstored drops a connection that sends more.
inline constexpr size_t HeaderSize = 16;
inline constexpr size_t PayloadMax = 4096;
inline constexpr size_t AbsPathMax = 3072;
inline constexpr size_t RelPathMax = 2048;
// What xenstored *replies* can be larger (oxenstored sends a whole DIRECTORY
// in one reply); anything above this bound is treated as a corrupt stream.
inline constexpr size_t ReplyPayloadMax = 1u << 20;

struct Header {
    MessageType type = MessageType::Invalid;
    uint32_t reqId = 0;
    uint32_t txId = 0;
    uint32_t len = 0;
};

struct Message {
    Header header;
    std::string payload;
};

// The errno names XenStore puts in ERROR replies (EQUOTA is oxenstored's).
inline constexpr std::string_view ErrnoNames[] = {
    "EINVAL", "EACCES", "EEXIST",    "EISDIR", "ENOENT", "ENOMEM",
    "ENOSPC", "EIO",    "ENOTEMPTY", "ENOSYS", "EROFS",  "EBUSY",
    "EAGAIN", "EISCONN", "E2BIG",    "EPERM",  "EQUOTA",
};
bool isXenStoreErrno(std::string_view name);

// The special watch paths xenstored fires on domain creation/destruction.
inline constexpr std::string_view IntroduceDomain = "@introduceDomain";
inline constexpr std::string_view ReleaseDomain = "@releaseDomain";

}  // namespace xs

namespace xs {
// A short description of an errno name for messages ("no such node").
std::string_view errnoDescription(std::string_view name);
}  // namespace xs
