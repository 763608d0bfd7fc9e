// Fuzzes the checks every caller-supplied string passes before it reaches
// xenstored (protocol/validate.h). The input is read several ways — as a
// path, a watch path, one permission, permission lists split on a byte, a
// domid, a payload size — and each verdict is compared with the rule written
// out independently here, in both directions: a check that lets through what
// the rule forbids would have xenstored refuse the request or drop the
// connection; one that refuses what the rule allows locks callers out.
// Whatever a check says on refusal must be fit for a D-Bus error message:
// short, and a string D-Bus carries whenever the input was. And the text
// predicate that decides between a D-Bus string and bytes must be exactly
// what sd-bus carries.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dbus/text.h"
#include "fuzz/check.h"
#include "protocol/codec.h"
#include "protocol/validate.h"
#include "protocol/wire.h"

namespace {

using xs::Violation;

// Only input that could come as a D-Bus string is owed a message that
// could go back as one.
bool dbusString(std::string_view s)
{
    return xsfuzz::sdBusString(s);
}

// `fromDbus`: every string the check was given could have come over D-Bus.
void checkMessage(const Violation& v, bool fromDbus)
{
    FUZZ_CHECK(v.has_value());
    FUZZ_CHECK(!v->empty());
    FUZZ_CHECK_MSG(v->size() <= 512, *v);
    if (fromDbus)
        FUZZ_CHECK_MSG(dbusString(*v), *v);
}

bool pathChar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '/' || c == '_' || c == '@';
}

// XenStore's rules for a node path (docs/misc/xenstore.txt).
bool goodNodePath(std::string_view p)
{
    if (p.empty())
        return false;
    const bool absolute = p.front() == '/';
    if (p.size() > (absolute ? 3072u : 2048u))
        return false;
    for (char c : p)
        if (!pathChar(c))
            return false;
    if (p.find("//") != std::string_view::npos)
        return false;
    return p == "/" || p.back() != '/';
}

void pathRules(std::string_view in)
{
    FUZZ_CHECK(xs::pathKind(in) == (!in.empty() && in.front() == '/'   ? xs::PathKind::Absolute
                                    : !in.empty() && in.front() == '@' ? xs::PathKind::Special
                                                                       : xs::PathKind::Relative));

    const Violation v = xs::checkPath(in);
    const bool want = goodNodePath(in) && in.front() != '@';
    FUZZ_CHECK_MSG(!v == want, v ? *v : std::string(in));
    if (v) {
        checkMessage(v, dbusString(in));
    } else {
        // Spelled out, as the caller is promised.
        FUZZ_CHECK(!in.empty() && in.size() <= xs::AbsPathMax);
        FUZZ_CHECK(in.front() == '/' || in.size() <= xs::RelPathMax);
        FUZZ_CHECK(in.front() != '@');
        for (char c : in)
            FUZZ_CHECK(pathChar(c));
        FUZZ_CHECK(in.find("//") == std::string_view::npos);
        FUZZ_CHECK(in == "/" || in.back() != '/');
        // A READ of it (the path, NUL-terminated) fits one request.
        std::string payload(in);
        payload.push_back('\0');
        FUZZ_CHECK(!xs::checkPayloadSize(payload.size()));
        FUZZ_CHECK(xs::encodeRequest(xs::MessageType::Read, 1, 0, payload).has_value());
    }

    const Violation w = xs::checkWatchPath(in);
    const bool special = in == xs::IntroduceDomain || in == xs::ReleaseDomain;
    FUZZ_CHECK_MSG(!w == (special || want), w ? *w : std::string(in));
    if (w)
        checkMessage(w, dbusString(in));
}

bool goodPermission(std::string_view p)
{
    if (p.size() < 2)
        return false;
    if (p[0] != 'n' && p[0] != 'r' && p[0] != 'w' && p[0] != 'b')
        return false;
    uint32_t domid = 0;
    for (char c : p.substr(1)) {
        if (c < '0' || c > '9')
            return false;
        domid = domid * 10 + static_cast<uint32_t>(c - '0');
        if (domid > 65535)
            return false;
    }
    return true;
}

void permissionRules(std::string_view in)
{
    const Violation v = xs::checkPermission(in);
    FUZZ_CHECK_MSG(!v == goodPermission(in), v ? *v : std::string(in));
    if (v)
        checkMessage(v, dbusString(in));
}

std::vector<std::string> split(std::string_view s, char sep)
{
    std::vector<std::string> out;
    if (s.empty())
        return out;
    for (;;) {
        auto at = s.find(sep);
        out.emplace_back(s.substr(0, at));
        if (at == std::string_view::npos)
            return out;
        s.remove_prefix(at + 1);
    }
}

void permissionListRules(const std::vector<std::string>& perms, std::string_view in)
{
    bool want = !perms.empty(), fromDbus = true;
    for (auto& p : perms) {
        want = want && goodPermission(p);
        fromDbus = fromDbus && dbusString(p);
    }
    const Violation v = xs::checkPermissions(perms);
    FUZZ_CHECK_MSG(!v == want, v ? *v : std::string(in));
    if (v)
        checkMessage(v, fromDbus);
}

// Leading decimal digits, saturating.
uint64_t leadingNumber(std::string_view s)
{
    uint64_t n = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            break;
        const uint64_t d = static_cast<uint64_t>(c - '0');
        n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
    }
    return n;
}

void domidRules(std::string_view in)
{
    std::vector<uint64_t> ids{leadingNumber(in)};
    uint64_t raw = 0;
    for (size_t i = 0; i < in.size() && i < 8; ++i)
        raw |= static_cast<uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
    ids.push_back(raw);
    ids.push_back(raw & 0x1ffff);  // mostly near the bound
    for (uint64_t id : ids) {
        const Violation v = xs::checkDomid(id);
        FUZZ_CHECK(!v == (id <= 65535));
        if (v)
            checkMessage(v, true);
    }
    // A domid in a permission follows the same bound.
    if (!in.empty() && in.find_first_not_of("0123456789") == std::string_view::npos)
        FUZZ_CHECK(!xs::checkPermission("b" + std::string(in)) ==
                   !xs::checkDomid(leadingNumber(in)));
}

void payloadSizeRules(std::string_view in)
{
    std::vector<size_t> sizes{in.size(), in.size() + 4000, SIZE_MAX - in.size()};
    if (in.size() >= 2)
        sizes.push_back(3996 + (static_cast<unsigned char>(in[0]) |
                                static_cast<size_t>(static_cast<unsigned char>(in[1])) << 8) % 200);
    for (size_t n : sizes) {
        const Violation v = xs::checkPayloadSize(n);
        FUZZ_CHECK(!v == (n <= xs::PayloadMax));
        if (v)
            checkMessage(v, true);
    }
}

// The NUL-separated payload format: splitting then joining gives back the
// payload, NUL-terminated.
void fieldRules(std::string_view in)
{
    const auto fields = xs::splitFields(in);
    size_t nuls = 0;
    for (char c : in)
        nuls += c == '\0';
    const bool open = !in.empty() && in.back() != '\0';
    FUZZ_CHECK(fields.size() == nuls + (open ? 1 : 0));
    for (auto& f : fields)
        FUZZ_CHECK(f.find('\0') == std::string::npos);
    std::string want(in);
    if (open)
        want.push_back('\0');
    FUZZ_CHECK(xs::joinFields(fields) == want);
}

// Text (dbus/text.h) is what sd-bus carries; escaping makes any bytes text
// and leaves text as it was.
void textRules(std::string_view in)
{
    const bool text = xsd::isText(in);
    FUZZ_CHECK_MSG(text == xsfuzz::sdBusString(in), std::string(in));
    const std::string escaped = xsd::textOrEscaped(in);
    FUZZ_CHECK_MSG(xsfuzz::sdBusString(escaped), escaped);
    FUZZ_CHECK(text == (escaped == in));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string_view in(reinterpret_cast<const char*>(data), size);

    pathRules(in);
    permissionRules(in);
    // Lists as the wire carries them (NUL-separated), as a person writes
    // them (commas), and split on the input's first byte.
    permissionListRules(split(in, '\0'), in);
    permissionListRules(split(in, ','), in);
    if (!in.empty())
        permissionListRules(split(in.substr(1), in.front()), in);
    domidRules(in);
    payloadSizeRules(in);
    fieldRules(in);
    textRules(in);
    return 0;
}
