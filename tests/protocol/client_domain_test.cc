// The domain operations against a real oxenstored, over both transports.
// oxenstored runs with domain init and the harness's stand-in for the
// hypervisor (tests/harness/xenstored-shim.c), so guest domains exist,
// are introduced, served through their rings, shut down, die and vanish:
//   GET_DOMAIN_PATH n      -> /local/domain/n, for any n
//   IS_DOMAIN_INTRODUCED n -> T for dom0 and for introduced guests, else F
//   INTRODUCE n mfn port   -> OK; @introduceDomain fires; the guest is
//                             served; again with the same mfn: OK, no event
//   RELEASE n              -> OK, @releaseDomain fires, the domain's own
//                             nodes are deleted without firing any watch;
//                             a second time (or an unknown domain): EINVAL
//   RESUME n               -> OK for an introduced domain, else EINVAL
//   SET_TARGET n m         -> OK for introduced n, else ENOENT
#include <future>

#include "connected_client.h"
#include "tests/harness/guest.h"

using namespace xs;
using namespace xs::test;

namespace {

class DomainOps : public ConnectedClient {};

}  // namespace

INSTANTIATE_TEST_SUITE_P(, DomainOps, bothTransports(), viaName);

TEST_P(DomainOps, GetDomainPath)
{
    for (uint32_t domid : {0u, 7u, 65535u}) {
        auto p = await<std::string>([&](auto d) { client->getDomainPath(domid, d); });
        ASSERT_TRUE(p) << p.error().message;
        EXPECT_EQ(p.value(), "/local/domain/" + std::to_string(domid));
    }
    EXPECT_EQ(xsd.countAccessLog({"getdomain", " 65535 "}), 1) << xsd.accessLog();
}

TEST_P(DomainOps, IsDomainIntroduced)
{
    for (uint32_t domid : {0u, 5u}) {
        auto r = await<bool>([&](auto d) { client->isDomainIntroduced(domid, d); });
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_EQ(r.value(), domid == 0) << "domain " << domid;  // dom0: domain init
    }
    EXPECT_EQ(xsd.countAccessLog({"is introduced 5 "}), 1) << xsd.accessLog();
}

TEST_P(DomainOps, ReleaseResumeSetTargetOfDomainsThatDoNotExist)
{
    auto release = await<Unit>([&](auto d) { client->release(5, d); });
    ASSERT_FALSE(release);
    EXPECT_EQ(release.error().kind, Error::Kind::XenStore);
    EXPECT_EQ(release.error().errnoName, "EINVAL");
    EXPECT_EQ(release.error().message, "RELEASE domain 5: EINVAL (invalid argument)");

    auto resume = await<Unit>([&](auto d) { client->resume(5, d); });
    ASSERT_FALSE(resume);
    EXPECT_EQ(resume.error().errnoName, "EINVAL");

    auto target = await<Unit>([&](auto d) { client->setTarget(5, 6, d); });
    ASSERT_FALSE(target);
    EXPECT_EQ(target.error().errnoName, "ENOENT");

    EXPECT_EQ(xsd.countAccessLog({"release", " 5 "}), 1) << xsd.accessLog();
    EXPECT_EQ(xsd.countAccessLog({"resume", " 5 "}), 1) << xsd.accessLog();
    EXPECT_EQ(xsd.countAccessLog({"settarget", " 5 6 "}), 1) << xsd.accessLog();
    EXPECT_TRUE(client->connected());
}

TEST_P(DomainOps, IntroduceIsCheckedBeforeSending)
{
    auto r = await<Unit>([&](auto d) { client->introduce(65536, 1, 1, d); });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::Invalid);
    // Nothing reached oxenstored, and it is still there to answer.
    EXPECT_EQ(xsd.countAccessLog({"introduce"}), 0) << xsd.accessLog();
    EXPECT_TRUE(read("/").ok());
}

// --- guests, through the harness's stand-in for the hypervisor ---------------

namespace {

using namespace std::chrono_literals;
using xsd::test::GuestClient;
using xsd::test::GuestDomain;

class Guests : public ConnectedClient {
protected:
    bool introduced(uint32_t domid)
    {
        auto r = await<bool>([&](auto d) { client->isDomainIntroduced(domid, d); });
        EXPECT_TRUE(r) << r.error().message;
        return r && r.value();
    }
    Result<Unit> introduce(const GuestDomain& g)
    {
        return await<Unit>([&](auto d) { client->introduce(g.domid(), g.mfn(), g.port(), d); });
    }
    Result<Unit> release(uint32_t domid)
    {
        return await<Unit>([&](auto d) { client->release(domid, d); });
    }
    // Watches @introduceDomain and @releaseDomain, and takes their initial
    // events.
    void watchSpecials()
    {
        ASSERT_TRUE(await<Unit>([&](auto d) { client->watch("@introduceDomain", "in", d); }));
        ASSERT_TRUE(await<Unit>([&](auto d) { client->watch("@releaseDomain", "out", d); }));
        ASSERT_TRUE(loop.runUntil([&] { return eventsFor("in") == 1 && eventsFor("out") == 1; }));
    }

    GuestDomain guest{xsd.dir(), 5};
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(, Guests, bothTransports(), viaName);

TEST_P(Guests, IntroducedGuestIsServedThroughItsRingAsItsDomain)
{
    xsd.makeHome(5);
    watchSpecials();
    ASSERT_TRUE(introduce(guest)) << "INTRODUCE";
    EXPECT_TRUE(loop.runUntil([&] { return eventsFor("in") == 2; })) << "@introduceDomain fired";
    EXPECT_TRUE(introduced(5));

    GuestClient g(guest);
    // Relative paths are the guest's home; its own nodes are its own.
    EXPECT_EQ(g.read("domid"), "5");
    g.write("data/x", "from the guest");
    EXPECT_EQ(xsd.read("/local/domain/5/data/x"), "from the guest");
    EXPECT_EQ(g.call(xs::MessageType::GetPerms, {"data/x"}).payload, std::string("n5\0", 3));
    // dom0's nodes are not.
    xsd.write("/secret", "s");
    EXPECT_EQ(g.call(xs::MessageType::Read, {"/secret"}).error(), "EACCES");
    EXPECT_EQ(g.call(xs::MessageType::Write, {"/local/domain/5/name", "x"}).error(), "EACCES");
    // Nor may a guest act as a toolstack.
    EXPECT_EQ(g.call(xs::MessageType::IsDomainIntroduced, {"5"}).error(), "EACCES");
}

TEST_P(Guests, WatchEventsReachTheGuestByNotification)
{
    xsd.makeHome(5);
    xsd.introduce(guest);
    GuestClient g(guest);
    g.watch("data", "t");
    auto first = g.nextWatchEvent(5s);
    ASSERT_TRUE(first);
    EXPECT_EQ(*first, (GuestClient::WatchEvent{"data", "t"}));
    // The guest waits on its event channel only: the event comes when
    // xenstored notifies.
    ASSERT_TRUE(write("/local/domain/5/data/y", "1"));
    auto next = g.nextWatchEvent(5s);
    ASSERT_TRUE(next);
    EXPECT_EQ(*next, (GuestClient::WatchEvent{"data/y", "t"}));
}

TEST_P(Guests, RequestsWrittenBeforeTheIntroductionAreAnsweredOnIt)
{
    xsd.makeHome(5);
    auto answer = std::async(std::launch::async, [&] {
        GuestClient g(guest);
        return g.read("domid");
    });
    EXPECT_EQ(answer.wait_for(300ms), std::future_status::timeout) << "served before INTRODUCE";
    ASSERT_TRUE(introduce(guest));
    EXPECT_EQ(answer.get(), "5");
}

TEST_P(Guests, ReleaseDeletesTheDomainsNodesWithoutFiringWatches)
{
    xsd.makeHome(5);
    xsd.introduce(guest);
    GuestClient(guest).write("data/x", "1");
    watchSpecials();
    ASSERT_TRUE(await<Unit>([&](auto d) { client->watch("/local/domain/5/data/x", "x", d); }));
    ASSERT_TRUE(loop.runUntil([&] { return eventsFor("x") == 1; }));

    ASSERT_TRUE(release(5));
    EXPECT_TRUE(loop.runUntil([&] { return eventsFor("out") == 2; })) << "@releaseDomain fired";
    EXPECT_FALSE(introduced(5));
    EXPECT_EQ(read("/local/domain/5/data/x").error().errnoName, "ENOENT");
    EXPECT_EQ(read("/local/domain/5/data").error().errnoName, "ENOENT");
    EXPECT_EQ(read("/local/domain/5/domid").value(), "5") << "dom0's own nodes stay";
    loop.runFor(200ms);
    EXPECT_EQ(eventsFor("x"), 1u) << "no watch fired for the deleted node";

    auto again = release(5);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().errnoName, "EINVAL");
}

TEST_P(Guests, ShutdownFiresReleaseDomainButLeavesTheDomainIntroduced)
{
    xsd.makeHome(5);
    xsd.introduce(guest);
    watchSpecials();
    guest.shutdown(0);
    EXPECT_TRUE(loop.runUntil([&] { return eventsFor("out") == 2; }));
    EXPECT_TRUE(introduced(5));
    // Then it dies: released.
    guest.die();
    EXPECT_TRUE(loop.runUntil([&] { return eventsFor("out") == 3; }));
    EXPECT_FALSE(introduced(5));
}

TEST_P(Guests, AGuestThatVanishesIsReleased)
{
    xsd.makeHome(5);
    xsd.introduce(guest);
    GuestClient(guest).write("data/x", "1");
    watchSpecials();
    guest.vanish();
    EXPECT_TRUE(loop.runUntil([&] { return eventsFor("out") == 2; }));
    EXPECT_FALSE(introduced(5));
    EXPECT_EQ(read("/local/domain/5/data/x").error().errnoName, "ENOENT");
}

TEST_P(Guests, AVirqWithNothingChangedReleasesNothing)
{
    xsd.makeHome(5);
    xsd.introduce(guest);
    xsd::test::raiseDomExc(xsd.dir());
    EXPECT_TRUE(introduced(5));
    EXPECT_EQ(GuestClient(guest).read("domid"), "5");
}

TEST_P(Guests, ASecondIntroductionKeepsTheGuestServed)
{
    xsd.makeHome(5);
    watchSpecials();
    ASSERT_TRUE(introduce(guest));
    ASSERT_TRUE(introduce(guest));
    EXPECT_TRUE(loop.runUntil([&] { return eventsFor("in") == 2; }));
    loop.runFor(100ms);
    EXPECT_EQ(eventsFor("in"), 2u) << "only the first introduction fires";
    GuestClient g(guest);
    EXPECT_EQ(g.read("domid"), "5");
    // A different page for the same domain is refused.
    auto other = await<Unit>([&](auto d) { client->introduce(5, guest.mfn() + 1, guest.port(), d); });
    ASSERT_FALSE(other);
    EXPECT_EQ(g.read("name"), "guest-5");
}

TEST_P(Guests, IntroducingADomainThatDoesNotExistFails)
{
    auto r = await<Unit>([&](auto d) { client->introduce(9, 1, 1, d); });  // no page for 9
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errnoName, "EINVAL");
    EXPECT_FALSE(introduced(9));
    EXPECT_TRUE(client->connected());
}

TEST_P(Guests, SetTargetAndResumeActOnIntroducedDomains)
{
    GuestDomain dm(xsd.dir(), 6);
    for (auto* g : {&guest, &dm}) {
        xsd.makeHome(g->domid());
        xsd.introduce(*g);
    }
    // Domain 6 may not touch 5's nodes, until it is 5's device model.
    GuestClient six(dm);
    EXPECT_EQ(six.call(xs::MessageType::Write, {"/local/domain/5/data/dm", "x"}).error(), "EACCES");
    ASSERT_TRUE(await<Unit>([&](auto d) { client->setTarget(6, 5, d); }));
    EXPECT_TRUE(six.call(xs::MessageType::Write, {"/local/domain/5/data/dm", "x"}).ok());
    EXPECT_EQ(xsd.read("/local/domain/5/data/dm"), "x");

    EXPECT_TRUE(await<Unit>([&](auto d) { client->resume(5, d); }));
    auto unknown = await<Unit>([&](auto d) { client->setTarget(7, 5, d); });
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().errnoName, "ENOENT");
}

// The guest's side: the client on the XenBus device of domain 5, as in a
// guest, where the device is that domain's ring.
TEST(GuestDevice, AClientOnAGuestsXenbusDeviceIsThatDomain)
{
    xsd::test::Xenstored xsd;
    GuestDomain guest(xsd.dir(), 5);
    xsd.makeHome(5);
    xsd.introduce(guest);
    xsd::test::PtyRelay relay(guest);
    xsd::test::EventLoop loop;
    std::vector<std::string> seen;
    Client::Handlers h;
    h.watchEvent = [&](const std::string& path, const std::string&) { seen.push_back(path); };
    std::string why;
    int fd = openTransport({Backend::Kind::XenBus, relay.devicePath()}, &why);
    ASSERT_GE(fd, 0) << why;
    Client c(loop.get(), fd, h);
    std::optional<Result<std::string>> domid;
    c.read("domid", NoTransaction, [&](Result<std::string> r) { domid.emplace(std::move(r)); });
    ASSERT_TRUE(loop.runUntil([&] { return domid.has_value(); }));
    ASSERT_TRUE(*domid) << domid->error().message;
    EXPECT_EQ(domid->value(), "5");

    std::optional<Result<std::string>> secret;
    xsd.write("/secret", "s");
    c.read("/secret", NoTransaction, [&](Result<std::string> r) { secret.emplace(std::move(r)); });
    ASSERT_TRUE(loop.runUntil([&] { return secret.has_value(); }));
    ASSERT_FALSE(*secret);
    EXPECT_EQ(secret->error().errnoName, "EACCES");

    bool watching = false;
    c.watch("data", "t", [&](Result<Unit> r) { watching = r.ok(); });
    ASSERT_TRUE(loop.runUntil([&] { return seen.size() == 1; }));
    EXPECT_TRUE(watching);
    xsd.write("/local/domain/5/data/x", "1");
    ASSERT_TRUE(loop.runUntil([&] { return seen.size() == 2; }));
    EXPECT_EQ(seen[1], "data/x");
    EXPECT_EQ(xsd.countAccessLog({"D5", "read", "domid"}), 1) << xsd.accessLog();
}
