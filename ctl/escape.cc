#include "ctl/escape.h"

#include <cstdio>
#include <cstring>
#include <optional>

namespace xsd::ctl {

std::string escapeValue(std::string_view bytes)
{
    std::string out;
    out.reserve(bytes.size());
    for (char ch : bytes) {
        auto c = static_cast<unsigned char>(ch);
        if (c >= ' ' && c <= '~' && c != '\\') {
            out += ch;
            continue;
        }
        switch (c) {
        case '\t': out += "\\t"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\\': out += "\\\\"; break;
        default: {
            char buf[8];
            // xenstore-read's split: octal below 010, hex from there on.
            std::snprintf(buf, sizeof buf, c < 010 ? "\\%03o" : "\\x%02x", c);
            out += buf;
        }
        }
    }
    return out;
}

namespace {

int digitValue(char c, int base)
{
    int v = -1;
    if (c >= '0' && c <= '9')
        v = c - '0';
    else if (c >= 'a' && c <= 'f')
        v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        v = c - 'A' + 10;
    return v < base ? v : -1;
}

// Up to `width` digits of `base` from text[i]; advances i past them.
// Returns -1 (and leaves i) when there is none.
int number(std::string_view text, size_t& i, int base, int width)
{
    int value = 0, n = 0;
    while (n < width && i < text.size()) {
        int d = digitValue(text[i], base);
        if (d < 0)
            break;
        value = value * base + d;
        ++i, ++n;
    }
    return n ? value : -1;
}

// What sscanf(text + i, "%2x") reads, as xenstore-write uses it after "\x":
// leading blanks (not counted in the width), an optional sign, then hex
// digits, where "0x" is taken as a prefix. Advances i past what it read;
// nothing when it read no digit (then nothing is consumed).
std::optional<char> scanHexByte(std::string_view text, size_t& i)
{
    size_t j = i;
    while (j < text.size() && std::strchr(" \t\n\v\f\r", text[j]) && text[j] != '\0')
        ++j;
    int width = 2;
    bool negative = false;
    if (j < text.size() && (text[j] == '+' || text[j] == '-')) {
        negative = text[j] == '-';
        ++j, --width;
    }
    if (width == 2 && j + 1 < text.size() && text[j] == '0' && (text[j + 1] == 'x' || text[j + 1] == 'X')) {
        i = j + 2;
        return '\0';
    }
    int value = number(text, j, 16, width);
    if (value < 0)
        return std::nullopt;
    i = j;
    return static_cast<char>(negative ? -value : value);
}

}  // namespace

std::string unescapeValue(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
        char c = text[i++];
        if (c != '\\') {
            out += c;
            continue;
        }
        if (i == text.size()) {
            out += '\0';
            break;
        }
        char e = text[i++];
        switch (e) {
        case 't': out += '\t'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case '\\': out += '\\'; break;
        case 'x': {
            auto v = scanHexByte(text, i);
            out += v ? *v : 'x';
            break;
        }
        case '0': case '1': case '2': case '3':
        case '4': case '5': case '6': case '7': {
            --i;
            // Three octal digits may exceed a byte (\777); like
            // xenstore-write, keep the low eight bits.
            out += static_cast<char>(number(text, i, 8, 3) & 0xff);
            break;
        }
        default: out += e;
        }
    }
    return out;
}

}  // namespace xsd::ctl
