// The domain signals and ListDomains under the access rules, as an
// unprivileged caller (uid 65534) sees them: the signals follow the rules
// of the special watches they stand for, ListDomains the rules of each
// domain's home, as IsDomainIntroduced does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "tests/harness/guest.h"
#include "tests/system/system_stack.h"

using namespace xsd::test;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

namespace {

std::string config(const std::string& nobodyRule)
{
    return R"({"access": [
        {"uid": 0, "paths": ["/", "@"], "allow": ["read", "write", "watch", "admin"]},
        )" + nobodyRule + R"(
    ]})";
}

Stack::Options with(const std::string& nobodyRule)
{
    Stack::Options o;
    o.config = config(nobodyRule);
    return o;
}

}  // namespace

TEST(DomainsAccess, SignalsFollowTheRulesOfTheirSpecialWatch)
{
    // Nobody may watch @releaseDomain, not @introduceDomain.
    Stack stack(with(R"({"uid": 65534, "paths": ["/local/domain", "@releaseDomain"],
                         "allow": ["read", "watch"]})"));
    NobodyWatcher nobody(NobodyWatcher::Mode{{"watch-domains"}}, stack);
    ASSERT_TRUE(nobody.waitForLine("watch-domains: ok")) << nobody.transcript();
    auto root = stack.client();
    root->WatchDomains();

    GuestDomain g(stack.xenstored().dir(), 5);
    stack.xenstored().makeHome(5);
    root->IntroduceDomain(5, g.mfn(), g.port());
    root->ReleaseDomain(5);
    ASSERT_EQ(root->waitForDomainSignals(2).size(), 2u);
    EXPECT_TRUE(nobody.waitForLine("DomainReleased 5")) << nobody.transcript();
    EXPECT_FALSE(nobody.has("DomainIntroduced 5")) << nobody.transcript();
}

TEST(DomainsAccess, WatchDomainsNeedsOneOfTheSpecialWatches)
{
    Stack stack(with(R"({"uid": 65534, "paths": ["/local/domain"], "allow": ["read", "watch"]})"));
    auto r = busctlAsNobody(stack, "WatchDomains", {});
    EXPECT_NE(r.status, 0);
    EXPECT_THAT(r.err, HasSubstr("may watch neither @introduceDomain nor @releaseDomain"));
}

TEST(DomainsAccess, ListDomainsListsTheDomainsWhoseHomeTheCallerMayRead)
{
    Stack stack(with(R"({"uid": 65534, "paths": ["/local/domain/5"], "allow": ["read"]})"));
    auto root = stack.client();
    GuestDomain g5(stack.xenstored().dir(), 5), g6(stack.xenstored().dir(), 6);
    for (auto* g : {&g5, &g6}) {
        stack.xenstored().makeHome(g->domid());
        root->IntroduceDomain(g->domid(), g->mfn(), g->port());
    }
    EXPECT_EQ(root->ListDomains(), (std::vector<uint32_t>{5, 6}));
    auto r = busctlAsNobody(stack, "ListDomains", {});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "au 1 5\n");
    // Admin calls stay root's.
    auto release = busctlAsNobody(stack, "ReleaseDomain", {"u", "5"});
    EXPECT_NE(release.status, 0);
    EXPECT_THAT(release.err, HasSubstr("may not administer /local/domain/5"));
}
