// A XenStore value in --json output, as the daemon's Snapshot gives it: a
// JSON string when the bytes are UTF-8 text, else {"base64": "..."}. One
// rule for every verb, so a script decodes all of them the same way.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace xsd::ctl {

using Json = nlohmann::ordered_json;

Json valueJson(std::string_view bytes);
// The bytes a value in that form stands for (a Snapshot's values too);
// nullopt when it is in neither form.
std::optional<std::string> valueBytes(const Json& value);

// Pretty-printed (two-space indent) and newline-terminated, on stdout.
void printJson(const Json& json);

}  // namespace xsd::ctl
