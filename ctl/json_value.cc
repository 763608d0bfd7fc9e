#include "ctl/json_value.h"

#include "ctl/output.h"
#include "dbus/text.h"

namespace xsd::ctl {

Json valueJson(std::string_view bytes)
{
    // The daemon's own test and encoding, so --json and Snapshot agree.
    if (xsd::isText(bytes))
        return std::string(bytes);
    return Json{{"base64", xsd::base64(bytes)}};
}

std::optional<std::string> valueBytes(const Json& value)
{
    if (value.is_string())
        return value.get<std::string>();
    if (value.is_object() && value.size() == 1 && value.contains("base64") && value["base64"].is_string())
        return xsd::fromBase64(value["base64"].get<std::string>());
    return std::nullopt;
}

void printJson(const Json& json)
{
    print(json.dump(2) + "\n");
}

}  // namespace xsd::ctl
