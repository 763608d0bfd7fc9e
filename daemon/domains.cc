#include "daemon/domains.h"

#include <charconv>

#include "daemon/log.h"
#include "protocol/validate.h"
#include "protocol/wire.h"

namespace xsd {

namespace {

constexpr const char* Token = "domains";
constexpr const char* DomainsPath = "/local/domain";

bool is(const xs::Error& e, std::string_view errnoName)
{
    return e.kind == xs::Error::Kind::XenStore && e.errnoName == errnoName;
}

// A child of /local/domain that names a domain, as a domid.
std::optional<uint32_t> domidOf(const std::string& name)
{
    uint32_t d = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), d);
    if (ec != std::errc() || end != name.data() + name.size() || name.empty() ||
        (name.size() > 1 && name[0] == '0') || xs::checkDomid(d))
        return std::nullopt;
    return d;
}

// A completion that answers with xenstored's answer, its error said in the
// terms of the domain call: what xenstored's errno means for it.
template <class... T, class Explain>
auto explained(const Answer<T...>& a, Explain explain)
{
    return [a, explain](auto r) {
        if (r)
            return a.relay()(std::move(r));
        xs::Error e = r.error();
        if (e.kind == xs::Error::Kind::XenStore)
            if (std::string why = explain(e.errnoName); !why.empty())
                e.reason = why;
        a.fail(e);
    };
}

// EACCES from any domain request: the connection is not dom0's.
std::string notDom0(const std::string& errnoName)
{
    if (errnoName == "EACCES")
        return "xenstored lets only dom0 do this, and the daemon's connection is not dom0's";
    return {};
}

}  // namespace

Domains::Domains(Gate& gate, XenStoreLink& link, WatchMultiplexer& watches, Emit emit)
    : gate_(gate), link_(link), watches_(watches), emit_(std::move(emit))
{
}

template <class... T>
void Domains::domainCall(const Answer<T...>& a, Access access, std::vector<uint32_t> domids,
                         std::function<void(xs::Client&)> go)
{
    for (uint32_t d : domids)
        if (auto v = xs::checkDomid(d))
            return a.fail(errors::InvalidArgument, a.what() + ": " + *v);
    gate_.admit(a, access, domainAccessPath(domids.front()), std::move(go));
}

// --- XenStore's domain operations -------------------------------------------

void Domains::getDomainPath(const Answer<std::string>& a, uint32_t domid)
{
    domainCall(a, Access::Read, {domid}, [a, domid](xs::Client& c) {
        c.getDomainPath(domid, a.relay());
    });
}

void Domains::isDomainIntroduced(const Answer<bool>& a, uint32_t domid)
{
    domainCall(a, Access::Read, {domid}, [this, a, domid](xs::Client& c) {
        c.isDomainIntroduced(domid, [this, a, domid](xs::Result<bool> r) {
            if (r)
                observe(domid, r.value());
            explained(a, notDom0)(std::move(r));
        });
    });
}

void Domains::introduce(const Answer<>& a, uint32_t domid, uint64_t mfn, uint32_t port)
{
    domainCall(a, Access::Admin, {domid}, [this, a, domid, mfn, port](xs::Client& c) {
        c.introduce(domid, mfn, port, [this, a, domid](xs::Result<xs::Unit> r) {
            if (r)
                observe(domid, true);
            explained(a, [domid](const std::string& e) -> std::string {
                if (e == "EINVAL")
                    return "xenstored cannot take domain " + std::to_string(domid) +
                           ": its store page cannot be mapped or its event channel bound, or it "
                           "is introduced already with another page or port";
                return notDom0(e);
            })(std::move(r));
        });
    });
}

void Domains::release(const Answer<>& a, uint32_t domid)
{
    domainCall(a, Access::Admin, {domid}, [this, a, domid](xs::Client& c) {
        c.release(domid, [this, a, domid](xs::Result<xs::Unit> r) {
            if (r)
                observe(domid, false);
            explained(a, [domid](const std::string& e) -> std::string {
                if (e == "EINVAL")
                    return "domain " + std::to_string(domid) +
                           " is not introduced (never, or released already)";
                return notDom0(e);
            })(std::move(r));
        });
    });
}

void Domains::resume(const Answer<>& a, uint32_t domid)
{
    domainCall(a, Access::Admin, {domid}, [a, domid](xs::Client& c) {
        c.resume(domid, explained(a, [domid](const std::string& e) -> std::string {
                     if (e == "EINVAL")
                         return "domain " + std::to_string(domid) + " is not introduced";
                     return notDom0(e);
                 }));
    });
}

void Domains::setTarget(const Answer<>& a, uint32_t domid, uint32_t target)
{
    domainCall(a, Access::Admin, {domid, target}, [a, domid, target](xs::Client& c) {
        c.setTarget(domid, target, explained(a, [domid](const std::string& e) -> std::string {
                        if (e == "ENOENT")
                            return "domain " + std::to_string(domid) + " is not introduced";
                        return notDom0(e);
                    }));
    });
}

// --- what the daemon adds ----------------------------------------------------

void Domains::watch(const Answer<>& a)
{
    gate_.admit(a, Access::Watch, {}, [this, a](xs::Client&) {
        const Caller* who = gate_.caller(a.sender());
        if (!who || (!gate_.allows(a.sender(), *who, Access::Watch, std::string(xs::IntroduceDomain)) &&
                     !gate_.allows(a.sender(), *who, Access::Watch, std::string(xs::ReleaseDomain))))
            return a.fail(errors::AccessDenied,
                          a.what() + ": the caller may watch neither @introduceDomain nor "
                                     "@releaseDomain");
        if (!untracked_.empty())
            return a.fail(errors::nameForErrno("EACCES"), a.what() + ": " + untracked_);
        if (!subscribers_.insert(a.sender()).second)
            return a.fail(errors::nameForErrno("EEXIST"),
                          a.what() + ": the caller is subscribed already");
        a.ok();
    });
}

void Domains::unwatch(const Answer<>& a)
{
    // Letting go of one's own subscription needs no rule, as for Unwatch.
    gate_.admitOwn(a, [this, a](xs::Client*) {
        if (!subscribers_.erase(a.sender()))
            return a.fail(errors::nameForErrno("ENOENT"), a.what() + ": the caller is not subscribed");
        a.ok();
    });
}

void Domains::list(const Answer<std::vector<uint32_t>>& a)
{
    gate_.admit(a, Access::Read, {}, [this, a](xs::Client&) {
        if (!untracked_.empty())
            return a.fail(errors::nameForErrno("EACCES"), a.what() + ": " + untracked_);
        // Answered from a whole scan that starts after this call came, so
        // that what changed before it is in the answer.
        listsWaiting_.push_back(a);
        want(Everything);
    });
}

void Domains::answerList(const Answer<std::vector<uint32_t>>& a) const
{
    // As IsDomainIntroduced would: the domains whose home the caller may read.
    const Caller* who = gate_.caller(a.sender());
    std::vector<uint32_t> visible;
    for (uint32_t d : introduced_)
        if (who && gate_.allows(a.sender(), *who, Access::Read, domainAccessPath(d)))
            visible.push_back(d);
    a.ok(visible);
}

void Domains::callerLeft(const std::string& name)
{
    if (subscribers_.erase(name) && log::verbose())
        log::debug("WatchDomains of ", name, " ended: it left the bus");
}

void Domains::onConnected(xs::Client& client)
{
    untracked_.clear();
    if (watching_)
        return;  // the multiplexer places them again, and their events follow
    watching_ = true;
    for (auto path : {xs::IntroduceDomain, xs::ReleaseDomain}) {
        std::string p(path);
        watches_.subscribe(&client, WatchMultiplexer::Own, p, Token,
                           [this, p](const std::optional<xs::Error>& error) {
                               // EEXIST: held from an earlier try.
                               if (!error || is(*error, "EEXIST"))
                                   return;
                               log::warning("cannot watch ", p, " to follow domains: ",
                                            error->message, "; trying again on reconnection");
                               watching_ = false;
                           });
    }
}

void Domains::onSpecialWatchEvent(const std::string& path)
{
    if (path == xs::IntroduceDomain)
        want(Newcomers);
    else if (path == xs::ReleaseDomain)
        want(Known);
}

void Domains::observe(uint32_t domid, bool introduced)
{
    const char* member = introduced ? "DomainIntroduced" : "DomainReleased";
    const std::string special(introduced ? xs::IntroduceDomain : xs::ReleaseDomain);
    if (introduced ? !introduced_.insert(domid).second : !introduced_.erase(domid))
        return;
    log::info("domain ", domid, introduced ? " introduced" : " released");
    // As for the special watches: only subscribers who may watch them.
    for (const auto& s : subscribers_)
        if (const Caller* who = gate_.caller(s); who && gate_.allows(s, *who, Access::Watch, special))
            emit_(s, member, domid);
    if (!introduced) {
        vanishWanted_ = true;
        if (!scanning_)
            checkVanished();
    }
}

void Domains::cannotTell(const std::string& what)
{
    if (!untracked_.empty())
        return;
    untracked_ = "this connection to xenstored may not " + what +
                 " (only dom0's may), so the daemon cannot tell which domains are introduced";
    log::warning("not following domains: ", untracked_);
    // Its special watches would never fire (they are dom0's to read), and
    // in a guest each costs one of the domain's quota of watches.
    for (auto path : {xs::IntroduceDomain, xs::ReleaseDomain})
        watches_.unsubscribe(link_.client(), WatchMultiplexer::Own, std::string(path), Token,
                             [](bool) {});
    watching_ = false;
}

// --- scans ---------------------------------------------------------------------

// One scan: the requests it sent and not yet answered, and the ListDomains
// calls it answers when it ends.
struct Domains::Round {
    size_t outstanding = 1;  // the scan itself, until it has sent everything
    std::set<uint32_t> asked;
    std::vector<Answer<std::vector<uint32_t>>> lists;
    bool lost = false;  // the connection went meanwhile
};

void Domains::want(unsigned scan)
{
    wanted_ |= scan;
    if (!scanning_)
        startScan();
}

void Domains::startScan()
{
    auto round = std::make_shared<Round>();
    const unsigned scan = wanted_;
    wanted_ = 0;
    if (scan & Newcomers && scan & Known) {
        round->lists = std::move(listsWaiting_);
        listsWaiting_.clear();
    }
    xs::Client* c = link_.client();
    if (!c || !untracked_.empty()) {
        // Reconnecting starts everything again; a guest cannot scan.
        round->lost = !c;
        return roundDone(round);
    }
    scanning_ = true;
    if (scan & Known)
        for (uint32_t d : introduced_)
            ask(*c, round, d);
    if (scan & Newcomers) {
        ++round->outstanding;
        c->directory(DomainsPath, xs::NoTransaction,
                     [this, round](xs::Result<std::vector<std::string>> r) {
                         if (r) {
                             if (xs::Client* c = link_.client())
                                 for (const auto& name : r.value())
                                     if (auto d = domidOf(name);
                                         d && !introduced_.count(*d) && !round->asked.count(*d))
                                         ask(*c, round, *d);
                         } else if (is(r.error(), "EACCES")) {
                             cannotTell(std::string("list ") + DomainsPath);
                         } else if (r.error().kind == xs::Error::Kind::Connection) {
                             round->lost = true;
                         }  // ENOENT: no domain has a home yet
                         roundDone(round);
                     });
    }
    roundDone(round);
}

void Domains::ask(xs::Client& client, const std::shared_ptr<Round>& round, uint32_t domid)
{
    round->asked.insert(domid);
    ++round->outstanding;
    client.isDomainIntroduced(domid, [this, round, domid](xs::Result<bool> r) {
        if (r)
            observe(domid, r.value());
        else if (is(r.error(), "EACCES"))
            cannotTell("ask whether a domain is introduced");
        else if (r.error().kind == xs::Error::Kind::Connection)
            round->lost = true;
        roundDone(round);
    });
}

void Domains::roundDone(const std::shared_ptr<Round>& round)
{
    if (--round->outstanding > 0)
        return;
    scanning_ = false;
    for (const auto& a : round->lists) {
        if (round->lost)
            a.fail(errors::NotConnected, a.what() + ": the connection to xenstored was lost");
        else if (!untracked_.empty())
            a.fail(errors::nameForErrno("EACCES"), a.what() + ": " + untracked_);
        else
            answerList(a);
    }
    checkVanished();
    if (wanted_ && link_.client())
        startScan();
}

// Nodes a released domain owned are gone, and XenStore told no watcher:
// each watched path that no longer exists gets its event.
void Domains::checkVanished()
{
    if (!vanishWanted_ || vanishChecking_)
        return;
    xs::Client* c = link_.client();
    if (!c)
        return;  // on reconnection every subscriber gets its event anyway
    vanishWanted_ = false;
    vanishChecking_ = true;
    auto left = std::make_shared<size_t>(1);
    auto done = [this, left] {
        if (--*left > 0)
            return;
        vanishChecking_ = false;
        checkVanished();  // releases seen meanwhile
    };
    for (const auto& path : watches_.watchedPaths()) {
        if (path.starts_with('@'))
            continue;
        ++*left;
        c->getPermissions(path, xs::NoTransaction,
                          [this, path, done](xs::Result<std::vector<std::string>> r) {
                              if (!r && is(r.error(), "ENOENT"))
                                  watches_.fire(path);
                              done();
                          });
    }
    done();
}

}  // namespace xsd
