// What every call passes before anything reaches xenstored: the caller is
// identified (uid, groups), its access rules allow this kind of access on
// this path, it is within its limit of calls in flight, and xenstored is
// connected. Only then does the call's work start.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "daemon/answer.h"
#include "daemon/config/access.h"
#include "daemon/config/config.h"
#include "daemon/pending_per_caller.h"
#include "daemon/xenstore_link.h"
#include "dbus/callers.h"
#include "dbus/errors.h"

namespace xsd {

class Gate {
public:
    Gate(CallerRegistry& callers, XenStoreLink& link, std::shared_ptr<CallCounter> calls)
        : callers_(callers), link_(link), calls_(std::move(calls))
    {
    }

    // The access rules and limits in force; replaced as a whole on reload.
    void setConfig(std::shared_ptr<const Config> config) { config_ = std::move(config); }
    const Config& config() const { return *config_; }
    // Relative paths are checked as xenstored resolves them: under the
    // daemon's own domain path.
    void setDomainPath(std::string path) { domainPath_ = std::move(path); }
    const std::string& domainPath() const { return domainPath_; }
    // `path` as the rules see it: itself when absolute or special, else
    // written into `storage` under the domain path. No copy on the way of
    // the usual, absolute, path.
    const std::string& resolve(const std::string& path, std::string& storage) const;
    std::shared_ptr<CallCounter> calls() const { return calls_; }

    // `path` empty: no path involved; the caller must merely be named by
    // some rule (StartTransaction). `go` runs with the client when the call
    // may proceed; at once when the caller is known already.
    template <class... T, class Go>
    void admit(const Answer<T...>& answer, Access access, const std::string& path, Go&& go)
    {
        if (const Caller* who = callers_.find(answer.sender()))
            return proceed(answer, who, {}, access, path, go);
        // Calls that arrive while the caller is being identified wait, in
        // order; each is then judged against the calls before it only.
        identifying_.add(answer.sender());
        callers_.resolve(answer.sender(),
                         [this, answer, access, path, go = std::forward<Go>(go)](
                             const Caller* who, const std::string& error) mutable {
                             identified(answer.sender());
                             proceed(answer, who, error, access, path, go);
                         });
    }

    // A call on what the caller itself holds (its own subscription): no
    // access rule is needed, so a reload that withdrew the caller's rights
    // still lets it let go; nor a connection (what it holds goes here at
    // once, and upstream when there is a connection: `go` gets the client,
    // or null). Only the limits on calls in flight apply.
    // It keeps its place behind the caller's calls still waiting to be
    // identified, as any call does.
    template <class... T, class Go>
    void admitOwn(const Answer<T...>& answer, Go&& go)
    {
        auto proceed = [this](const Answer<T...>& answer, Go& go) {
            if (auto denial = limitDenial(answer.sender()))
                return answer.fail(*denial);
            go(link_.client());
        };
        if (callers_.find(answer.sender()))
            return proceed(answer, go);
        identifying_.add(answer.sender());
        callers_.resolve(answer.sender(), [this, answer, proceed, go = std::forward<Go>(go)](
                                              const Caller*, const std::string&) mutable {
            identified(answer.sender());
            proceed(answer, go);
        });
    }

    // The caller's identity, once known (for per-caller bookkeeping).
    const Caller* caller(const std::string& sender) const { return callers_.find(sender); }
    // Whether `who` may do `access` on `path` (absolute, relative or special).
    bool allows(const Caller& who, Access access, const std::string& path) const;

private:
    template <class... T, class Go>
    void proceed(const Answer<T...>& answer, const Caller* who, const std::string& identityError,
                 Access access, const std::string& path, Go& go)
    {
        if (auto denial = check(answer.sender(), who, identityError, access, path))
            return answer.fail(*denial);
        auto* client = link_.client();
        if (!client)
            return answer.fail(errors::NotConnected,
                               answer.what() + ": not connected to xenstored at " +
                                   link_.backend().describe() + " right now");
        go(*client);
    }

    void identified(const std::string& sender);
    // Past a limit on calls in flight, why.
    std::optional<sdbus::Error> limitDenial(const std::string& sender) const;
    std::optional<sdbus::Error> check(const std::string& sender, const Caller* who,
                                      const std::string& identityError, Access access,
                                      const std::string& path) const;

    CallerRegistry& callers_;
    XenStoreLink& link_;
    std::shared_ptr<CallCounter> calls_;
    // Per sender, its calls still waiting for the bus to say who it is:
    // counted in flight already, but they came after the call being judged.
    PendingPerCaller identifying_;
    std::shared_ptr<const Config> config_ = std::make_shared<Config>(defaultConfig());
    std::string domainPath_ = "/local/domain/0";
};

}  // namespace xsd
