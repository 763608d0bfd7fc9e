// Who sent a signal. Any client may send any bus client a unicast signal
// claiming any path, interface, member and arguments; the bus stamps only
// the sender, with the unique name of the connection it came from. And
// sd-bus's match rules do not hold a signal to a well-known sender name
// (sender='org.freedesktop.DBus' or 'org.xenproject.XenStore1'): without the
// names the sender owns, they let every unique name through. So a handler
// that acts on a signal checks its sender itself.
#pragma once

#include <string_view>

#include <sdbus-c++/Message.h>

namespace xsd {

// dbus-daemon sends its own signals (NameOwnerChanged, NameLost, …) as this
// name, which no client may own.
inline constexpr std::string_view BusDriver = "org.freedesktop.DBus";

// Whether `message` (the one being handled: getCurrentlyProcessedMessage())
// came from `sender`, a unique name or BusDriver.
inline bool sentBy(const sdbus::Message* message, std::string_view sender)
{
    return message && !sender.empty() && message->getSender() == sender;
}

}  // namespace xsd
