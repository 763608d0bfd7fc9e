#include "dbus/polkit.h"

#include <systemd/sd-bus.h>

#include <optional>

#include <sdbus-c++/Error.h>
#include <sdbus-c++/Types.h>

#include "dbus/sd_bus_access.h"

namespace xsd::polkit {

namespace {

constexpr const char* Service = "org.freedesktop.PolicyKit1";
constexpr const char* ObjectPath = "/org/freedesktop/PolicyKit1/Authority";
constexpr const char* Interface = "org.freedesktop.PolicyKit1.Authority";
constexpr uint32_t AllowUserInteraction = 1;

std::string seconds(uint64_t usec)
{
    const uint64_t tenths = (usec + 50'000) / 100'000;
    return std::to_string(tenths / 10) + (tenths % 10 ? "." + std::to_string(tenths % 10) : "") +
           " s";
}

}  // namespace

bool allowsInteractiveAuthorization(const sdbus::Message& call)
{
    sd_bus_message* m = sdBusMessage(call);
    return m && sd_bus_message_get_allow_interactive_authorization(m) > 0;
}

const char* kindName(Verdict::Kind kind)
{
    switch (kind) {
    case Verdict::Kind::Authorized: return "authorized";
    case Verdict::Kind::Challenge: return "challenge";
    case Verdict::Kind::NotAuthorized: return "not authorized";
    case Verdict::Kind::Dismissed: return "dismissed";
    case Verdict::Kind::Unavailable: return "unavailable";
    }
    return "?";
}

struct Authority::Pending {
    Authority* owner;
    uint64_t id;
    Done done;
    bool interactive;
    std::string cancellationId;
    uint64_t timeoutUsec;
    sdbus::PendingAsyncCall call;
    sd_event_source* timer = nullptr;
    // Set when the question could not even be sent: the timer then fires
    // at once with it, so that `done` never runs inside ask().
    std::optional<Verdict> early;

    ~Pending() { sd_event_source_disable_unref(timer); }
};

Authority::Authority(sd_event* loop, sdbus::IConnection& bus)
    : loop_(loop), proxy_(sdbus::createProxy(bus, Service, ObjectPath))
{
}

Authority::~Authority() = default;

uint64_t Authority::ask(Question q, Done done)
{
    const uint64_t id = next_++;
    auto p = std::make_unique<Pending>();
    p->owner = this;
    p->id = id;
    p->done = std::move(done);
    p->interactive = q.allowInteraction;
    // Unique among this connection's questions, as polkitd requires.
    p->cancellationId = "xenstore-dbus-" + std::to_string(id);
    p->timeoutUsec = q.timeoutUsec;

    uint64_t now = 0;
    sd_event_now(loop_, CLOCK_MONOTONIC, &now);
    try {
        using Subject = sdbus::Struct<std::string, std::map<std::string, sdbus::Variant>>;
        Subject subject{"system-bus-name", {{"name", sdbus::Variant(q.subject)}}};
        p->call =
            proxy_->callMethodAsync("CheckAuthorization")
                .onInterface(Interface)
                // sd-bus's own bound, past ours (its default, 25 s, would cut
                // a person typing a password short): the timer below decides.
                .withTimeout(q.timeoutUsec + 1'000'000)
                .withArguments(subject, q.action, q.details,
                               q.allowInteraction ? AllowUserInteraction : uint32_t{0},
                               p->cancellationId)
                .uponReplyInvoke([this, id](const sdbus::Error* error,
                                            sdbus::Struct<bool, bool, std::map<std::string, std::string>>
                                                result) {
                    if (error)
                        return answered(id, {Verdict::Kind::Unavailable,
                                             error->getName() + ": " + error->getMessage()});
                    const bool authorized = result.get<0>();
                    const bool challenge = result.get<1>();
                    const auto& details = result.get<2>();
                    Verdict v;
                    if (authorized)
                        v.kind = Verdict::Kind::Authorized;
                    else if (auto it = details.find("polkit.dismissed");
                             it != details.end() && !it->second.empty())
                        v.kind = Verdict::Kind::Dismissed;
                    else if (challenge)
                        v.kind = Verdict::Kind::Challenge;
                    else
                        v.kind = Verdict::Kind::NotAuthorized;
                    answered(id, v);
                });
    } catch (const sdbus::Error& e) {
        p->early = Verdict{Verdict::Kind::Unavailable, e.getName() + ": " + e.getMessage()};
    }
    const uint64_t when = p->early ? now : now + q.timeoutUsec;
    if (sd_event_add_time(loop_, &p->timer, CLOCK_MONOTONIC, when, 0, &Authority::onTimeout,
                          p.get()) < 0) {
        // Unbounded is not an option: the question is not asked at all.
        p->call.cancel();
        return 0;
    }
    sd_event_source_set_description(p->timer, "polkit-question");
    pending_.emplace(id, std::move(p));
    return id;
}

int Authority::onTimeout(sd_event_source*, uint64_t, void* userdata)
{
    auto* p = static_cast<Pending*>(userdata);
    Authority* self = p->owner;
    if (p->early) {
        const Verdict v = *p->early;
        self->answered(p->id, v);
        return 0;
    }
    p->call.cancel();
    self->cancelInPolkitd(*p);
    self->answered(p->id, {Verdict::Kind::Unavailable,
                           "polkit did not answer within " + seconds(p->timeoutUsec)});
    return 0;
}

void Authority::answered(uint64_t id, const Verdict& verdict)
{
    auto node = pending_.extract(id);
    if (node.empty())
        return;
    // The question is gone before `done` runs: `done` may ask again.
    Done done = std::move(node.mapped()->done);
    node.mapped().reset();
    done(verdict);
}

void Authority::withdraw(uint64_t id)
{
    auto node = pending_.extract(id);
    if (node.empty())
        return;
    node.mapped()->call.cancel();
    cancelInPolkitd(*node.mapped());
}

void Authority::cancelInPolkitd(const Pending& p)
{
    // A question without interaction is answered at once anyway; one with
    // it may have a dialog up, which should not outlive the call.
    if (!p.interactive || p.early)
        return;
    try {
        proxy_->callMethod("CancelCheckAuthorization")
            .onInterface(Interface)
            .withArguments(p.cancellationId)
            .dontExpectReply();
    } catch (const sdbus::Error&) {
        // polkitd gone: nothing to cancel.
    }
}

}  // namespace xsd::polkit
