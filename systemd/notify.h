// What the daemon tells its service manager (sd_notify(3)): when it is ready,
// reloading or stopping, a one-line status for `systemctl status`, and that
// its event loop is alive (the watchdog). Every call is harmless without a
// service manager: with no $NOTIFY_SOCKET nothing is sent.
//
// Each returns what sd_notify returns: > 0 sent, 0 no service manager
// listening, < 0 a negative errno (worth a log line, never fatal).
#pragma once

#include <systemd/sd-event.h>

#include <string_view>

namespace xsd::notify {

// READY=1, with STATUS= when `status` is not empty. Send it once the bus name
// is owned and XenStore is connected, and again when a reload has finished
// (whether or not the new configuration was taken).
int ready(std::string_view status = {});

// RELOADING=1 before re-reading the configuration on SIGHUP.
int reloading();

// STOPPING=1 when SIGTERM or SIGINT starts the graceful exit.
int stopping();

// STATUS=text; a line break would end the assignment, so it becomes a space.
int status(std::string_view text);

// Makes `event` send WATCHDOG=1 from the loop itself at half the interval the
// service manager asked for (WatchdogSec= → $WATCHDOG_USEC), so a loop that
// stops turning stops the pings. Returns > 0 when enabled, 0 when no watchdog
// was asked for, < 0 on error.
int enableWatchdog(sd_event* event);

}  // namespace xsd::notify
