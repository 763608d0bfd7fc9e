#include "dbus/sd_bus_access.h"

namespace xsd {

namespace {

struct MessageInside : sdbus::Message {
    static constexpr auto raw = &MessageInside::msg_;  // void* sdbus::Message::*
};

}  // namespace

sd_bus_message* sdBusMessage(const sdbus::Message& m)
{
    return static_cast<sd_bus_message*>(m.*MessageInside::raw);
}

sd_bus* sdBus(sdbus::IProxy& proxy)
{
    // A message made for the connection and never sent.
    auto call = proxy.createMethodCall("org.freedesktop.DBus.Peer", "Ping");
    return sd_bus_message_get_bus(sdBusMessage(call));
}

}  // namespace xsd
