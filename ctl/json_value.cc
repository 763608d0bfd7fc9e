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

void printJson(const Json& json)
{
    print(json.dump(2) + "\n");
}

}  // namespace xsd::ctl
