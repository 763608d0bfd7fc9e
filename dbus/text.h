// Text: what may travel as a D-Bus string. XenStore values are bytes, so
// every place that turns bytes into a D-Bus string (Read, Snapshot's JSON,
// answers, error messages, events) decides with this one predicate, and
// encodes what fails it another way (ReadBytes, {"base64": …}, escapes).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace xsd {

// Valid UTF-8 (shortest forms, no surrogates, nothing past U+10FFFF), no
// NUL, and no Unicode noncharacter (U+FDD0..U+FDEF, and U+xFFFE/U+xFFFF of
// every plane): sd-bus refuses those in a string although they are valid
// UTF-8, and a reply that holds one cannot be sent at all.
bool isText(std::string_view bytes);

// `bytes` itself when it is text, else a copy in which every byte of a
// sequence that is not text is written \xNN: for messages and log lines
// that quote what a caller or xenstored sent.
std::string textOrEscaped(std::string_view bytes);

std::string base64(std::string_view bytes);
// The bytes base64() wrote; nullopt for anything it would not have written.
std::optional<std::string> fromBase64(std::string_view text);

}  // namespace xsd
