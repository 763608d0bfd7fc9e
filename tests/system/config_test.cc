// The configuration file: API.md's format is accepted as written, and every
// mistake is refused with a message that names the field and the value.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <system_error>

#include "daemon/config/config.h"
#include "tests/harness/process.h"

using namespace xsd;
using ::testing::HasSubstr;

namespace {

// Accounts that exist only in these tests.
NameResolver fakeAccounts()
{
    static const std::map<std::string, uint32_t> users = {{"backup", 34}, {"alice", 1000}};
    static const std::map<std::string, uint32_t> groups = {{"xenstore", 990}, {"staff", 50}};
    auto find = [](const std::map<std::string, uint32_t>& m,
                   const std::string& name) -> std::optional<uint32_t> {
        if (name == "unreachable")
            throw std::system_error(EIO, std::generic_category(), "getpwnam_r");
        auto it = m.find(name);
        if (it == m.end())
            return std::nullopt;
        return it->second;
    };
    return {[=](const std::string& n) { return find(users, n); },
            [=](const std::string& n) { return find(groups, n); }};
}

Config parse(const std::string& json)
{
    return parseConfig(json, "test.json", fakeAccounts());
}

// The error a configuration gets; fails the test if it is accepted.
ConfigError refused(const std::string& json)
{
    try {
        parse(json);
    } catch (const ConfigError& e) {
        return e;
    }
    ADD_FAILURE() << "accepted: " << json;
    return ConfigError("", "", "");
}

// A configuration with one rule whose body is `rule`.
std::string withRule(const std::string& rule)
{
    return R"({"access": [)" + rule + "]}";
}

const char* apiExample = R"({
  "xenstore": "auto",
  "access": [
    {"uid": 0, "paths": ["/", "@"], "allow": ["read", "write", "watch", "admin"]},
    {"group": "xenstore", "paths": ["/local/domain", "@"], "allow": ["read", "watch"]},
    {"user": "backup", "paths": ["/vm"], "allow": ["read"]}
  ],
  "limits": {
    "watches_per_caller": 256,
    "transactions_per_caller": 8,
    "pending_calls_per_caller": 64,
    "transaction_idle_timeout_s": 60
  }
})";

}  // namespace

TEST(ConfigFile, ApiExampleIsAcceptedAsWritten)
{
    Config c = parse(apiExample);
    EXPECT_EQ(c.xenstore, "auto");
    EXPECT_EQ(c.source, "test.json");
    ASSERT_EQ(c.rules.size(), 3u);

    EXPECT_EQ(c.rules[0].subject, Rule::Subject::Uid);
    EXPECT_EQ(c.rules[0].id, 0u);
    EXPECT_EQ(c.rules[0].prefixes, (std::vector<std::string>{"/", "@"}));
    EXPECT_EQ(c.rules[0].allow, AllAccess);

    EXPECT_EQ(c.rules[1].subject, Rule::Subject::Group);
    EXPECT_EQ(c.rules[1].id, 990u);
    EXPECT_EQ(c.rules[1].name, "xenstore");
    EXPECT_EQ(c.rules[1].allow, unsigned(Access::Read) | unsigned(Access::Watch));

    EXPECT_EQ(c.rules[2].subject, Rule::Subject::User);
    EXPECT_EQ(c.rules[2].id, 34u);
    EXPECT_EQ(c.rules[2].prefixes, std::vector<std::string>{"/vm"});
    EXPECT_EQ(c.rules[2].allow, unsigned(Access::Read));

    EXPECT_EQ(c.limits.watchesPerCaller, 256u);
    EXPECT_EQ(c.limits.transactionsPerCaller, 8u);
    EXPECT_EQ(c.limits.pendingCallsPerCaller, 64u);
    EXPECT_EQ(c.limits.transactionIdleTimeoutS, 60u);
}

TEST(ConfigFile, InstalledExampleIsValid)
{
    Config c = loadConfig(XSD_EXAMPLE_CONFIG, true, fakeAccounts());
    ASSERT_EQ(c.rules.size(), 2u);
    EXPECT_EQ(c.rules[1].subject, Rule::Subject::Group);
    EXPECT_EQ(c.rules[1].name, "xenstore");
}

TEST(ConfigFile, ShippedDefaultAllowsRootAloneWithTheDefaultLimits)
{
    // The package's conffile says explicitly what having no file means.
    Config c = loadConfig(XSD_SHIPPED_CONFIG, true, fakeAccounts());
    ASSERT_EQ(c.rules.size(), 1u);
    EXPECT_EQ(c.rules[0].subject, Rule::Subject::Uid);
    EXPECT_EQ(c.rules[0].id, 0u);
    EXPECT_EQ(c.rules[0].allow, AllAccess);
    EXPECT_EQ(c.rules[0].prefixes, defaultConfig().rules[0].prefixes);
    EXPECT_EQ(c.xenstore, "auto");
    Limits defaults;
    EXPECT_EQ(c.limits.watchesPerCaller, defaults.watchesPerCaller);
    EXPECT_EQ(c.limits.transactionsPerCaller, defaults.transactionsPerCaller);
    EXPECT_EQ(c.limits.pendingCallsPerCaller, defaults.pendingCallsPerCaller);
    EXPECT_EQ(c.limits.transactionIdleTimeoutS, defaults.transactionIdleTimeoutS);
    EXPECT_EQ(c.limits.queuedWatchEvents, defaults.queuedWatchEvents);
    EXPECT_EQ(c.limits.pendingCallsTotal, defaults.pendingCallsTotal);
    EXPECT_EQ(c.limits.xenstoredTimeoutS, defaults.xenstoredTimeoutS);
    EXPECT_EQ(c.limits.atomicCallRetries, defaults.atomicCallRetries);
    EXPECT_EQ(c.limits.polkitTimeoutS, defaults.polkitTimeoutS);
    EXPECT_EQ(c.limits.polkitInteractiveTimeoutS, defaults.polkitInteractiveTimeoutS);
}

TEST(ConfigFile, InstalledDesktopExampleIsValid)
{
    Config c = loadConfig(XSD_EXAMPLE_DESKTOP_CONFIG, true, fakeAccounts());
    ASSERT_EQ(c.rules.size(), 6u);
    EXPECT_EQ(c.rules[2].subject, Rule::Subject::Anyone);
    EXPECT_EQ(c.rules[2].polkit, "org.xenproject.xenstore1.read");
    EXPECT_EQ(c.rules[4].prefixes, std::vector<std::string>{"/local/domain/*/data"});
    EXPECT_EQ(c.rules[5].subject, Rule::Subject::Group);
    EXPECT_EQ(c.rules[5].polkit, "org.xenproject.xenstore1.admin");
}

TEST(ConfigFile, OmittedPartsTakeApiDefaults)
{
    Config c = parse(R"({"access": [{"gid": 50, "paths": ["/a"], "allow": ["watch"]}],
                         "limits": {"transactions_per_caller": 3}})");
    EXPECT_EQ(c.xenstore, "auto");
    EXPECT_EQ(c.rules[0].subject, Rule::Subject::Gid);
    EXPECT_EQ(c.rules[0].id, 50u);
    EXPECT_EQ(c.limits.transactionsPerCaller, 3u);
    EXPECT_EQ(c.limits.watchesPerCaller, 256u);
    EXPECT_EQ(c.limits.pendingCallsPerCaller, 64u);
    EXPECT_EQ(c.limits.transactionIdleTimeoutS, 60u);
    EXPECT_EQ(c.limits.queuedWatchEvents, 262144u);
    EXPECT_EQ(c.limits.pendingCallsTotal, 4096u);
    EXPECT_EQ(c.limits.xenstoredTimeoutS, 10u);
    EXPECT_EQ(parse(R"({"access": [], "limits": {"queued_watch_events": 5000}})").limits.queuedWatchEvents,
              5000u);
    EXPECT_EQ(c.limits.atomicCallRetries, 5u);
    EXPECT_EQ(parse(R"({"access": [], "limits": {"atomic_call_retries": 2}})").limits.atomicCallRetries,
              2u);
    EXPECT_EQ(refused(R"({"access": [], "limits": {"atomic_call_retries": 101}})").problem(),
              "expected a positive integer up to 100, got 101");
}

TEST(ConfigFile, XenstoredIsAnsweredForBeforeACallerGivesUp)
{
    // A D-Bus caller waits 25 s by default: the daemon says why first.
    Config c = parse(R"({"access": [], "limits": {"xenstored_timeout_s": 24, "pending_calls_total": 100}})");
    EXPECT_EQ(c.limits.xenstoredTimeoutS, 24u);
    EXPECT_EQ(c.limits.pendingCallsTotal, 100u);
    auto late = refused(R"({"access": [], "limits": {"xenstored_timeout_s": 25}})");
    EXPECT_EQ(late.field(), "limits.xenstored_timeout_s");
    EXPECT_EQ(late.problem(), "expected a positive integer up to 24, got 25");
    EXPECT_EQ(refused(R"({"access": [], "limits": {"pending_calls_total": 0}})").field(),
              "limits.pending_calls_total");
}

TEST(ConfigFile, EmptyRuleListIsAllowedButNoRuleListIsNot)
{
    EXPECT_TRUE(parse(R"({"access": []})").rules.empty());
    auto e = refused(R"({"xenstore": "auto"})");
    EXPECT_EQ(e.field(), "access");
    EXPECT_THAT(e.what(), HasSubstr("missing"));
}

TEST(ConfigFile, MessageStartsWithTheSourceAndField)
{
    auto e = refused(withRule(R"({"uid": 0, "paths": ["/"], "allow": ["read", "exec"]})"));
    EXPECT_STREQ(e.what(), "test.json: access[0].allow[1]: unknown access kind \"exec\" "
                           "(expected read, write, watch or admin)");
}

TEST(ConfigFile, UnknownAccessKindNamesItsIndex)
{
    auto e = refused(R"({"access": [
        {"uid": 0, "paths": ["/"], "allow": ["read"]},
        {"uid": 1, "paths": ["/"], "allow": ["read", "write", "exec"]}]})");
    EXPECT_EQ(e.field(), "access[1].allow[2]");
    EXPECT_EQ(e.problem(), "unknown access kind \"exec\" (expected read, write, watch or admin)");
    EXPECT_EQ(refused(withRule(R"({"uid": 0, "paths": ["/"], "allow": [7]})")).field(),
              "access[0].allow[0]");
    EXPECT_EQ(refused(withRule(R"({"uid": 0, "paths": ["/"], "allow": []})")).field(),
              "access[0].allow");
    EXPECT_EQ(refused(withRule(R"({"uid": 0, "paths": ["/"], "allow": "read"})")).field(),
              "access[0].allow");
    EXPECT_EQ(refused(withRule(R"({"uid": 0, "paths": ["/"]})")).field(), "access[0].allow");
}

TEST(ConfigFile, UnknownKeysAreNamedWherever)
{
    auto top = refused(R"({"access": [], "acess": []})");
    EXPECT_EQ(top.field(), "acess");
    EXPECT_THAT(top.problem(), HasSubstr("unknown key"));

    auto rule = refused(withRule(R"({"usr": "alice", "paths": ["/"], "allow": ["read"]})"));
    EXPECT_EQ(rule.field(), "access[0].usr");
    EXPECT_THAT(rule.problem(), HasSubstr("unknown key"));

    auto limit = refused(R"({"access": [], "limits": {"watches": 5}})");
    EXPECT_EQ(limit.field(), "limits.watches");
    EXPECT_THAT(limit.problem(), HasSubstr("watches_per_caller"));
}

TEST(ConfigFile, RuleNamesExactlyOneSubject)
{
    auto both = refused(withRule(R"({"uid": 0, "user": "alice", "paths": ["/"], "allow": ["read"]})"));
    EXPECT_EQ(both.field(), "access[0]");
    EXPECT_THAT(both.problem(), HasSubstr("\"uid\" and \"user\""));
    EXPECT_THAT(both.problem(), HasSubstr("exactly one"));

    auto groups = refused(withRule(R"({"gid": 1, "group": "staff", "paths": ["/"], "allow": ["read"]})"));
    EXPECT_THAT(groups.problem(), HasSubstr("\"gid\" and \"group\""));

    auto none = refused(withRule(R"({"paths": ["/"], "allow": ["read"]})"));
    EXPECT_EQ(none.field(), "access[0]");
    EXPECT_THAT(none.problem(), HasSubstr("none of uid, user, gid, group or polkit"));

    // A polkit action does not make two subjects one.
    auto twoAndPolkit = refused(withRule(
        R"({"uid": 1, "gid": 1, "polkit": "org.xenproject.xenstore1.read", "paths": ["/"], "allow": ["read"]})"));
    EXPECT_THAT(twoAndPolkit.problem(), HasSubstr("\"uid\" and \"gid\""));
}

TEST(ConfigFile, PolkitRulesNameAnActionWithOrWithoutASubject)
{
    Config c = parse(R"({"access": [
        {"polkit": "org.xenproject.xenstore1.write", "paths": ["/local/domain/*/data"], "allow": ["write"]},
        {"group": "staff", "polkit": "org.xenproject.xenstore1.admin", "paths": ["/local/domain"], "allow": ["admin"]},
        {"uid": 0, "paths": ["/"], "allow": ["read"]}]})");
    ASSERT_EQ(c.rules.size(), 3u);
    EXPECT_EQ(c.rules[0].subject, Rule::Subject::Anyone);
    EXPECT_EQ(c.rules[0].polkit, "org.xenproject.xenstore1.write");
    EXPECT_EQ(c.rules[0].prefixes, std::vector<std::string>{"/local/domain/*/data"});
    EXPECT_EQ(c.rules[0].allow, unsigned(Access::Write));
    EXPECT_EQ(c.rules[1].subject, Rule::Subject::Group);
    EXPECT_EQ(c.rules[1].id, 50u);
    EXPECT_EQ(c.rules[1].polkit, "org.xenproject.xenstore1.admin");
    EXPECT_EQ(c.rules[2].polkit, "");
    // Any action polkitd knows, not only this project's.
    EXPECT_EQ(parse(withRule(R"({"polkit": "com.example.Site-Policy.xen", "paths": ["/"], "allow": ["read"]})"))
                  .rules[0].polkit,
              "com.example.Site-Policy.xen");
}

TEST(ConfigFile, PolkitActionsAreWellFormed)
{
    struct Case {
        const char* value;
        const char* says;
    } cases[] = {
        {"5", "expected a polkit action"},
        {"[\"org.x.y\"]", "expected a polkit action"},
        {"\"\"", "it is empty"},
        {"\"write\"", "namespaced"},
        {"\"org.x..y\"", "namespaced"},
        {"\".org.x\"", "namespaced"},
        {"\"org.x.\"", "namespaced"},
        {"\"org.x/y\"", "only letters, digits"},
        {"\"org.x y\"", "only letters, digits"},
        {"\"org.x_y\"", "only letters, digits"},
    };
    for (auto& c : cases) {
        auto e = refused(withRule(std::string(R"({"uid": 0, "polkit": )") + c.value +
                                  R"(, "paths": ["/"], "allow": ["read"]})"));
        EXPECT_EQ(e.field(), "access[0].polkit") << c.value;
        EXPECT_THAT(e.problem(), HasSubstr(c.says)) << c.value;
    }
    auto tooLong = refused(withRule(R"({"polkit": "org.)" + std::string(300, 'x') +
                                    R"(", "paths": ["/"], "allow": ["read"]})"));
    EXPECT_THAT(tooLong.problem(), HasSubstr("255"));
}

TEST(ConfigFile, StarStandsForOneWholeComponent)
{
    Config ok = parse(withRule(
        R"({"uid": 0, "paths": ["/local/domain/*/data", "/*", "/vm/*/*/x"], "allow": ["read"]})"));
    EXPECT_EQ(ok.rules[0].prefixes.size(), 3u);
    for (const char* bad : {"/a*", "/*a", "/a/**", "/a/*b/c", "*"}) {
        auto e = refused(withRule(std::string(R"({"uid": 0, "paths": [")") + bad +
                                  R"("], "allow": ["read"]})"));
        EXPECT_EQ(e.field(), "access[0].paths[0]") << bad;
    }
    EXPECT_THAT(refused(withRule(R"({"uid": 0, "paths": ["/a/*x"], "allow": ["read"]})")).problem(),
                HasSubstr("contains '*'"));
}

TEST(ConfigFile, IdsMustBeAccountNumbers)
{
    for (const char* bad : {"-1", "4294967295", "\"0\"", "1.5", "true", "null"}) {
        auto e = refused(withRule(std::string(R"({"uid": )") + bad +
                                  R"(, "paths": ["/"], "allow": ["read"]})"));
        EXPECT_EQ(e.field(), "access[0].uid") << bad;
        EXPECT_THAT(e.problem(), HasSubstr(std::string("got ") + bad));
    }
    auto gid = refused(withRule(R"({"gid": -5, "paths": ["/"], "allow": ["read"]})"));
    EXPECT_EQ(gid.field(), "access[0].gid");
    EXPECT_EQ(parse(withRule(R"({"uid": 4294967294, "paths": ["/"], "allow": ["read"]})"))
                  .rules[0].id,
              4294967294u);
}

TEST(ConfigFile, UnknownNamesAreErrorsNamingTheField)
{
    auto user = refused(R"({"access": [
        {"uid": 0, "paths": ["/"], "allow": ["read"]},
        {"uid": 1, "paths": ["/"], "allow": ["read"]},
        {"user": "nosuchuser", "paths": ["/vm"], "allow": ["read"]}]})");
    EXPECT_EQ(user.field(), "access[2].user");
    EXPECT_EQ(user.problem(), "no such user \"nosuchuser\"");

    auto group = refused(withRule(R"({"group": "wheel", "paths": ["/"], "allow": ["read"]})"));
    EXPECT_EQ(group.field(), "access[0].group");
    EXPECT_EQ(group.problem(), "no such group \"wheel\"");

    auto empty = refused(withRule(R"({"user": "", "paths": ["/"], "allow": ["read"]})"));
    EXPECT_EQ(empty.field(), "access[0].user");
    // Not "alice" by way of a C string cut short.
    auto nul = refused(withRule(R"({"user": "alice\u0000x", "paths": ["/"], "allow": ["read"]})"));
    EXPECT_EQ(nul.field(), "access[0].user");

    auto failing = refused(withRule(R"({"user": "unreachable", "paths": ["/"], "allow": ["read"]})"));
    EXPECT_EQ(failing.field(), "access[0].user");
    EXPECT_THAT(failing.problem(), HasSubstr("cannot look up user \"unreachable\""));
}

TEST(ConfigFile, PrefixesFollowXenStorePathRules)
{
    Config ok = parse(withRule(
        R"({"uid": 0, "paths": ["/", "@", "@introduceDomain", "@releaseDomain", "/local/domain/0", "/a-b_C9"], "allow": ["read"]})"));
    EXPECT_EQ(ok.rules[0].prefixes.size(), 6u);

    struct Case {
        const char* path;
        const char* says;
    } cases[] = {
        {"/a//b", "'//'"},
        {"/a/", "ends with '/'"},
        {"/a b", "byte 0x20"},
        {"local/domain", "not absolute"},
        {"@foo", "not a special path"},
        {"", "is empty"},
    };
    for (auto& c : cases) {
        auto e = refused(withRule(std::string(R"({"uid": 0, "paths": ["/ok", ")") + c.path +
                                  R"("], "allow": ["read"]})"));
        EXPECT_EQ(e.field(), "access[0].paths[1]") << c.path;
        EXPECT_THAT(e.problem(), HasSubstr(c.says)) << c.path;
        EXPECT_THAT(e.problem(), HasSubstr(std::string("\"") + c.path + "\"")) << c.path;
    }
    auto tooLong = refused(withRule(R"({"uid": 0, "paths": ["/)" + std::string(3100, 'a') +
                                    R"("], "allow": ["read"]})"));
    EXPECT_EQ(tooLong.field(), "access[0].paths[0]");
    EXPECT_THAT(tooLong.problem(), HasSubstr("3072"));

    EXPECT_EQ(refused(withRule(R"({"uid": 0, "paths": [], "allow": ["read"]})")).field(),
              "access[0].paths");
    EXPECT_EQ(refused(withRule(R"({"uid": 0, "paths": "/", "allow": ["read"]})")).field(),
              "access[0].paths");
    EXPECT_EQ(refused(withRule(R"({"uid": 0, "paths": [1], "allow": ["read"]})")).field(),
              "access[0].paths[0]");
    EXPECT_EQ(refused(withRule(R"({"uid": 0, "allow": ["read"]})")).field(), "access[0].paths");
}

TEST(ConfigFile, LimitsArePositiveIntegersWithinBounds)
{
    auto negative = refused(R"({"access": [], "limits": {"watches_per_caller": -3}})");
    EXPECT_STREQ(negative.what(),
                 "test.json: limits.watches_per_caller: expected a positive integer, got -3");

    for (const char* bad : {"0", "\"10\"", "2.5", "null", "[]", "-9223372036854775808"}) {
        auto e = refused(std::string(R"({"access": [], "limits": {"pending_calls_per_caller": )") +
                         bad + "}}");
        EXPECT_EQ(e.field(), "limits.pending_calls_per_caller") << bad;
        EXPECT_THAT(e.problem(), HasSubstr(std::string("got ") + bad));
    }

    auto huge = refused(R"({"access": [], "limits": {"transaction_idle_timeout_s": 1000000}})");
    EXPECT_EQ(huge.field(), "limits.transaction_idle_timeout_s");
    EXPECT_EQ(huge.problem(), "expected a positive integer up to 86400, got 1000000");
    auto huger = refused(R"({"access": [], "limits": {"watches_per_caller": 18446744073709551615}})");
    EXPECT_EQ(huger.problem(), "expected a positive integer up to 65536, got 18446744073709551615");

    EXPECT_EQ(refused(R"({"access": [], "limits": [1]})").field(), "limits");

    Config c = parse(R"({"access": [], "limits": {"watches_per_caller": 65536,
        "transactions_per_caller": 1, "pending_calls_per_caller": 2,
        "transaction_idle_timeout_s": 86400}})");
    EXPECT_EQ(c.limits.watchesPerCaller, 65536u);
    EXPECT_EQ(c.limits.transactionsPerCaller, 1u);
    EXPECT_EQ(c.limits.pendingCallsPerCaller, 2u);
    EXPECT_EQ(c.limits.transactionIdleTimeoutS, 86400u);

    Config defaults = parse(R"({"access": []})");
    EXPECT_EQ(defaults.limits.polkitTimeoutS, 10u);
    EXPECT_EQ(defaults.limits.polkitInteractiveTimeoutS, 120u);
    Config polkit = parse(R"({"access": [], "limits": {"polkit_timeout_s": 1,
        "polkit_interactive_timeout_s": 3600}})");
    EXPECT_EQ(polkit.limits.polkitTimeoutS, 1u);
    EXPECT_EQ(polkit.limits.polkitInteractiveTimeoutS, 3600u);
    EXPECT_EQ(refused(R"({"access": [], "limits": {"polkit_timeout_s": 0}})").field(),
              "limits.polkit_timeout_s");
}

TEST(ConfigFile, XenstoreIsABackendSpec)
{
    EXPECT_EQ(parse(R"({"xenstore": "unix:/run/xs", "access": []})").xenstore, "unix:/run/xs");
    EXPECT_EQ(parse(R"({"xenstore": "xenbus:/dev/xen/xenbus", "access": []})").xenstore,
              "xenbus:/dev/xen/xenbus");
    for (const char* bad : {R"("tcp:host")", R"("unix:relative")", R"("xenbus:")", "5"}) {
        auto e = refused(std::string(R"({"access": [], "xenstore": )") + bad + "}");
        EXPECT_EQ(e.field(), "xenstore") << bad;
    }
}

TEST(ConfigFile, MalformedJsonSaysWhere)
{
    auto e = refused("{\n  \"access\": [\n    {\"uid\": 0,, \"paths\": [\"/\"]}\n  ]\n}\n");
    EXPECT_EQ(e.field(), "");
    EXPECT_THAT(e.what(), HasSubstr("test.json: invalid JSON: line 3, column"));

    EXPECT_THAT(refused("").what(), HasSubstr("invalid JSON: line 1"));
    EXPECT_THAT(refused("{\"access\": [],}").what(), HasSubstr("invalid JSON"));
    // The offending bytes are quoted, but never raw into a log line.
    EXPECT_THAT(refused("{\"access\": \xff}").what(), HasSubstr("\\xff"));

    auto notObject = refused("[1, 2]");
    EXPECT_THAT(notObject.problem(), HasSubstr("expected a JSON object"));
    auto ruleNotObject = refused(R"({"access": ["root"]})");
    EXPECT_EQ(ruleNotObject.field(), "access[0]");
    EXPECT_EQ(refused(R"({"access": {}})").field(), "access");
}

TEST(ConfigFile, DefaultLetsOnlyRootDoAnything)
{
    Config c = defaultConfig();
    ASSERT_EQ(c.rules.size(), 1u);
    EXPECT_EQ(c.rules[0].subject, Rule::Subject::Uid);
    EXPECT_EQ(c.rules[0].id, 0u);
    EXPECT_EQ(c.rules[0].prefixes, (std::vector<std::string>{"/", "@"}));
    EXPECT_EQ(c.rules[0].allow, AllAccess);
    EXPECT_EQ(c.xenstore, "auto");
    EXPECT_THAT(c.source, HasSubstr("built-in default"));
}

TEST(ConfigFile, LoadFromFile)
{
    xsd::test::TempDir dir;
    const std::string missing = dir / "missing.json";

    Config fallback = loadConfig(missing, false, fakeAccounts());
    EXPECT_EQ(fallback.rules.size(), 1u);
    EXPECT_THAT(fallback.source, HasSubstr("built-in default"));
    EXPECT_THAT(fallback.source, HasSubstr(missing));

    try {
        loadConfig(missing, true, fakeAccounts());
        ADD_FAILURE() << "a missing --config file was accepted";
    } catch (const ConfigError& e) {
        EXPECT_THAT(e.what(), HasSubstr(missing + ": cannot open: No such file or directory"));
    }

    try {
        loadConfig(dir.path(), false, fakeAccounts());
        ADD_FAILURE() << "a directory was accepted";
    } catch (const ConfigError& e) {
        EXPECT_THAT(e.what(), HasSubstr(dir.path() + ": not a regular file"));
    }

    const std::string bad = dir / "bad.json";
    xsd::test::writeFile(bad, R"({"access": [], "limits": {"watches_per_caller": -3}})");
    try {
        loadConfig(bad, false, fakeAccounts());
        ADD_FAILURE() << "an invalid file was accepted";
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()),
                  bad + ": limits.watches_per_caller: expected a positive integer, got -3");
    }

    const std::string good = dir / "good.json";
    xsd::test::writeFile(good, apiExample);
    Config c = loadConfig(good, true, fakeAccounts());
    EXPECT_EQ(c.rules.size(), 3u);
    EXPECT_EQ(c.source, good);
}

TEST(ConfigFile, OnlyARegularFileIsRead)
{
    // A FIFO would block the open (and the daemon's loop, on reload) until
    // someone wrote to it; a device or a directory is no configuration.
    xsd::test::TempDir dir;
    const std::string fifo = dir / "config.json";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    for (const std::string& path : {fifo, dir.path(), std::string("/dev/null")}) {
        try {
            loadConfig(path, true, fakeAccounts());
            ADD_FAILURE() << path << " was read";
        } catch (const ConfigError& e) {
            EXPECT_EQ(e.problem(), "not a regular file; a configuration is read only from one") << path;
        }
    }
}

TEST(ConfigFile, UnreadableFileIsAnErrorNotTheDefault)
{
    xsd::test::TempDir dir;
    const std::string secret = dir / "secret.json";
    xsd::test::writeFile(secret, apiExample);
    ::chmod(secret.c_str(), 0600);
    auto refusedWithPermissionDenied = [&] {
        try {
            loadConfig(secret, false, fakeAccounts());
        } catch (const ConfigError& e) {
            return std::string(e.what()) == secret + ": cannot open: Permission denied";
        }
        return false;
    };
    if (::geteuid() != 0) {
        ::chmod(secret.c_str(), 0);
        EXPECT_TRUE(refusedWithPermissionDenied());
        return;
    }
    // Root reads any file; a child that drops to nobody meets the mode.
    pid_t child = fork();
    if (child == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(3);
        _exit(refusedWithPermissionDenied() ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "1: not refused as it should be, 3: could not drop to 65534";
}

TEST(ConfigFile, SystemResolverFindsRealAccounts)
{
    NameResolver system = systemResolver();
    EXPECT_EQ(system.user("root"), std::optional<uint32_t>(0));
    EXPECT_EQ(system.group("root"), std::optional<uint32_t>(0));
    EXPECT_EQ(system.user("xsd-no-such-user"), std::nullopt);
    EXPECT_EQ(system.group("xsd-no-such-group"), std::nullopt);

    Config c = parseConfig(R"({"access": [{"user": "root", "paths": ["/"], "allow": ["read"]}]})",
                           "real.json");
    EXPECT_EQ(c.rules[0].id, 0u);
}

TEST(ConfigFile, AccessNames)
{
    EXPECT_EQ(accessName(Access::Read), "read");
    EXPECT_EQ(accessName(Access::Write), "write");
    EXPECT_EQ(accessName(Access::Watch), "watch");
    EXPECT_EQ(accessName(Access::Admin), "admin");
}
