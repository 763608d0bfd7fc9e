#include "daemon/polkit/authorizations.h"

#include "daemon/config/access.h"
#include "daemon/log.h"
#include "dbus/errors.h"

namespace xsd::polkit {

namespace {

constexpr const char* InteractiveAuthorizationRequired =
    "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired";

// What the authentication dialog says; polkit fills in $(path).
std::string dialogMessage(Access kind)
{
    switch (kind) {
    case Access::Read: return "Authentication is required to read $(path) in XenStore.";
    case Access::Write: return "Authentication is required to change $(path) in XenStore.";
    case Access::Watch: return "Authentication is required to watch $(path) in XenStore.";
    case Access::Admin:
        return "Authentication is required to administer the Xen domain at $(path).";
    }
    return "Authentication is required to use $(path) in XenStore.";
}

std::string joined(const std::vector<std::string>& actions)
{
    std::string out;
    for (size_t i = 0; i < actions.size(); ++i)
        out += (i == 0 ? "" : i + 1 == actions.size() ? " or " : ", ") + actions[i];
    return out;
}

}  // namespace

struct Authorizations::Asking {
    Call call;
    std::vector<PolkitCandidate> candidates;
    size_t next = 0;
    std::shared_ptr<const Config> config;  // the one the candidates index into
    Decided decided;
    // What polkit said to each action asked so far.
    std::vector<std::pair<std::string, Verdict>> said;
};

void Authorizations::setConfig(std::shared_ptr<const Config> config)
{
    config_ = std::move(config);
    kept_.clear();
}

bool Authorizations::kept(const std::string& sender,
                          const std::vector<PolkitCandidate>& candidates) const
{
    auto it = kept_.find(sender);
    if (it == kept_.end())
        return false;
    for (const auto& c : candidates)
        if (it->second.count({c.rule, c.subtree}))
            return true;
    return false;
}

bool Authorizations::allows(const std::string& sender, const Caller& who, Access kind,
                            std::string_view path) const
{
    if (!kept_.count(sender))
        return false;
    return kept(sender, polkitCandidates(*config_, who, kind, path));
}

void Authorizations::keep(const std::string& sender, const PolkitCandidate& candidate)
{
    auto& kept = kept_[sender];
    // A rule with a "*" has as many subtrees as a caller can name: past a
    // bound, the caller starts again from nothing kept (and asks again).
    if (kept.size() >= MaxKeptPerConnection)
        kept.clear();
    kept.insert({candidate.rule, candidate.subtree});
}

void Authorizations::authorize(Call call, std::vector<PolkitCandidate> candidates,
                               Decided decided)
{
    auto asking = std::make_shared<Asking>();
    asking->call = std::move(call);
    asking->candidates = std::move(candidates);
    asking->config = config_;
    asking->decided = std::move(decided);
    askNext(asking);
}

void Authorizations::askNext(const std::shared_ptr<Asking>& asking)
{
    if (asking->next >= asking->candidates.size())
        return finish(asking, denial(*asking));
    const PolkitCandidate& candidate = asking->candidates[asking->next++];
    const Rule& rule = asking->config->rules.at(candidate.rule);
    const Call& call = asking->call;
    const Limits& limits = asking->config->limits;

    Question q;
    q.subject = call.sender;
    q.action = rule.polkit;
    q.details = {{"method", call.method},
                 {"path", call.path},
                 {"subtree", candidate.subtree},
                 {"polkit.message", dialogMessage(call.kind)}};
    q.allowInteraction = call.interactive;
    q.timeoutUsec = uint64_t(call.interactive ? limits.polkitInteractiveTimeoutS
                                              : limits.polkitTimeoutS) *
                    1'000'000;
    const std::string action = rule.polkit;
    const uint64_t id = authority_.ask(std::move(q), [this, asking, candidate,
                                                      action](const Verdict& v) {
        asking_.erase(asking->call.sender);
        asking->said.emplace_back(action, v);
        if (log::verbose())
            log::debug("polkit on ", action, " for ", asking->call.sender, " (", asking->call.method,
                       " ", asking->call.path, "): ", kindName(v.kind),
                       v.why.empty() ? "" : ": ", v.why);
        switch (v.kind) {
        case Verdict::Kind::Authorized:
            // An answer that comes after a reload is not kept: it may be
            // about a rule that is gone.
            if (asking->config == config_)
                keep(asking->call.sender, candidate);
            return finish(asking, std::nullopt);
        case Verdict::Kind::Unavailable:
        case Verdict::Kind::Dismissed:
            // polkit cannot answer at all, or the person said no: asking
            // the next action would only wait, or ask the person again.
            return finish(asking, denial(*asking));
        case Verdict::Kind::Challenge:
        case Verdict::Kind::NotAuthorized:
            return askNext(asking);
        }
    });
    if (id == 0) {
        asking->said.emplace_back(action, Verdict{Verdict::Kind::Unavailable,
                                                  "the daemon cannot arm a timer (out of memory)"});
        return finish(asking, denial(*asking));
    }
    asking_[call.sender] = id;
}

void Authorizations::finish(const std::shared_ptr<Asking>& asking,
                            const std::optional<sdbus::Error>& denial)
{
    auto decided = std::move(asking->decided);
    asking->decided = nullptr;
    if (decided)
        decided(denial);
}

sdbus::Error Authorizations::denial(const Asking& asking) const
{
    const Call& call = asking.call;
    std::vector<std::string> challenged, refused, dismissed;
    const std::pair<std::string, Verdict>* unavailable = nullptr;
    for (const auto& said : asking.said) {
        switch (said.second.kind) {
        case Verdict::Kind::Challenge: challenged.push_back(said.first); break;
        case Verdict::Kind::NotAuthorized: refused.push_back(said.first); break;
        case Verdict::Kind::Dismissed: dismissed.push_back(said.first); break;
        case Verdict::Kind::Unavailable: unavailable = &said; break;
        case Verdict::Kind::Authorized: break;
        }
    }
    const std::string what = call.method + " " + call.path;
    // The caller can still get in: by asking again, ready to wait for a
    // person to authenticate.
    if (!challenged.empty() && !call.interactive)
        return sdbus::Error(InteractiveAuthorizationRequired,
                            what + ": polkit authorizes " + joined(challenged) +
                                " only after authentication; call again allowing interactive "
                                "authorization (busctl --allow-interactive-authorization=yes, "
                                "gdbus call --interactive)");

    Caller who;
    who.uid = call.uid;
    std::string why;
    if (unavailable)
        why = "polkit could not be asked about " + unavailable->first + " (" +
              unavailable->second.why + ")";
    else if (!dismissed.empty())
        why = "the authentication for polkit action " + joined(dismissed) + " was dismissed";
    else if (!challenged.empty())
        why = "polkit authorizes " + joined(challenged) +
              " only after authentication, and no authentication agent answered for the caller";
    else
        why = "polkit did not authorize " + joined(refused);
    return errors::make(errors::AccessDenied, describeDenial(who, call.kind, call.path) + ": " + why);
}

void Authorizations::forget(const std::string& sender)
{
    kept_.erase(sender);
    if (auto it = asking_.find(sender); it != asking_.end()) {
        const uint64_t id = it->second;
        asking_.erase(it);
        authority_.withdraw(id);
    }
}

}  // namespace xsd::polkit
