#include "protocol/validate.h"

#include <cstdio>

#include "protocol/wire.h"

namespace xs {

namespace {

bool allowedPathChar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '/' || c == '_' || c == '@';
}

std::string describeByte(char c)
{
    char buf[32];
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x21 && u < 0x7f)
        std::snprintf(buf, sizeof buf, "'%c'", c);
    else
        std::snprintf(buf, sizeof buf, "byte 0x%02x", u);
    return buf;
}

// At most `max` bytes of what a caller sent, for quoting in a message; cut
// before a UTF-8 sequence, not inside it: D-Bus carries the message, and
// sd-bus refuses a string that is not valid UTF-8 (found by fuzz_validators).
std::string excerpt(std::string_view s, size_t max)
{
    if (s.size() <= max)
        return std::string(s);
    size_t cut = max;
    for (int i = 0; i < 3 && cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80; ++i)
        --cut;
    return std::string(s.substr(0, cut));
}

Violation checkNodePath(std::string_view path)
{
    if (path.empty())
        return "path is empty";
    const bool absolute = path.front() == '/';
    const size_t max = absolute ? AbsPathMax : RelPathMax;
    if (path.size() > max)
        return std::string(absolute ? "absolute" : "relative") + " path is " +
               std::to_string(path.size()) + " bytes long; XenStore allows at most " +
               std::to_string(max);
    for (size_t i = 0; i < path.size(); ++i) {
        if (!allowedPathChar(path[i]))
            return "path contains " + describeByte(path[i]) + " at offset " + std::to_string(i) +
                   "; only A-Z a-z 0-9 - / _ @ are allowed";
    }
    if (path.find("//") != std::string_view::npos)
        return "path contains '//'";
    if (path.size() > 1 && path.back() == '/')
        return "path ends with '/'";
    return std::nullopt;
}

}  // namespace

PathKind pathKind(std::string_view path)
{
    if (!path.empty() && path.front() == '/')
        return PathKind::Absolute;
    if (!path.empty() && path.front() == '@')
        return PathKind::Special;
    return PathKind::Relative;
}

Violation checkPath(std::string_view path)
{
    if (pathKind(path) == PathKind::Special)
        return "path '" + excerpt(path, 64) +
               "' starts with '@', which only the special watch paths @introduceDomain and "
               "@releaseDomain may, and only in Watch/Unwatch";
    return checkNodePath(path);
}

Violation checkWatchPath(std::string_view path)
{
    if (pathKind(path) == PathKind::Special) {
        if (path == IntroduceDomain || path == ReleaseDomain)
            return std::nullopt;
        return "'" + excerpt(path, 64) +
               "' is not a special watch path; XenStore has only @introduceDomain and "
               "@releaseDomain";
    }
    return checkNodePath(path);
}

Violation checkDomid(uint64_t domid)
{
    if (domid > 65535)
        return "domid " + std::to_string(domid) + " is out of range 0..65535";
    return std::nullopt;
}

Violation checkPermission(std::string_view perm)
{
    if (perm.empty())
        return "permission entry is empty; expected n, r, w or b followed by a domid";
    const char kind = perm.front();
    if (kind != 'n' && kind != 'r' && kind != 'w' && kind != 'b')
        return "permission '" + excerpt(perm, 32) +
               "' does not start with n, r, w or b";
    auto digits = perm.substr(1);
    if (digits.empty())
        return "permission '" + std::string(perm) + "' names no domid";
    uint64_t domid = 0;
    for (char c : digits) {
        if (c < '0' || c > '9')
            return "permission '" + excerpt(perm, 32) +
                   "' has a domid that is not a decimal number";
        domid = domid * 10 + static_cast<uint64_t>(c - '0');
        if (domid > 65535)
            return "permission '" + excerpt(perm, 32) +
                   "' has a domid out of range 0..65535";
    }
    return std::nullopt;
}

Violation checkPermissions(const std::vector<std::string>& perms)
{
    if (perms.empty())
        return "permission list is empty; it needs at least the owner entry, e.g. n0";
    for (size_t i = 0; i < perms.size(); ++i) {
        if (auto v = checkPermission(perms[i]))
            return "entry " + std::to_string(i) + ": " + *v;
    }
    return std::nullopt;
}

Violation checkPayloadSize(size_t payloadBytes)
{
    if (payloadBytes > PayloadMax)
        return "request payload would be " + std::to_string(payloadBytes) +
               " bytes; XenStore accepts at most " + std::to_string(PayloadMax) +
               " (path, value and separators together)";
    return std::nullopt;
}

}  // namespace xs
