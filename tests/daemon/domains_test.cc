// Domains through the daemon, against guests the real oxenstored serves
// (the harness's stand-in for the hypervisor: tests/harness/guest.h): the
// domain methods end to end, the special watches, the signals that carry
// the domid, ListDomains, and the WatchEvents XenStore never sends for the
// nodes a released domain owned.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <cstdlib>
#include <thread>

#include "tests/harness/call_failure.h"
#include "tests/harness/guest.h"
#include "tests/harness/stack.h"

using namespace xsd::test;
using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

namespace {

std::vector<std::pair<std::string, uint32_t>> members(const std::vector<DomainSignal>& signals)
{
    std::vector<std::pair<std::string, uint32_t>> out;
    for (const auto& s : signals)
        out.emplace_back(s.member, s.domid);
    return out;
}

class Domains : public ::testing::Test {
protected:
    Xenstored& xs() { return stack.xenstored(); }
    // A guest with a home, as a toolstack would make it, not introduced.
    std::unique_ptr<GuestDomain> guest(unsigned domid)
    {
        auto g = std::make_unique<GuestDomain>(xs().dir(), domid);
        xs().makeHome(domid);
        return g;
    }
    void introduce(Client& c, const GuestDomain& g) { c.IntroduceDomain(g.domid(), g.mfn(), g.port()); }
    // A client subscribed to the domain signals.
    std::unique_ptr<Client> subscriber()
    {
        auto c = stack.client();
        c->WatchDomains();
        return c;
    }
    // Waits a moment for signals that must not come.
    std::vector<DomainSignal> settled(const Client& c)
    {
        std::this_thread::sleep_for(300ms);
        return c.domainSignals();
    }

    Stack stack;
    std::unique_ptr<Client> c = stack.client();
};

}  // namespace

// --- the domain methods, end to end --------------------------------------------

TEST_F(Domains, IntroducedDomainIsServedThroughItsRing)
{
    auto g = guest(5);
    EXPECT_FALSE(c->IsDomainIntroduced(5));
    introduce(*c, *g);
    EXPECT_TRUE(c->IsDomainIntroduced(5));
    EXPECT_EQ(c->GetDomainPath(5), "/local/domain/5");
    GuestClient as5(*g);
    EXPECT_EQ(as5.read("domid"), "5");
    as5.write("data/hello", "from domain 5");
    EXPECT_EQ(c->Read("/local/domain/5/data/hello"), "from domain 5");
    EXPECT_THAT(c->GetPermissions("/local/domain/5/data/hello"), ElementsAre("n5"));
}

TEST_F(Domains, ReleaseTwiceOrOfAnUnknownDomainSaysItIsNotIntroduced)
{
    auto g = guest(5);
    introduce(*c, *g);
    c->ReleaseDomain(5);
    EXPECT_FALSE(c->IsDomainIntroduced(5));
    for (uint32_t d : {5u, 9u}) {
        auto [name, message] = errorAndMessage([&] { c->ReleaseDomain(d); });
        EXPECT_EQ(name, err("InvalidArgument")) << d;
        EXPECT_THAT(message, HasSubstr("domain " + std::to_string(d) + " is not introduced"));
        EXPECT_THAT(message, HasSubstr("(EINVAL)"));
    }
}

TEST_F(Domains, ResumeActsOnIntroducedDomainsOnly)
{
    auto g = guest(5);
    introduce(*c, *g);
    c->ResumeDomain(5);
    auto [name, message] = errorAndMessage([&] { c->ResumeDomain(7); });
    EXPECT_EQ(name, err("InvalidArgument"));
    EXPECT_THAT(message, HasSubstr("domain 7 is not introduced"));
}

TEST_F(Domains, SetTargetLetsADomainActOnItsTargetsNodes)
{
    auto g5 = guest(5), g8 = guest(8);
    introduce(*c, *g5);
    introduce(*c, *g8);
    GuestClient(*g8).write("data/disk", "img");
    GuestClient as5(*g5);
    EXPECT_EQ(as5.call(xs::MessageType::Read, {"/local/domain/8/data/disk"}).error(), "EACCES");

    c->SetTarget(5, 8);
    EXPECT_EQ(as5.read("/local/domain/8/data/disk"), "img");
    as5.write("/local/domain/8/data/state", "running");
    EXPECT_EQ(c->Read("/local/domain/8/data/state"), "running");

    auto [name, message] = errorAndMessage([&] { c->SetTarget(7, 8); });
    EXPECT_EQ(name, err("NoEntry"));
    EXPECT_THAT(message, HasSubstr("domain 7 is not introduced"));
}

TEST_F(Domains, IntroducingADomainXenstoredCannotMapSaysSo)
{
    auto [name, message] = errorAndMessage([&] { c->IntroduceDomain(9, 0x1234, 1); });  // no page
    EXPECT_EQ(name, err("InvalidArgument"));
    EXPECT_THAT(message, HasSubstr("cannot take domain 9"));
    EXPECT_FALSE(c->IsDomainIntroduced(9));
    EXPECT_TRUE(c->Connected());
}

TEST_F(Domains, SpecialWatchesFireForIntroduceReleaseShutdownAndDeath)
{
    auto g5 = guest(5), g6 = guest(6);
    c->Watch("@introduceDomain", "in");
    c->Watch("@releaseDomain", "out");
    ASSERT_EQ(c->waitForEvents(2).size(), 2u);
    auto count = [&](const std::string& token) {
        size_t n = 0;
        for (const auto& e : c->events())
            n += e.token == token;
        return n;
    };
    introduce(*c, *g5);
    EXPECT_TRUE(waitFor([&] { return count("in") == 2; }));
    c->ReleaseDomain(5);
    EXPECT_TRUE(waitFor([&] { return count("out") == 2; }));
    introduce(*c, *g6);
    EXPECT_TRUE(waitFor([&] { return count("in") == 3; }));
    g6->shutdown(0);
    EXPECT_TRUE(waitFor([&] { return count("out") == 3; }));
    EXPECT_TRUE(c->IsDomainIntroduced(6)) << "a shutdown leaves the domain introduced";
    g6->die();
    EXPECT_TRUE(waitFor([&] { return count("out") == 4; }));
    EXPECT_FALSE(c->IsDomainIntroduced(6));
}

// --- signals that carry the domid -------------------------------------------------

TEST_F(Domains, IntroduceAndReleaseThroughTheDaemonAreSignalled)
{
    auto s = subscriber();
    auto g = guest(5);
    EXPECT_THAT(c->ListDomains(), IsEmpty());
    introduce(*c, *g);
    auto signals = s->waitForDomainSignals(1);
    EXPECT_THAT(members(signals), ElementsAre(std::pair<std::string, uint32_t>{"DomainIntroduced", 5}));
    EXPECT_THAT(c->ListDomains(), ElementsAre(5u));
    c->ReleaseDomain(5);
    signals = s->waitForDomainSignals(2);
    ASSERT_EQ(signals.size(), 2u);
    EXPECT_EQ(signals[1].member, "DomainReleased");
    EXPECT_EQ(signals[1].domid, 5u);
    EXPECT_THAT(c->ListDomains(), IsEmpty());
    EXPECT_EQ(settled(*s).size(), 2u) << "one signal each";
}

TEST_F(Domains, DomainsIntroducedByAnotherToolAreSeenAndTheirDeathSignalled)
{
    auto s = subscriber();
    auto g5 = guest(5), g7 = guest(7);
    xs().introduce(*g5);  // the toolstack's own connection, not the daemon
    xs().introduce(*g7);
    auto signals = s->waitForDomainSignals(2);
    ASSERT_EQ(signals.size(), 2u);
    EXPECT_EQ(signals[0].member, "DomainIntroduced");
    EXPECT_EQ(signals[1].member, "DomainIntroduced");
    EXPECT_EQ(signals[0].domid + signals[1].domid, 12u);
    EXPECT_THAT(c->ListDomains(), ElementsAre(5u, 7u));

    // A shutdown fires @releaseDomain, yet domain 5 is still introduced.
    g5->shutdown(1);
    EXPECT_EQ(settled(*s).size(), 2u) << "no DomainReleased for a shutdown";
    EXPECT_THAT(c->ListDomains(), ElementsAre(5u, 7u));

    g5->die();
    signals = s->waitForDomainSignals(3);
    ASSERT_EQ(signals.size(), 3u);
    EXPECT_EQ(signals[2].member, "DomainReleased");
    EXPECT_EQ(signals[2].domid, 5u);
    g7->vanish();
    signals = s->waitForDomainSignals(4);
    ASSERT_EQ(signals.size(), 4u);
    EXPECT_EQ(signals[3].member, "DomainReleased");
    EXPECT_EQ(signals[3].domid, 7u);
    EXPECT_THAT(c->ListDomains(), IsEmpty());
}

TEST_F(Domains, ListDomainsSeesWhatChangedBeforeTheCall)
{
    auto g = guest(5);
    xs().introduce(*g);
    // No subscriber, no wait: the answer comes from a look taken after the
    // call, not from what the daemon had heard so far.
    EXPECT_THAT(c->ListDomains(), ElementsAre(5u));
    c->ReleaseDomain(5);
    EXPECT_THAT(c->ListDomains(), IsEmpty());
}

TEST_F(Domains, ADomainWithoutAHomeIsSeenOnceAskedAbout)
{
    auto s = subscriber();
    GuestDomain g(xs().dir(), 5);  // no /local/domain/5
    xs().introduce(g);
    EXPECT_THAT(c->ListDomains(), IsEmpty()) << "nothing says domain 5 exists";
    EXPECT_TRUE(c->IsDomainIntroduced(5));
    EXPECT_THAT(members(s->waitForDomainSignals(1)),
                ElementsAre(std::pair<std::string, uint32_t>{"DomainIntroduced", 5}));
    EXPECT_THAT(c->ListDomains(), ElementsAre(5u));
    g.die();
    EXPECT_EQ(s->waitForDomainSignals(2).size(), 2u);
}

TEST_F(Domains, SignalsGoToSubscribersOnly)
{
    auto s = subscriber();
    auto other = stack.client();  // its proxy listens for the signals too
    auto g = guest(5);
    introduce(*c, *g);
    c->ReleaseDomain(5);
    EXPECT_EQ(s->waitForDomainSignals(2).size(), 2u);
    EXPECT_THAT(settled(*other), IsEmpty());
    EXPECT_THAT(c->domainSignals(), IsEmpty());

    // Unsubscribed: nothing more.
    s->UnwatchDomains();
    introduce(*c, *g);
    EXPECT_EQ(settled(*s).size(), 2u);
    EXPECT_EQ(errorAndMessage([&] { s->UnwatchDomains(); }).first, err("NoEntry"));
    s->WatchDomains();
    EXPECT_EQ(errorAndMessage([&] { s->WatchDomains(); }).first, err("Exists"));
}

TEST_F(Domains, ASubscriberThatLeavesTheBusIsDropped)
{
    auto s = subscriber();
    auto name = s->connection().getUniqueName();
    s.reset();
    EXPECT_TRUE(waitFor([&] {
        return stack.daemonLog().find("WatchDomains of " + name + " ended") != std::string::npos;
    })) << stack.daemonLog();
    auto g = guest(5);
    introduce(*c, *g);  // nothing is sent to it
    EXPECT_EQ(stack.daemonLog().find("cannot send DomainIntroduced"), std::string::npos);
}

TEST_F(Domains, AReconnectionThatFindsDomainsGoneSignalsEach)
{
    auto s = subscriber();
    auto g5 = guest(5), g6 = guest(6);
    introduce(*c, *g5);
    introduce(*c, *g6);
    ASSERT_EQ(s->waitForDomainSignals(2).size(), 2u);
    xs().stop();
    xs().start();  // an empty store: only dom0 is introduced
    auto signals = s->waitForDomainSignals(4);
    ASSERT_EQ(signals.size(), 4u);
    EXPECT_EQ(signals[2].member, "DomainReleased");
    EXPECT_EQ(signals[3].member, "DomainReleased");
    EXPECT_EQ(signals[2].domid + signals[3].domid, 11u);
    EXPECT_TRUE(waitFor([&] { return c->Connected(); }));
    EXPECT_THAT(c->ListDomains(), IsEmpty());
}

// --- what XenStore does not tell watchers ---------------------------------------

TEST_F(Domains, AWatcherOfAReleasedDomainsNodeIsToldOfItsRemoval)
{
    auto g = guest(5);
    introduce(*c, *g);
    GuestClient(*g).write("data/x", "owned by 5");
    xs().write("/elsewhere", "stays");
    auto w = stack.client();
    w->WatchDomains();
    w->Watch("/local/domain/5/data/x", "x");
    w->Watch("/local/domain/5/domid", "home");  // dom0's node: it stays
    w->Watch("/elsewhere", "else");
    ASSERT_EQ(w->waitForEvents(3).size(), 3u);

    g->die();
    auto signals = w->waitForDomainSignals(1);
    ASSERT_EQ(signals.size(), 1u);
    EXPECT_EQ(signals[0].member, "DomainReleased");
    auto events = w->waitForEvents(4);
    ASSERT_EQ(events.size(), 4u);
    EXPECT_EQ(events[3], (WatchEvent{"/local/domain/5/data/x", "x"}));
    EXPECT_EQ(signals[0].watchEventsBefore, 3u) << "the WatchEvent follows DomainReleased";
    EXPECT_EQ(errorOf([&] { w->Read("/local/domain/5/data/x"); }), err("NoEntry"));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(w->events().size(), 4u) << "nothing for paths that still exist";
}

TEST_F(Domains, AWatcherIsToldAfterAReleaseThroughTheDaemonToo)
{
    auto g = guest(5);
    introduce(*c, *g);
    GuestClient(*g).write("data/x", "1");
    auto w = stack.client();  // not subscribed to domains
    w->Watch("/local/domain/5/data", "d");
    ASSERT_EQ(w->waitForEvents(1).size(), 1u);
    c->ReleaseDomain(5);
    auto events = w->waitForEvents(2);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1], (WatchEvent{"/local/domain/5/data", "d"}));
}

// --- the README's example ----------------------------------------------------

TEST_F(Domains, TheReadmesMonitorExampleSeesEachDomainComeAndGo)
{
    auto g5 = guest(5), g7 = guest(7);
    introduce(*c, *g7);
    TempDir dir("watch-domains");
    const std::string log = dir / "out";
    Process monitor = Process::logging(
        {"/usr/bin/python3", std::string(std::getenv("XSD_EXAMPLES")) + "/watch-domains.py",
         stack.address()},
        log, {});
    auto printed = [&](const std::string& line) {
        return waitFor([&] { return readFile(log).find(line + "\n") != std::string::npos; });
    };
    ASSERT_TRUE(printed("introduced: 7")) << readFile(log);
    introduce(*c, *g5);
    EXPECT_TRUE(printed("DomainIntroduced 5")) << readFile(log);
    g5->die();
    EXPECT_TRUE(printed("DomainReleased 5")) << readFile(log);
    c->ReleaseDomain(7);
    EXPECT_TRUE(printed("DomainReleased 7")) << readFile(log);
}
