#include "daemon/gate.h"

#include "protocol/validate.h"

namespace xsd {

std::string Gate::absolute(const std::string& path) const
{
    if (xs::pathKind(path) != xs::PathKind::Relative)
        return path;
    return domainPath_ + "/" + path;
}

bool Gate::allows(const Caller& who, Access access, const std::string& path) const
{
    return allowed(*config_, who, access, absolute(path));
}

std::optional<sdbus::Error> Gate::check(const std::string& sender, const Caller* who,
                                        const std::string& identityError, Access access,
                                        const std::string& path) const
{
    if (!who)
        return errors::make(errors::AccessDenied, identityError);
    const std::string abs = absolute(path);
    if (auto denial = accessDenial(*config_, *who, access, path.empty() ? nullptr : &abs))
        return errors::make(errors::AccessDenied, *denial);
    // This call is already counted.
    const unsigned max = config_->limits.pendingCallsPerCaller;
    if (calls_->of(sender) > max)
        return errors::make(errors::LimitExceeded,
                            "the caller already has " + std::to_string(max) +
                                " calls in flight (pending_calls_per_caller)");
    return std::nullopt;
}

}  // namespace xsd
