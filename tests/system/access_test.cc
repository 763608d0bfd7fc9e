// The access decision: which rules match a caller, which prefixes cover a
// path (whole components only), and what a denial says.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/config/access.h"
#include "daemon/config/polkit_rules.h"

using namespace xsd;
using ::testing::HasSubstr;

namespace {

constexpr unsigned R = unsigned(Access::Read), W = unsigned(Access::Write),
                   Wa = unsigned(Access::Watch), A = unsigned(Access::Admin);

Rule uidRule(uint32_t uid, std::vector<std::string> prefixes, unsigned allow)
{
    return Rule{Rule::Subject::Uid, uid, std::to_string(uid), std::move(prefixes), allow};
}

Rule groupRule(uint32_t gid, std::vector<std::string> prefixes, unsigned allow)
{
    return Rule{Rule::Subject::Group, gid, "xenstore", std::move(prefixes), allow};
}

Rule polkitRule(std::string action, std::vector<std::string> prefixes, unsigned allow)
{
    return Rule{Rule::Subject::Anyone, 0, "anyone", std::move(prefixes), allow, std::move(action)};
}

Config withRules(std::vector<Rule> rules)
{
    Config c;
    c.rules = std::move(rules);
    c.source = "test.json";
    return c;
}

const Caller root{0, 0, {}};
const Caller nobody{65534, 65534, {}};

}  // namespace

TEST(AccessRules, PrefixesAreWholeComponents)
{
    Config c = withRules({uidRule(65534, {"/pub"}, R)});
    EXPECT_TRUE(allowed(c, nobody, Access::Read, "/pub"));
    EXPECT_TRUE(allowed(c, nobody, Access::Read, "/pub/a"));
    EXPECT_TRUE(allowed(c, nobody, Access::Read, "/pub/a/b"));
    EXPECT_FALSE(allowed(c, nobody, Access::Read, "/pubx"));
    EXPECT_FALSE(allowed(c, nobody, Access::Read, "/pubx/a"));
    EXPECT_FALSE(allowed(c, nobody, Access::Read, "/pu"));
    EXPECT_FALSE(allowed(c, nobody, Access::Read, "/"));
    EXPECT_FALSE(allowed(c, nobody, Access::Read, "/other/pub"));

    Config deep = withRules({uidRule(65534, {"/local/domain/5"}, R)});
    EXPECT_TRUE(allowed(deep, nobody, Access::Read, "/local/domain/5/name"));
    EXPECT_FALSE(allowed(deep, nobody, Access::Read, "/local/domain/50"));
    EXPECT_FALSE(allowed(deep, nobody, Access::Read, "/local/domain"));
}

TEST(AccessRules, RootPrefixCoversEveryAbsolutePathButNoSpecialOne)
{
    Config c = withRules({uidRule(65534, {"/"}, R | Wa)});
    EXPECT_TRUE(allowed(c, nobody, Access::Read, "/"));
    EXPECT_TRUE(allowed(c, nobody, Access::Read, "/a"));
    EXPECT_TRUE(allowed(c, nobody, Access::Watch, "/local/domain/0/name"));
    EXPECT_FALSE(allowed(c, nobody, Access::Watch, "@introduceDomain"));
    EXPECT_FALSE(allowed(c, nobody, Access::Watch, "@releaseDomain"));
}

TEST(AccessRules, AtCoversBothSpecialPathsAndNothingElse)
{
    Config c = withRules({uidRule(65534, {"@"}, Wa)});
    EXPECT_TRUE(allowed(c, nobody, Access::Watch, "@introduceDomain"));
    EXPECT_TRUE(allowed(c, nobody, Access::Watch, "@releaseDomain"));
    EXPECT_FALSE(allowed(c, nobody, Access::Watch, "/"));
    EXPECT_FALSE(allowed(c, nobody, Access::Watch, "/local"));

    Config one = withRules({uidRule(65534, {"@releaseDomain"}, Wa)});
    EXPECT_TRUE(allowed(one, nobody, Access::Watch, "@releaseDomain"));
    EXPECT_FALSE(allowed(one, nobody, Access::Watch, "@introduceDomain"));
}

TEST(AccessRules, RelativePathsAreDeniedUntilResolved)
{
    Config c = withRules({uidRule(0, {"/"}, R)});
    EXPECT_FALSE(allowed(c, root, Access::Read, "name"));
    EXPECT_FALSE(allowed(c, root, Access::Read, "data/x"));
    EXPECT_FALSE(allowed(c, root, Access::Read, ""));
    EXPECT_TRUE(allowed(c, root, Access::Read, "/local/domain/0/name"));
}

TEST(AccessRules, OnlyTheKindsARuleGrants)
{
    Config c = withRules({uidRule(65534, {"/pub", "@"}, R | Wa)});
    EXPECT_TRUE(allowed(c, nobody, Access::Read, "/pub/x"));
    EXPECT_TRUE(allowed(c, nobody, Access::Watch, "/pub/x"));
    EXPECT_FALSE(allowed(c, nobody, Access::Write, "/pub/x"));
    EXPECT_FALSE(allowed(c, nobody, Access::Admin, "/pub/x"));
    EXPECT_TRUE(allowed(c, nobody, Access::Watch, "@introduceDomain"));
    EXPECT_FALSE(allowed(c, nobody, Access::Read, "/priv"));
}

TEST(AccessRules, RulesAddUp)
{
    Config c = withRules({uidRule(1000, {"/a"}, R), uidRule(1000, {"/b"}, W),
                          groupRule(990, {"/c"}, Wa)});
    Caller alice{1000, 1000, {990}};
    EXPECT_TRUE(allowed(c, alice, Access::Read, "/a/1"));
    EXPECT_FALSE(allowed(c, alice, Access::Write, "/a/1"));
    EXPECT_TRUE(allowed(c, alice, Access::Write, "/b/1"));
    EXPECT_FALSE(allowed(c, alice, Access::Read, "/b/1"));
    EXPECT_TRUE(allowed(c, alice, Access::Watch, "/c"));
    EXPECT_FALSE(allowed(c, alice, Access::Watch, "/a"));
}

TEST(AccessRules, RulesMatchTheCallerOnly)
{
    Config c = withRules({uidRule(1000, {"/"}, R | W | Wa | A)});
    Caller alice{1000, 1000, {}};
    Caller bob{1001, 1000, {1000}};  // same groups as alice, another uid
    EXPECT_TRUE(allowed(c, alice, Access::Write, "/x"));
    EXPECT_FALSE(allowed(c, bob, Access::Write, "/x"));
    EXPECT_FALSE(allowed(c, root, Access::Write, "/x"));
}

TEST(AccessRules, GroupRulesMatchPrimaryAndSupplementaryGroups)
{
    Config c = withRules({groupRule(990, {"/local/domain", "@"}, R | Wa)});
    Caller supplementary{1000, 1000, {24, 990, 100}};
    Caller primary{1001, 990, {}};
    Caller outsider{1002, 1002, {24, 100}};
    EXPECT_TRUE(allowed(c, supplementary, Access::Read, "/local/domain/3/name"));
    EXPECT_TRUE(allowed(c, supplementary, Access::Watch, "@releaseDomain"));
    EXPECT_TRUE(allowed(c, primary, Access::Read, "/local/domain/3/name"));
    EXPECT_FALSE(allowed(c, outsider, Access::Read, "/local/domain/3/name"));
    EXPECT_FALSE(allowed(c, supplementary, Access::Write, "/local/domain/3/name"));

    // A group id is not a uid: uid 990 is not in group 990 by that alone.
    Caller uidLikeGid{990, 1000, {}};
    EXPECT_FALSE(allowed(c, uidLikeGid, Access::Read, "/local/domain"));
    // And a uid rule does not match a caller whose group has that number.
    Config byUid = withRules({uidRule(990, {"/"}, R)});
    EXPECT_FALSE(allowed(byUid, supplementary, Access::Read, "/x"));
}

TEST(AccessRules, NoRulesDenyEveryoneRootIncluded)
{
    Config none = withRules({});
    for (Access kind : {Access::Read, Access::Write, Access::Watch, Access::Admin}) {
        EXPECT_FALSE(allowed(none, root, kind, "/"));
        EXPECT_FALSE(allowed(none, nobody, kind, "/local"));
        EXPECT_FALSE(allowed(none, root, kind, "@introduceDomain"));
    }
    EXPECT_FALSE(hasAnyRule(none, root));
}

TEST(AccessRules, DefaultConfigLetsOnlyRootDoAnything)
{
    Config c = defaultConfig();
    Caller rootInGroups{0, 0, {1, 2}};
    Caller userInRootGroup{1000, 0, {0}};
    for (Access kind : {Access::Read, Access::Write, Access::Watch, Access::Admin}) {
        for (const char* path : {"/", "/local/domain/0/name", "@introduceDomain", "@releaseDomain"}) {
            EXPECT_TRUE(allowed(c, root, kind, path)) << accessName(kind) << " " << path;
            EXPECT_TRUE(allowed(c, rootInGroups, kind, path));
            EXPECT_FALSE(allowed(c, nobody, kind, path)) << accessName(kind) << " " << path;
            EXPECT_FALSE(allowed(c, userInRootGroup, kind, path));
        }
    }
}

TEST(AccessRules, DomainMethodsAreCheckedOnTheDomainsHome)
{
    EXPECT_EQ(domainAccessPath(0), "/local/domain/0");
    EXPECT_EQ(domainAccessPath(5), "/local/domain/5");
    Config c = withRules({uidRule(1000, {"/local/domain/5"}, A), uidRule(1000, {"/local/domain"}, R)});
    Caller alice{1000, 1000, {}};
    EXPECT_TRUE(allowed(c, alice, Access::Admin, domainAccessPath(5)));
    EXPECT_FALSE(allowed(c, alice, Access::Admin, domainAccessPath(50)));
    EXPECT_FALSE(allowed(c, alice, Access::Admin, domainAccessPath(0)));
    EXPECT_TRUE(allowed(c, alice, Access::Read, domainAccessPath(50)));
}

TEST(AccessRules, DenialsSayWhoWhatAndWhere)
{
    EXPECT_EQ(describeDenial(nobody, Access::Write, "/local/domain/0/name"),
              "uid 65534 may not write /local/domain/0/name");
    EXPECT_EQ(describeDenial(nobody, Access::Read, "/vm"), "uid 65534 may not read /vm");
    EXPECT_EQ(describeDenial(nobody, Access::Watch, "@introduceDomain"),
              "uid 65534 may not watch @introduceDomain");
    EXPECT_EQ(describeDenial(Caller{1000, 1000, {}}, Access::Admin, "/local/domain/5"),
              "uid 1000 may not administer /local/domain/5");
}

TEST(AccessRules, GateCheck)
{
    Config c = withRules({uidRule(65534, {"/pub"}, R)});
    std::string pub = "/pub/x", pubx = "/pubx";
    EXPECT_EQ(accessDenial(c, nobody, Access::Read, &pub), std::nullopt);
    EXPECT_EQ(accessDenial(c, nobody, Access::Read, &pubx),
              std::optional<std::string>("uid 65534 may not read /pubx"));
    EXPECT_EQ(accessDenial(c, nobody, Access::Write, &pub),
              std::optional<std::string>("uid 65534 may not write /pub/x"));

    // No path (StartTransaction): any rule naming the caller will do.
    EXPECT_EQ(accessDenial(c, nobody, Access::Write, nullptr), std::nullopt);
    auto denial = accessDenial(c, Caller{1000, 1000, {}}, Access::Write, nullptr);
    ASSERT_TRUE(denial);
    EXPECT_THAT(*denial, HasSubstr("uid 1000 may not use XenStore"));
    EXPECT_THAT(*denial, HasSubstr("test.json"));
}

TEST(AccessRules, Covers)
{
    EXPECT_TRUE(covers("/", "/"));
    EXPECT_TRUE(covers("/a", "/a"));
    EXPECT_TRUE(covers("/a", "/a/b"));
    EXPECT_FALSE(covers("/a", "/ab"));
    EXPECT_FALSE(covers("/a/b", "/a"));
    EXPECT_TRUE(covers("@", "@introduceDomain"));
    EXPECT_FALSE(covers("@", "/"));
    EXPECT_TRUE(covers("@introduceDomain", "@introduceDomain"));
    EXPECT_FALSE(covers("@introduceDomain", "@releaseDomain"));
}

TEST(AccessRules, StarCoversAnyOneComponent)
{
    EXPECT_TRUE(covers("/local/domain/*/data", "/local/domain/5/data"));
    EXPECT_TRUE(covers("/local/domain/*/data", "/local/domain/5/data/x/y"));
    EXPECT_FALSE(covers("/local/domain/*/data", "/local/domain/5/database"));
    EXPECT_FALSE(covers("/local/domain/*/data", "/local/domain/5"));
    EXPECT_FALSE(covers("/local/domain/*/data", "/local/domain/5/name"));
    EXPECT_FALSE(covers("/local/domain/*/data", "@introduceDomain"));
    EXPECT_TRUE(covers("/*", "/a"));
    EXPECT_FALSE(covers("/*", "/"));
    EXPECT_TRUE(covers("/*/*", "/a/b/c"));
    EXPECT_FALSE(covers("/*/*", "/a"));

    EXPECT_EQ(coveredSubtree("/local/domain/*/data", "/local/domain/5/data/x"),
              std::optional<std::string_view>("/local/domain/5/data"));
    EXPECT_EQ(coveredSubtree("/pub", "/pub/a/b"), std::optional<std::string_view>("/pub"));
    EXPECT_EQ(coveredSubtree("/", "/pub/a"), std::optional<std::string_view>("/"));
    EXPECT_EQ(coveredSubtree("@", "@releaseDomain"), std::optional<std::string_view>("@"));
    EXPECT_EQ(coveredSubtree("/pub", "/pubx"), std::nullopt);

    Config c = withRules({uidRule(65534, {"/local/domain/*/data"}, R)});
    EXPECT_TRUE(allowed(c, nobody, Access::Read, "/local/domain/7/data/k"));
    EXPECT_FALSE(allowed(c, nobody, Access::Read, "/local/domain/7/name"));
}

TEST(AccessRules, PolkitRulesAllowNothingByThemselves)
{
    Config c = withRules({polkitRule("org.xenproject.xenstore1.write", {"/pub"}, R | W)});
    EXPECT_FALSE(allowed(c, nobody, Access::Read, "/pub/x"));
    EXPECT_FALSE(allowed(c, root, Access::Write, "/pub/x"));
    // They name everyone, so StartTransaction is open to all; each call
    // inside still asks polkit.
    EXPECT_TRUE(hasAnyRule(c, nobody));

    Rule staffOnly = polkitRule("org.xenproject.xenstore1.write", {"/pub"}, W);
    staffOnly.subject = Rule::Subject::Gid;
    staffOnly.id = 50;
    Config g = withRules({staffOnly});
    EXPECT_FALSE(hasAnyRule(g, nobody));
    EXPECT_TRUE(hasAnyRule(g, Caller{1000, 1000, {50}}));
}

TEST(AccessRules, PolkitCandidatesAreTheRulesThatCouldAllow)
{
    Rule staff = polkitRule("org.example.staff", {"/team"}, W);
    staff.subject = Rule::Subject::Gid;
    staff.id = 50;
    Config c = withRules({
        uidRule(65534, {"/pub"}, R),                                           // 0: no polkit
        polkitRule("org.xenproject.xenstore1.write", {"/local/domain/*/data", "/local"}, W),  // 1
        polkitRule("org.xenproject.xenstore1.read", {"/local"}, R | Wa),       // 2
        staff,                                                                 // 3
        polkitRule("org.example.everything", {"/"}, W),                        // 4
    });
    using Cands = std::vector<PolkitCandidate>;
    EXPECT_EQ(polkitCandidates(c, nobody, Access::Write, "/local/domain/5/data/x"),
              (Cands{{1, "/local/domain/5/data"}, {4, "/"}}));
    EXPECT_EQ(polkitCandidates(c, nobody, Access::Write, "/local/domain/5/name"),
              (Cands{{1, "/local"}, {4, "/"}}));
    EXPECT_EQ(polkitCandidates(c, nobody, Access::Read, "/local/x"), (Cands{{2, "/local"}}));
    EXPECT_EQ(polkitCandidates(c, nobody, Access::Watch, "/local"), (Cands{{2, "/local"}}));
    EXPECT_EQ(polkitCandidates(c, nobody, Access::Read, "/pub/x"), Cands{});
    EXPECT_EQ(polkitCandidates(c, nobody, Access::Write, "/team/x"), (Cands{{4, "/"}}));
    EXPECT_EQ(polkitCandidates(c, Caller{1000, 1000, {50}}, Access::Write, "/team/x"),
              (Cands{{3, "/team"}, {4, "/"}}));
    EXPECT_EQ(polkitCandidates(c, nobody, Access::Write, "@introduceDomain"), Cands{});
    EXPECT_EQ(polkitCandidates(c, nobody, Access::Write, "relative"), Cands{});
}

TEST(AccessRules, PolkitActions)
{
    EXPECT_EQ(polkitActionFor(Access::Read), "org.xenproject.xenstore1.read");
    EXPECT_EQ(polkitActionFor(Access::Write), "org.xenproject.xenstore1.write");
    EXPECT_EQ(polkitActionFor(Access::Watch), "org.xenproject.xenstore1.watch");
    EXPECT_EQ(polkitActionFor(Access::Admin), "org.xenproject.xenstore1.admin");
    for (Access kind : {Access::Read, Access::Write, Access::Watch, Access::Admin})
        EXPECT_EQ(checkPolkitAction(polkitActionFor(kind)), std::nullopt);
    EXPECT_NE(checkPolkitAction("org.x..y"), std::nullopt);
}
