// Calls whose string arguments sd-bus will not read, answered with a word of
// what to do.
//
// A client may send a string that is valid UTF-8 but holds a Unicode
// noncharacter (U+FFFE, U+FDD0, …): GLib and dbus-daemon let it through,
// sd-bus refuses to read it, and sdbus-c++ would answer the call with
// org.freedesktop.DBus.Error.InconsistentMessage "Failed to deserialize a
// string value" before the daemon sees it. This check runs first (an sd-bus
// filter), finds such an argument, and answers Error.NotText naming it and
// saying that bytes go with the …Bytes methods. Calls that sd-bus can read
// pass on untouched.
#pragma once

#include <systemd/sd-bus.h>

#include <string>

namespace xsd {

class StringArgumentCheck {
public:
    // Checks the method calls to every interface whose name starts with
    // `interfacePrefix`.
    StringArgumentCheck(sd_bus* bus, std::string interfacePrefix);
    ~StringArgumentCheck();
    StringArgumentCheck(const StringArgumentCheck&) = delete;
    StringArgumentCheck& operator=(const StringArgumentCheck&) = delete;

private:
    static int onMessage(sd_bus_message* m, void* self, sd_bus_error* error);

    sd_bus_slot* slot_ = nullptr;
    std::string prefix_;
};

}  // namespace xsd
