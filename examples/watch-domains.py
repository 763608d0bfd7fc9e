#!/usr/bin/python3
# Prints each guest domain as it is introduced or released, with its domid:
# pyxs's @introduceDomain monitor example, rewritten with WatchDomains
# (XenStore's special watch says only that *some* domain came).
#
#   examples/watch-domains.py                     # the system bus
#   examples/watch-domains.py unix:path=.run/bus  # scripts/run-local's bus
#
# Needs python3-gi. The signals are unicast to subscribers, so it calls
# WatchDomains on its own connection, and it believes them only from the
# daemon: GDBus matches the well-known name to its current owner.
import sys

from gi.repository import Gio, GLib

NAME = "org.xenproject.XenStore1"
PATH = "/org/xenproject/XenStore1"

if len(sys.argv) > 1:
    bus = Gio.DBusConnection.new_for_address_sync(
        sys.argv[1],
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
        | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)
else:
    bus = Gio.bus_get_sync(Gio.BusType.SYSTEM)


def call(method):
    return bus.call_sync(NAME, PATH, NAME, method, None, None,
                         Gio.DBusCallFlags.NONE, -1, None)


def on_signal(_bus, _sender, _path, _interface, member, args):
    print(f"{member} {args[0]}", flush=True)


for member in ("DomainIntroduced", "DomainReleased"):
    bus.signal_subscribe(NAME, NAME, member, PATH, None,
                         Gio.DBusSignalFlags.NONE, on_signal)
call("WatchDomains")
# Subscribed first, then listed: no domain falls between the two.
print("introduced:", " ".join(str(d) for d in call("ListDomains")[0]), flush=True)
GLib.MainLoop().run()
