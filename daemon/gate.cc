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

bool Gate::allows(const Caller& who, Access access, const std::string& path) const
{
    std::string storage;
    return allowed(*config_, who, access, resolve(path, storage));
}

void Gate::identified(const std::string& sender)
{
    identifying_.done(sender);
}

std::optional<sdbus::Error> Gate::check(const std::string& sender, const Caller* who,
                                        const std::string& identityError, Access access,
                                        const std::string& path) const
{
    if (!who)
        return errors::make(errors::AccessDenied, identityError);
    std::string storage;
    const std::string* checked = path.empty() ? nullptr : &resolve(path, storage);
    if (auto denial = accessDenial(*config_, *who, access, checked))
        return errors::make(errors::AccessDenied, *denial);
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

}  // namespace xsd
