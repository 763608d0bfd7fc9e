// Guest domains for the real oxenstored, without a hypervisor: what Xen
// would provide a guest, as files and sockets in the sandbox that
// xenstored-shim.c reads (its header has the layout).
//
//   GuestDomain  the domain as Xen knows it: it exists, has a store page and
//                an event channel port, and can shut down, die or vanish
//                (each followed by VIRQ_DOM_EXC, as Xen raises it);
//   GuestRing    the guest's end of the shared page: XenStore's bytes in and
//                out of the two rings, with notifications both ways;
//   GuestClient  a XenStore client in the guest, on a GuestRing: requests
//                as domain N, watch events, waiting on notifications.
//
// A domain is served once it is introduced (INTRODUCE domid mfn port, with
// the mfn and port given here); requests written before that are answered
// then, as Xen marks the channel pending when xenstored binds it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "protocol/codec.h"
#include "protocol/wire.h"

namespace xsd::test {

// A reply from xenstored, as the harness's own clients take it.
struct XenStoreReply {
    xs::MessageType type = xs::MessageType::Invalid;
    std::string payload;
    // The errno name of an ERROR reply, "" otherwise.
    std::string error() const;
    bool ok() const { return type != xs::MessageType::Error; }
};

// Xen's VIRQ_DOM_EXC: "a domain has shut down or died".
inline constexpr uint32_t VirqDomExc = 3;

// Raises VIRQ_DOM_EXC in the oxenstored of `sandbox` (Xenstored::dir()).
void raiseDomExc(const std::string& sandbox);

class GuestDomain {
public:
    // Domain `domid` now exists (running) in `sandbox`, with an empty page.
    GuestDomain(std::string sandbox, unsigned domid);
    // Domain `domid` as made earlier in `sandbox`, perhaps by another
    // process (the xenstore-dbus-guest tool): nothing is reset.
    struct Existing {};
    GuestDomain(std::string sandbox, unsigned domid, Existing);
    GuestDomain(const GuestDomain&) = delete;
    GuestDomain& operator=(const GuestDomain&) = delete;

    unsigned domid() const { return domid_; }
    // What a toolstack passes to INTRODUCE: the page's number (oxenstored
    // only compares it) and the guest's end of its event channel.
    uint64_t mfn() const { return 0x10000u + domid_; }
    uint32_t port() const { return 1; }
    const std::string& sandbox() const { return sandbox_; }
    std::string dir() const;

    // What Xen does to the domain; each raises VIRQ_DOM_EXC after.
    void shutdown(unsigned code = 0);  // shut down, not yet destroyed
    void die();                        // being destroyed (dying)
    void vanish();                     // gone from Xen's list altogether
    // Running again (after a resume), without a VIRQ.
    void run();

private:
    void setState(const std::string& state, bool raise);

    std::string sandbox_;
    unsigned domid_;
};

// The guest's end of domain N's page and event channel. One at a time per
// domain: it binds the domain's event socket.
class GuestRing {
public:
    explicit GuestRing(const GuestDomain& domain);
    ~GuestRing();
    GuestRing(const GuestRing&) = delete;
    GuestRing& operator=(const GuestRing&) = delete;

    // Becomes readable when xenstored notifies; drain() before looking at
    // the rings, so that no notification is missed.
    int eventFd() const { return event_; }
    void drain();
    // Waits for a notification (true) or the timeout (false).
    bool waitForEvent(std::chrono::milliseconds timeout);

    // As many bytes as the request ring takes now (0 when full), then
    // notifies xenstored.
    size_t write(const char* data, size_t size);
    // As many reply bytes as there are now (0 when none); notifies
    // xenstored that there is room again.
    size_t read(char* data, size_t size);
    void notify();

private:
    std::string sandbox_;
    unsigned domid_;
    uint32_t port_;
    char* page_ = nullptr;
    int event_ = -1;
};

// XenStore as domain N sees it, through the ring. Synchronous: each request
// waits for its reply, collecting watch events that come first.
class GuestClient {
public:
    explicit GuestClient(const GuestDomain& domain) : ring_(domain) {}

    using Reply = XenStoreReply;
    struct WatchEvent {
        std::string path, token;
        bool operator==(const WatchEvent&) const = default;
    };

    // One request; throws if no reply comes within the timeout.
    Reply request(xs::MessageType type, const std::string& payload, uint32_t tx = 0,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // The same, fields joined with NULs ("a\0b\0"), the last one too unless
    // it is a value (WRITE).
    Reply call(xs::MessageType type, const std::vector<std::string>& fields, uint32_t tx = 0);

    // Shorthands that throw on an ERROR reply, naming it.
    std::string read(const std::string& path);
    void write(const std::string& path, const std::string& value);
    void watch(const std::string& path, const std::string& token);

    // The next watch event, waiting up to `timeout` for one.
    std::optional<WatchEvent> nextWatchEvent(std::chrono::milliseconds timeout);

private:
    // Reads what the ring holds into the decoder; false if nothing came
    // within the timeout.
    bool pull(std::chrono::steady_clock::time_point deadline);
    void push(const std::string& bytes, std::chrono::steady_clock::time_point deadline);
    // Takes the messages decoded so far: watch events into events_, and
    // the reply to request `id`, if it is among them.
    std::optional<Reply> take(uint32_t id);

    GuestRing ring_;
    xs::FrameDecoder decoder_;
    std::deque<WatchEvent> events_;
    uint32_t nextReqId_ = 1;
};

}  // namespace xsd::test
