// Drives an sdbus-c++ connection from an sd-event loop.
//
// sdbus-c++ 1.2.0 cannot attach itself to sd-event, so this does what
// sd_bus_attach_event() does for plain sd-bus: an I/O source on the bus fd
// and a timer, both refreshed before every poll from getEventLoopPollData(),
// and processPendingRequest() when either fires.
#pragma once

#include <systemd/sd-event.h>

#include <functional>
#include <string>

#include <sdbus-c++/IConnection.h>

namespace xsd {

class BusEventSource {
public:
    // onFailure runs when the bus connection breaks (dbus-daemon gone);
    // afterBatch after each batch of messages was processed (the daemon
    // sends the XenStore requests the batch made, together).
    BusEventSource(sd_event* loop, sdbus::IConnection& connection,
                   std::function<void(const std::string&)> onFailure,
                   std::function<void()> afterBatch = {});
    ~BusEventSource();
    BusEventSource(const BusEventSource&) = delete;
    BusEventSource& operator=(const BusEventSource&) = delete;

private:
    static int onPrepare(sd_event_source* s, void* self);
    static int onIo(sd_event_source* s, int fd, uint32_t revents, void* self);
    static int onTimer(sd_event_source* s, uint64_t usec, void* self);
    void process();

    sdbus::IConnection& connection_;
    std::function<void(const std::string&)> onFailure_;
    std::function<void()> afterBatch_;
    sd_event_source* io_ = nullptr;
    sd_event_source* timer_ = nullptr;
};

}  // namespace xsd
