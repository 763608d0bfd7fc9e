// What may travel as a D-Bus string: valid UTF-8 without NUL bytes. XenStore
// values are bytes, so Read, Snapshot and events check before sending.
#pragma once

#include <string>
#include <string_view>

namespace xsd {

bool isText(std::string_view bytes);
std::string base64(std::string_view bytes);

}  // namespace xsd
