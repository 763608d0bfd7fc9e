// The daemon's bus connection takes no file descriptors.
//
// No method of org.xenproject.XenStore1 takes one, yet any caller may attach
// descriptors to any call (the UNIX_FDS header field, whatever the body),
// and a connection that offered to take them holds them until the call is
// answered: 64 calls with 16 descriptors each ran the daemon out of its
// 1024, sd-bus failed ("Exchange full") and the daemon exited. A connection
// that did not offer (NEGOTIATE_UNIX_FD) when it authenticated is never sent
// any: dbus-daemon answers such a call itself, with
// org.freedesktop.DBus.Error.NotSupported, and the daemon never sees it.
//
// sd-bus decides that with sd_bus_negotiate_fds(bus, 0), allowed only
// between sd_bus_new() and sd_bus_start(). sdbus-c++ 1.2.0 runs both inside
// its connection factories and cannot adopt an sd_bus* made elsewhere
// (createBusConnection(sd_bus*) came in 1.4.0). So the daemon's executable
// puts its own sd_bus_start() in front of sd-bus's: it turns fd passing off
// and hands on. (With sdbus-c++ 1.4 or later: make the sd_bus*, negotiate,
// and adopt it instead.)
#pragma once

namespace xsd {

// The sd-bus connections this process started with fd passing turned off.
// The daemon makes one, and refuses to run if it was not.
unsigned busesWithoutUnixFds();

}  // namespace xsd
