// The domain operations against a real oxenstored, over both transports.
// With no hypervisor (and --no-domain-init) no domain exists, so what can be
// checked is what oxenstored answers then:
//   GET_DOMAIN_PATH n      -> /local/domain/n, for any n
//   IS_DOMAIN_INTRODUCED n -> F, even for 0
//   RELEASE n, RESUME n    -> EINVAL (no such domain)
//   SET_TARGET n m         -> ENOENT
//   INTRODUCE n mfn port   -> oxenstored dies of SIGSEGV in libxenforeignmemory
//                             (it maps the guest's ring page through the
//                             stubbed xenctrl handle), so it is not sent here;
//                             client_requests_test.cc checks its bytes.
#include "connected_client.h"

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
        EXPECT_FALSE(r.value()) << "domain " << domid;
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
