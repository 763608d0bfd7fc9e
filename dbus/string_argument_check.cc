#include "dbus/string_argument_check.h"

#include <cerrno>
#include <cstring>

#include "dbus/errors.h"

namespace xsd {

StringArgumentCheck::StringArgumentCheck(sd_bus* bus, std::string interfacePrefix)
    : prefix_(std::move(interfacePrefix))
{
    if (bus)
        sd_bus_add_filter(bus, &slot_, &StringArgumentCheck::onMessage, this);
}

StringArgumentCheck::~StringArgumentCheck()
{
    sd_bus_slot_unref(slot_);
}

int StringArgumentCheck::onMessage(sd_bus_message* m, void* data, sd_bus_error*)
{
    auto* self = static_cast<StringArgumentCheck*>(data);
    uint8_t type = 0;
    if (sd_bus_message_get_type(m, &type) < 0 || type != SD_BUS_MESSAGE_METHOD_CALL)
        return 0;
    const char* interface = sd_bus_message_get_interface(m);
    if (!interface || std::strncmp(interface, self->prefix_.c_str(), self->prefix_.size()) != 0)
        return 0;
    // Reading an argument is what validates its strings; skip them one by
    // one (a null type: one whole argument) to tell which one sd-bus
    // refuses. Past the last one, sd-bus says ENXIO.
    unsigned argument = 0;
    int r;
    while ((r = sd_bus_message_skip(m, nullptr)) > 0)
        ++argument;
    sd_bus_message_rewind(m, true);
    if (r != -EBADMSG)
        return 0;  // readable, or wrong for another reason sdbus-c++ will name
    // "Write /a/b": the first argument, when it is a path sd-bus could read.
    std::string what = sd_bus_message_get_member(m) ? sd_bus_message_get_member(m) : "the call";
    const char* path = nullptr;
    if (argument > 0 && sd_bus_message_read_basic(m, SD_BUS_TYPE_STRING, &path) > 0 && path)
        what = what + " " + path;
    sd_bus_message_rewind(m, true);
    const std::string name = std::string(errors::Prefix) + std::string(errors::NotText);
    sd_bus_reply_method_errorf(
        m, name.c_str(),
        "%s: argument %u is a string sd-bus will not carry (it holds a Unicode noncharacter, "
        "such as U+FFFE or U+FDD0, or is not UTF-8); XenStore paths are ASCII, and a value of "
        "any bytes goes with the ...Bytes methods (WriteBytes)",
        what.c_str(), argument + 1);
    return 1;  // answered: nothing else handles it
}

}  // namespace xsd
