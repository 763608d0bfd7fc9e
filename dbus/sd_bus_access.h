// The sd-bus objects beneath sdbus-c++'s, for what only sd-bus offers.
//
// sdbus-c++ 1.2.0 wraps sd-bus without a way back to it: a Message keeps
// its sd_bus_message* in a protected member, and a connection does not show
// its sd_bus* at all. A class derived from Message may name that member, and
// a pointer to it applies to any Message; every message knows its bus. This
// is the one place that does so.
#pragma once

#include <systemd/sd-bus.h>

#include <sdbus-c++/IProxy.h>
#include <sdbus-c++/Message.h>

namespace xsd {

// The sd-bus message under `m` (not referenced: it lives as long as `m`).
sd_bus_message* sdBusMessage(const sdbus::Message& m);

// The sd-bus connection `proxy` talks through (not referenced: it lives as
// long as the sdbus-c++ connection).
sd_bus* sdBus(sdbus::IProxy& proxy);

}  // namespace xsd
