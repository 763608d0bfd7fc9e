// A XenStore value in --json output, as the daemon's Snapshot gives it: a
// JSON string when the bytes are UTF-8 text, else {"base64": "..."}. One
// rule for every verb, so a script decodes all of them the same way.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

namespace xsd::ctl {

using Json = nlohmann::ordered_json;

Json valueJson(std::string_view bytes);

// Pretty-printed (two-space indent) and newline-terminated, on stdout.
void printJson(const Json& json);

}  // namespace xsd::ctl
