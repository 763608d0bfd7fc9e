#include "systemd/notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <string>

namespace xsd::notify {

namespace {

std::string statusAssignment(std::string_view text)
{
    std::string line = "STATUS=";
    for (char c : text)
        line += (c == '\n' || c == '\r') ? ' ' : c;
    return line;
}

int send(const std::string& message)
{
    // unset_environment = 0: the watchdog and later messages still need
    // $NOTIFY_SOCKET.
    return sd_notify(0, message.c_str());
}

}  // namespace

int ready(std::string_view status)
{
    std::string message = "READY=1";
    if (!status.empty())
        message += "\n" + statusAssignment(status);
    return send(message);
}

int reloading()
{
    // systemd 253 and later want the time the reload began alongside
    // RELOADING=1 (Type=notify-reload); older managers ignore it.
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1000000u +
                    static_cast<uint64_t>(ts.tv_nsec) / 1000u;
    return send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

int stopping()
{
    return send("STOPPING=1");
}

int status(std::string_view text)
{
    return send(statusAssignment(text));
}

int enableWatchdog(sd_event* event)
{
    return sd_event_set_watchdog(event, 1);
}

}  // namespace xsd::notify
