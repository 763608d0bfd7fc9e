// The daemon's one connection to xenstored, kept up for as long as the
// daemon runs: when it drops, reconnect with capped exponential backoff
// (50 ms doubling to 2 s), so a restarted xenstored is back in service
// within one step. "auto" is resolved again at every attempt, as
// libxenstore resolves it at every xs_open(): in dom0 the daemon may start
// before xenstored has made its socket, and must not settle on the XenBus
// device for good.
//
// Connected means xenstored answers. A new connection counts only once
// xenstored has answered a first request on it (a stopped xenstored's
// socket still accepts connections, into its listen backlog), and a
// xenstored that leaves a request unanswered for the reply timeout is
// treated as gone: the connection is dropped and made again, as after a
// restart.
//
// The daemon takes its bus name before xenstored has answered (so that
// Connected can be read, and say no, while xenstored is away), and D-Bus
// activation hands over the call that started the daemon the moment it
// does. Calls that come before the first attempt has settled wait for it
// (afterFirstAttempt): at most the reply timeout, which is below a D-Bus
// caller's 25 s. Later, while a lost connection is made again, calls are
// refused at once.
#pragma once

#include <systemd/sd-event.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "protocol/client.h"
#include "protocol/transport.h"

namespace xsd {

class XenStoreLink {
public:
    struct Events {
        std::function<void()> connected;
        std::function<void(const std::string& reason)> disconnected;
        std::function<void(const std::string& path, const std::string& token)> watchEvent;
    };

    // `spec`: auto | unix:PATH | xenbus:PATH, already checked with
    // xs::Backend::parse().
    XenStoreLink(sd_event* loop, std::string spec, Events events);
    ~XenStoreLink();
    XenStoreLink(const XenStoreLink&) = delete;
    XenStoreLink& operator=(const XenStoreLink&) = delete;

    // First attempt now; retries on its own until it connects.
    void start();
    // The reply timeout (xenstored_timeout_s), for this connection and the
    // next ones.
    void setReplyTimeout(uint64_t usec);

    bool connected() const { return answered_ && client_ && client_->connected(); }
    // Until the first attempt has settled (xenstored answered, or the
    // attempt failed), whether it has; `then` runs once it has, in the
    // order given.
    bool firstAttemptSettled() const { return firstSettled_; }
    void afterFirstAttempt(std::function<void()> then);
    // The client while connected; null otherwise.
    xs::Client* client() { return connected() ? client_.get() : nullptr; }
    // Where the current (or last) connection attempt went.
    const xs::Backend& backend() const { return backend_; }
    // Counts connections made; what belonged to an earlier one is gone.
    uint64_t generation() const { return generation_; }

private:
    static int onRetry(sd_event_source* s, uint64_t usec, void* self);
    void attempt();
    void answered();
    void scheduleRetry();
    void onDisconnected(const std::string& reason);
    void firstAttemptDone();

    sd_event* loop_;
    std::string spec_;
    xs::Backend backend_;
    Events events_;
    std::unique_ptr<xs::Client> client_;
    sd_event_source* retry_ = nullptr;
    uint64_t backoffUsec_;
    uint64_t replyTimeoutUsec_ = 0;
    bool answered_ = false;  // xenstored answered on this connection
    uint64_t generation_ = 0;
    bool firstSettled_ = false;
    std::vector<std::function<void()>> afterFirst_;
    std::string lastFailure_;
};

}  // namespace xsd
