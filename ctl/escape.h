// XenStore values are bytes; xenstore-read prints them escaped so that one
// value is one line of printable ASCII, and xenstore-write reads the same
// escapes back. xenstorectl prints and reads values the same way, so that
// its output diffs clean against xenstore-utils'.
#pragma once

#include <string>
#include <string_view>

namespace xsd::ctl {

// As xenstore-read prints a value: ' '..'~' as they are except '\', which
// becomes "\\"; tab, newline and carriage return as \t \n \r; bytes below
// 010 as three octal digits (\001); every other byte as \xNN (\x7f, \xc3).
std::string escapeValue(std::string_view bytes);

// As xenstore-write reads a value: the escapes above, plus \NNN octal (one to
// three digits) and \xN. xenstore-write parses \x with sscanf("%2x"), so
// blanks after the x are skipped and a sign is taken ("\x-1" is 0xff); a
// backslash before any other character is dropped; and a lone backslash at
// the very end stands for a NUL byte. Those quirks are kept so that a value
// written by either tool is the same bytes.
std::string unescapeValue(std::string_view text);

}  // namespace xsd::ctl
