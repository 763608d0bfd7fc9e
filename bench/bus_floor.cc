#include "bench/bus_floor.h"

#include <stdexcept>

#include <sdbus-c++/sdbus-c++.h>

#ifndef XSD_BUS_FLOOR
#error "XSD_BUS_FLOOR must name the built xenstore-dbus-bus-floor"
#endif
#ifndef XSD_BUS_FLOOR_POLICY
#error "XSD_BUS_FLOOR_POLICY must name bench/bus-floor.conf"
#endif

namespace xsd::bench {

BusFloor::BusFloor(const std::string& address) : process_({XSD_BUS_FLOOR, address})
{
    auto connection = sdbus::createSessionBusConnectionWithAddress(address);
    auto bus = sdbus::createProxy(*connection, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    const bool owned = test::waitFor([&] {
        bool has = false;
        bus->callMethod("NameHasOwner").onInterface("org.freedesktop.DBus").withArguments(FloorName).storeResultsTo(has);
        return has || !process_.running();
    });
    if (!owned || !process_.running())
        throw std::runtime_error("the bus floor did not come up on " + address);
}

std::string BusFloor::policyFile()
{
    return XSD_BUS_FLOOR_POLICY;
}

}  // namespace xsd::bench
