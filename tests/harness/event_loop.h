// An sd-event loop for tests that drive asynchronous code by hand.
#pragma once

#include <systemd/sd-event.h>

#include <chrono>
#include <functional>

namespace xsd::test {

class EventLoop {
public:
    EventLoop() { sd_event_new(&event_); }
    ~EventLoop() { sd_event_unref(event_); }
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    sd_event* get() const { return event_; }

    // Runs the loop until pred() holds or the timeout passes; returns pred().
    bool runUntil(const std::function<bool()>& pred,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10))
    {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!pred()) {
            auto left = std::chrono::duration_cast<std::chrono::microseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return pred();
            sd_event_run(event_, static_cast<uint64_t>(std::min<int64_t>(left.count(), 10000)));
        }
        return true;
    }

    // One iteration without waiting: dispatches what is already pending
    // (e.g. a client's queued requests going out), nothing that has yet to
    // arrive.
    void runOnce() { sd_event_run(event_, 0); }

    // Runs the loop for a while regardless, to let late messages arrive.
    void runFor(std::chrono::milliseconds d)
    {
        runUntil([] { return false; }, d);
    }

private:
    sd_event* event_ = nullptr;
};

}  // namespace xsd::test
