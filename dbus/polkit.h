// Asking polkit: org.freedesktop.PolicyKit1.Authority.CheckAuthorization on
// the daemon's own bus connection, asynchronously, each question bounded by
// a timer on the event loop. Whether a bus client may do something is then
// polkitd's decision (its .policy defaults and JavaScript rules), as for
// systemd's own bus daemons.
//
// This knows D-Bus and polkit's interface, nothing of the daemon's rules:
// daemon/polkit/ decides what to ask and what an answer means for a call.
#pragma once

#include <systemd/sd-event.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include <sdbus-c++/IConnection.h>
#include <sdbus-c++/IProxy.h>
#include <sdbus-c++/Message.h>

namespace xsd::polkit {

// Whether the caller marked `call` with ALLOW_INTERACTIVE_AUTHORIZATION
// (`busctl --allow-interactive-authorization=yes`, `gdbus call
// --interactive`): it is ready to wait while a person authenticates.
bool allowsInteractiveAuthorization(const sdbus::Message& call);

// What polkit said, or why it could not say.
struct Verdict {
    enum class Kind {
        Authorized,
        // Not without authentication: the question did not allow
        // interaction, or no authentication agent could ask the person.
        Challenge,
        NotAuthorized,
        // A person was asked and dismissed the dialog.
        Dismissed,
        // polkitd not on the bus, gone mid-question, answering with an
        // error, or not within the bound: fail closed.
        Unavailable,
    };
    Kind kind = Kind::Unavailable;
    std::string why;  // Unavailable: what went wrong, for the caller's message
};

// "authorized", "challenge", …: for log lines.
const char* kindName(Verdict::Kind kind);

struct Question {
    std::string subject;  // the caller's unique bus name (a system-bus-name subject)
    std::string action;   // "org.xenproject.xenstore1.write"
    std::map<std::string, std::string> details;
    bool allowInteraction = false;
    uint64_t timeoutUsec = 10'000'000;
};

class Authority {
public:
    using Done = std::function<void(const Verdict&)>;

    Authority(sd_event* loop, sdbus::IConnection& bus);
    ~Authority();
    Authority(const Authority&) = delete;
    Authority& operator=(const Authority&) = delete;

    // Asks polkitd. `done` runs exactly once, from the event loop (never
    // inside ask()), unless the question is withdrawn first. Returns the
    // question's id, for withdraw(); 0 when the loop could not take the
    // question's timer (out of memory), and `done` will not run.
    uint64_t ask(Question question, Done done);
    // `done` of that question will not run; an interactive question is
    // cancelled in polkitd too, so that its dialog goes away.
    void withdraw(uint64_t id);

    // Questions in flight (for tests and the status line).
    size_t pending() const { return pending_.size(); }

private:
    struct Pending;
    void answered(uint64_t id, const Verdict& verdict);
    void cancelInPolkitd(const Pending& p);
    static int onTimeout(sd_event_source* source, uint64_t usec, void* userdata);

    sd_event* loop_;
    std::unique_ptr<sdbus::IProxy> proxy_;
    uint64_t next_ = 1;
    std::unordered_map<uint64_t, std::unique_ptr<Pending>> pending_;
};

}  // namespace xsd::polkit
