// What every call passes before anything reaches xenstored: the caller is
// identified (uid, groups), it is within its limit of calls in flight, its
// access rules allow this kind of access on this path — or polkit
// authorizes it, where only a rule naming a polkit action could allow it —
// and xenstored is connected. Only then does the call's work start.
//
// A call's decision may come later than the call: while the bus says who
// the caller is, or while polkit (or a person typing a password) answers.
// Meanwhile the caller's later calls wait behind it, in order, and everyone
// else's are served.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/answer.h"
#include "daemon/config/access.h"
#include "daemon/config/config.h"
#include "daemon/config/polkit_rules.h"
#include "daemon/pending_per_caller.h"
#include "daemon/polkit/authorizations.h"
#include "daemon/xenstore_link.h"
#include "dbus/callers.h"
#include "dbus/errors.h"
#include "dbus/polkit.h"

namespace xsd {

class Gate {
public:
    Gate(CallerRegistry& callers, XenStoreLink& link, std::shared_ptr<CallCounter> calls,
         polkit::Authority& polkit)
        : callers_(callers), link_(link), calls_(std::move(calls)), polkit_(polkit)
    {
        polkit_.setConfig(config_);
    }

    // The access rules and limits in force; replaced as a whole on reload,
    // with every answer polkit gave under the old ones.
    void setConfig(std::shared_ptr<const Config> config)
    {
        config_ = std::move(config);
        polkit_.setConfig(config_);
    }
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
            // Behind the caller's calls waiting for polkit, and those that
            // wait for xenstored's first answer (its Watch before this
            // Unwatch), as admit() does.
            inOrder(answer.sender(), [this, go]() mutable {
                if (!link_.firstAttemptSettled())
                    return link_.afterFirstAttempt([this, go]() mutable { go(link_.client()); });
                go(link_.client());
            });
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
    // Whether `who`, on the bus as `sender`, may do `access` on `path`
    // (absolute, relative or special): by its rules, or by what polkit has
    // authorized for that connection. Watch events are checked so.
    bool allows(const std::string& sender, const Caller& who, Access access,
                const std::string& path) const;

    // Runs `f` now, or, while `sender` has calls waiting for polkit, after
    // them: for calls that pass no rule but must keep their place (a
    // transaction's Commit after the writes before it).
    void inOrder(const std::string& sender, std::function<void()> f);

    // Holds `sender`'s later calls until the returned function is called:
    // for a call whose work takes several requests to take effect (an
    // atomic call's transaction of its own, committed, perhaps retried), so
    // that a call sent after it (a Read of what it wrote) sees its effect,
    // as one sent after a Write does. Call it once, when the call is
    // answered; a call dropped unanswered as the daemon stops need not.
    std::function<void()> holdLaterCalls(const std::string& sender);

    // The caller left the bus: its calls waiting behind a polkit question
    // go, and so do the question and what polkit authorized for it.
    void forget(const std::string& sender);

private:
    template <class... T, class Go>
    void proceed(const Answer<T...>& answer, const Caller* who, const std::string& identityError,
                 Access access, const std::string& path, Go& go)
    {
        if (auto refusal = admissible(answer.sender(), who, identityError))
            return answer.fail(*refusal);
        // Behind the caller's earlier calls that wait for polkit; a call's
        // own further checks (a call of several paths) keep its place.
        if (auto held = held_.empty() ? held_.end() : held_.find(answer.sender());
            held != held_.end() && answer.id() != proceeding_) {
            held->second.calls.push_back([this, answer, access, path, go = std::move(go)]() mutable {
                decide(answer, access, path, go);
            });
            return;
        }
        decide(answer, access, path, go);
    }

    // Decides by the rules, or asks polkit (and the caller's later calls
    // wait for its answer).
    template <class... T, class Go>
    void decide(const Answer<T...>& answer, Access access, const std::string& path, Go& go)
    {
        const std::string& sender = answer.sender();
        const Caller* who = callers_.find(sender);
        if (!who)
            return answer.fail(errors::AccessDenied, answer.what() + ": the caller has left the bus");
        std::string storage;
        const std::string* checked = path.empty() ? nullptr : &resolve(path, storage);
        auto judgement = judge(*who, access, checked);
        if (judgement.candidates.empty()) {
            if (judgement.denial)
                return answer.fail(errors::AccessDenied, *judgement.denial);
            return connect(answer, go);
        }
        if (polkit_.kept(sender, judgement.candidates))
            return connect(answer, go);
        held_[sender].asking = true;
        polkit_.authorize(
            {sender, who->uid, answer.interactive(), answer.method(), access, *checked},
            std::move(judgement.candidates),
            [this, answer, go = std::move(go)](const std::optional<sdbus::Error>& denial) mutable {
                held_[answer.sender()].asking = false;
                if (denial)
                    answer.fail(*denial);
                else
                    connect(answer, go);
                release(answer.sender());
            });
    }

    template <class... T, class Go>
    void connect(const Answer<T...>& answer, Go& go)
    {
        auto* client = link_.client();
        if (!client && !link_.firstAttemptSettled())
            // Just started: xenstored has not answered yet (see
            // xenstore_link.h). Judged already, the call waits for it, and
            // then behind an atomic call an earlier call started meanwhile
            // (holdLaterCalls).
            return link_.afterFirstAttempt([this, answer, go]() mutable {
                behindHolds(answer.sender(), [this, answer, go]() mutable { connectedOrNot(answer, go); });
            });
        connectedOrNot(answer, go);
    }

    template <class... T, class Go>
    void connectedOrNot(const Answer<T...>& answer, Go& go)
    {
        auto* client = link_.client();
        if (!client)
            return answer.fail(errors::NotConnected,
                               answer.what() + ": not connected to xenstored at " +
                                   link_.backend().describe() + " right now");
        const void* outer = proceeding_;
        proceeding_ = answer.id();
        go(*client);
        proceeding_ = outer;
    }

    // The rules' part of the decision: a denial, or the polkit rules that
    // could still allow the call (none: allowed, unless denied).
    struct Judgement {
        std::optional<std::string> denial;
        std::vector<PolkitCandidate> candidates;
    };
    Judgement judge(const Caller& who, Access access, const std::string* path) const;

    void identified(const std::string& sender);
    // Runs `f` now, or, while `sender` has calls held by holdLaterCalls,
    // after them (not behind a polkit question a later call asked).
    void behindHolds(const std::string& sender, std::function<void()> f);
    // Past a limit on calls in flight, why.
    std::optional<sdbus::Error> limitDenial(const std::string& sender) const;
    // Identity and the limit of calls in flight.
    std::optional<sdbus::Error> admissible(const std::string& sender, const Caller* who,
                                           const std::string& identityError) const;
    // Polkit answered `sender`'s call: its calls held behind it go on, in
    // order, until one asks polkit again.
    void release(const std::string& sender);

    CallerRegistry& callers_;
    XenStoreLink& link_;
    std::shared_ptr<CallCounter> calls_;
    // Per sender, its calls still waiting for the bus to say who it is:
    // counted in flight already, but they came after the call being judged.
    PendingPerCaller identifying_;
    polkit::Authorizations polkit_;
    // Per sender that has a call waiting for polkit, or one taking effect
    // (holdLaterCalls): its later calls, in order; whether a question is
    // open; how many claims hold them.
    struct Held {
        std::deque<std::function<void()>> calls;
        bool asking = false;
        unsigned holding = 0;
    };
    std::unordered_map<std::string, Held> held_;
    // The call whose work is starting (its `go` runs): its own further
    // checks never wait behind later calls.
    const void* proceeding_ = nullptr;
    std::shared_ptr<const Config> config_ = std::make_shared<Config>(defaultConfig());
    std::string domainPath_ = "/local/domain/0";
};

}  // namespace xsd
