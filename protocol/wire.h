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
// What xenstored *replies* can be larger: oxenstored sends a whole DIRECTORY
// in one reply, 2 MB for a guest's 1000 entries of 2 KB names (its quotas
// allow that), 17 MB seen for a node dom0 filled. Anything above this bound
// is treated as a corrupt stream and the connection is made again, so it
// sits well above what a guest can cause and what one D-Bus answer can
// carry (16 MiB).
inline constexpr size_t ReplyPayloadMax = 32u << 20;

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

// The errno names XenStore puts in ERROR replies (EQUOTA is oxenstored's),
// each with the description errnoDescription gives.
struct ErrnoEntry {
    std::string_view name, description;
};
inline constexpr ErrnoEntry XenStoreErrnos[] = {
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
bool isXenStoreErrno(std::string_view name);
// A short description of an errno name for messages ("no such node").
std::string_view errnoDescription(std::string_view name);
// The same, for the answer to a `request` of that type (in a transaction
// or not): where one errno stands for several things — EQUOTA, for one of
// the domain's quotas — it names the one that request can reach.
std::string_view errorDescription(MessageType request, bool inTransaction, std::string_view name);

// The special watch paths xenstored fires on domain creation/destruction.
inline constexpr std::string_view IntroduceDomain = "@introduceDomain";
inline constexpr std::string_view ReleaseDomain = "@releaseDomain";

}  // namespace xs
