// Invariant checks for the fuzz targets. A violated invariant prints what
// was expected and abort()s: libFuzzer reports that as a crash and saves the
// input, exactly as for a sanitizer finding.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace xsfuzz {

// Bytes as a C string literal would show them, cut short: inputs can be
// kilobytes of binary.
inline std::string printable(std::string_view s, size_t max = 200)
{
    std::string out;
    for (size_t i = 0; i < s.size() && i < max; ++i) {
        auto u = static_cast<unsigned char>(s[i]);
        if (u >= 0x20 && u < 0x7f && u != '\\' && u != '"') {
            out.push_back(static_cast<char>(u));
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", u);
            out += buf;
        }
    }
    if (s.size() > max)
        out += "... (" + std::to_string(s.size()) + " bytes)";
    return out;
}

[[noreturn]] inline void violated(const char* file, int line, const char* cond,
                                  std::string_view detail)
{
    std::fprintf(stderr, "%s:%d: invariant violated: %s\n", file, line, cond);
    if (!detail.empty())
        std::fprintf(stderr, "  %s\n", printable(detail, 400).c_str());
    std::abort();
}

// Well-formed UTF-8 (RFC 3629: shortest form, no surrogates, at most
// U+10FFFF), which D-Bus requires of every string it carries.
inline bool validUtf8(std::string_view s)
{
    size_t i = 0;
    while (i < s.size()) {
        auto b = static_cast<unsigned char>(s[i]);
        size_t n;
        uint32_t cp;
        if (b < 0x80) {
            ++i;
            continue;
        } else if ((b & 0xe0) == 0xc0) {
            n = 1;
            cp = b & 0x1f;
        } else if ((b & 0xf0) == 0xe0) {
            n = 2;
            cp = b & 0x0f;
        } else if ((b & 0xf8) == 0xf0) {
            n = 3;
            cp = b & 0x07;
        } else {
            return false;
        }
        if (s.size() - i <= n)
            return false;
        for (size_t k = 1; k <= n; ++k) {
            auto c = static_cast<unsigned char>(s[i + k]);
            if ((c & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (c & 0x3f);
        }
        static constexpr uint32_t minForLength[] = {0, 0x80, 0x800, 0x10000};
        if (cp < minForLength[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

// What sd-bus carries in a string: well-formed UTF-8 without NUL and
// without Unicode noncharacters (U+FDD0..U+FDEF, and the last two code
// points of every plane), which sd-bus refuses although they are UTF-8.
inline bool sdBusString(std::string_view s)
{
    if (s.find('\0') != std::string_view::npos || !validUtf8(s))
        return false;
    for (size_t i = 0; i < s.size();) {
        auto b = static_cast<unsigned char>(s[i]);
        const size_t n = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
        uint32_t cp = n == 1 ? b : b & (0x7f >> n);
        for (size_t k = 1; k < n; ++k)
            cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
        if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xffff) >= 0xfffe)
            return false;
        i += n;
    }
    return true;
}

}  // namespace xsfuzz

#define FUZZ_CHECK(cond) FUZZ_CHECK_MSG(cond, std::string_view())
#define FUZZ_CHECK_MSG(cond, detail)                                   \
    do {                                                               \
        if (!(cond))                                                   \
            ::xsfuzz::violated(__FILE__, __LINE__, #cond, (detail));   \
    } while (0)
