// Domains: XenStore's domain operations, and what the daemon adds to them.
//
// XenStore's special watches say only that *some* domain was introduced or
// released. The daemon keeps the set of domains it knows to be introduced
// and works out, on each such event, which ones came and went — from the
// children of /local/domain, from IS_DOMAIN_INTRODUCED (pipelined, one per
// domain to look at), from callers' IsDomainIntroduced answers, and from
// the introductions and releases it made itself. Subscribers
// (WatchDomains) get DomainIntroduced(domid) and DomainReleased(domid).
//
// It also tells watchers what XenStore does not: releasing a domain (or its
// death) deletes every node the domain owned without firing a watch. After
// a release the daemon looks at each path callers watch and sends a
// WatchEvent for each that is gone.
//
// Every observation is taken in the order xenstored answered, so the set
// moves as xenstored's did. A connection that may not ask (a guest's:
// IS_DOMAIN_INTRODUCED and /local/domain are dom0's) tracks nothing, and
// says so.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "daemon/answer.h"
#include "daemon/gate.h"
#include "daemon/watches.h"
#include "daemon/xenstore_link.h"

namespace xsd {

class Domains {
public:
    // Sends `member` (DomainIntroduced, DomainReleased) with `domid` to one
    // subscriber only.
    using Emit = std::function<void(const std::string& subscriber, const char* member, uint32_t domid)>;

    Domains(Gate& gate, XenStoreLink& link, WatchMultiplexer& watches, Emit emit);

    // org.xenproject.XenStore1's domain methods.
    void getDomainPath(const Answer<std::string>& a, uint32_t domid);
    void isDomainIntroduced(const Answer<bool>& a, uint32_t domid);
    void introduce(const Answer<>& a, uint32_t domid, uint64_t mfn, uint32_t port);
    void release(const Answer<>& a, uint32_t domid);
    void resume(const Answer<>& a, uint32_t domid);
    void setTarget(const Answer<>& a, uint32_t domid, uint32_t target);
    void watch(const Answer<>& a);
    void unwatch(const Answer<>& a);
    void list(const Answer<std::vector<uint32_t>>& a);

    // A new connection to xenstored: the daemon's own special watches are
    // placed (again), and their first events make it look at every domain.
    void onConnected(xs::Client& client);
    // An event of the daemon's own @introduceDomain/@releaseDomain watch.
    void onSpecialWatchEvent(const std::string& path);
    // The caller left the bus: its subscription goes.
    void callerLeft(const std::string& name);

    const std::set<uint32_t>& introduced() const { return introduced_; }
    size_t subscriberCount() const { return subscribers_.size(); }

private:
    // What a scan looks at: the children of /local/domain not known yet
    // (after @introduceDomain), the domains known (after @releaseDomain).
    enum Scan : unsigned { Newcomers = 1, Known = 2, Everything = 3 };
    struct Round;

    template <class... T>
    void domainCall(const Answer<T...>& a, Access access, std::vector<uint32_t> domids,
                    std::function<void(xs::Client&)> go);
    // xenstored said whether `domid` is introduced.
    void observe(uint32_t domid, bool introduced);
    void want(unsigned scan);
    void startScan();
    void ask(xs::Client& client, const std::shared_ptr<Round>& round, uint32_t domid);
    void roundDone(const std::shared_ptr<Round>& round);
    // xenstored refused to say (EACCES): this connection is not dom0's.
    void cannotTell(const std::string& what);
    void checkVanished();
    void answerList(const Answer<std::vector<uint32_t>>& a) const;

    Gate& gate_;
    XenStoreLink& link_;
    WatchMultiplexer& watches_;
    Emit emit_;

    std::set<uint32_t> introduced_;
    std::set<std::string> subscribers_;
    // The own special watches: placed once; the multiplexer keeps them
    // across reconnections.
    bool watching_ = false;
    // This connection may not ask (a guest's); until the next connection.
    std::string untracked_;

    unsigned wanted_ = 0;  // scans asked for and not started
    bool scanning_ = false;
    // ListDomains calls wait for a whole scan started after they came.
    std::vector<Answer<std::vector<uint32_t>>> listsWaiting_;
    // Releases seen whose vanished nodes are still to be looked for.
    bool vanishWanted_ = false;
    bool vanishChecking_ = false;
};

}  // namespace xsd
