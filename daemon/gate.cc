#include "daemon/gate.h"

#include "protocol/validate.h"

namespace xsd {

const std::string& Gate::resolve(const std::string& path, std::string& storage) const
{
    if (xs::pathKind(path) != xs::PathKind::Relative)
        return path;
    storage = domainPath_ + "/" + path;
    return storage;
}

bool Gate::allows(const std::string& sender, const Caller& who, Access access,
                  const std::string& path) const
{
    std::string storage;
    const std::string& checked = resolve(path, storage);
    return allowed(*config_, who, access, checked) || polkit_.allows(sender, who, access, checked);
}

void Gate::identified(const std::string& sender)
{
    identifying_.done(sender);
}

std::optional<sdbus::Error> Gate::admissible(const std::string& sender, const Caller* who,
                                             const std::string& identityError) const
{
    if (!who)
        return errors::make(errors::AccessDenied, identityError);
    return limitDenial(sender);
}

std::optional<sdbus::Error> Gate::limitDenial(const std::string& sender) const
{
    // This call is already counted, and so are those that came after it
    // and still wait to be identified.
    const unsigned max = config_->limits.pendingCallsPerCaller;
    if (calls_->of(sender) > max + identifying_.of(sender))
        return errors::make(errors::LimitExceeded,
                            "the caller already has " + std::to_string(max) +
                                " calls in flight (pending_calls_per_caller)");
    // The same for all callers together: what the daemon holds for them
    // while xenstored is slow or silent stays bounded.
    const unsigned maxAll = config_->limits.pendingCallsTotal;
    if (calls_->total() > maxAll + identifying_.total())
        return errors::make(errors::LimitExceeded,
                            "the daemon already has " + std::to_string(maxAll) +
                                " calls in flight for all callers (pending_calls_total); "
                                "xenstored is slow to answer, try again shortly");
    return std::nullopt;
}

Gate::Judgement Gate::judge(const Caller& who, Access access, const std::string* path) const
{
    Judgement j;
    if (!path) {
        j.denial = accessDenial(*config_, who, access, nullptr);
        return j;
    }
    if (allowed(*config_, who, access, *path))
        return j;
    j.candidates = polkitCandidates(*config_, who, access, *path);
    if (j.candidates.empty())
        j.denial = describeDenial(who, access, *path);
    return j;
}

void Gate::release(const std::string& sender)
{
    for (;;) {
        auto it = held_.find(sender);
        if (it == held_.end() || it->second.asking || it->second.holding)
            return;  // a question is open again, or a call is taking effect: its end releases the rest
        if (it->second.calls.empty()) {
            held_.erase(it);
            return;
        }
        auto next = std::move(it->second.calls.front());
        it->second.calls.pop_front();
        next();
    }
}

void Gate::inOrder(const std::string& sender, std::function<void()> f)
{
    auto held = held_.find(sender);
    if (held == held_.end())
        return f();
    held->second.calls.push_back(std::move(f));
}

void Gate::behindHolds(const std::string& sender, std::function<void()> f)
{
    auto held = held_.find(sender);
    if (held == held_.end() || !held->second.holding)
        return f();
    held->second.calls.push_back(std::move(f));
}

std::function<void()> Gate::holdLaterCalls(const std::string& sender)
{
    ++held_[sender].holding;
    return [this, sender] {
        auto it = held_.find(sender);
        if (it == held_.end())
            return;  // the caller left: forget() let its calls go
        --it->second.holding;
        release(sender);
    };
}

void Gate::forget(const std::string& sender)
{
    held_.erase(sender);
    polkit_.forget(sender);
}

}  // namespace xsd
