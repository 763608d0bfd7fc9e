// An invalid configuration file: at start the daemon refuses to run (exit
// status non-zero, a message naming the field); at SIGHUP it refuses the new
// file with that message, keeps running, and the old rules stay in force.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include "tests/system/system_stack.h"

using namespace xsd::test;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

const std::string AccessDenied = std::string(ErrorPrefix) + "AccessDenied";

struct BadFile {
    const char* name;
    const char* json;
    std::vector<std::string> said;  // what the message must contain
};

const BadFile badFiles[] = {
    {"unknown access kind",
     R"({"access": [{"uid": 0, "paths": ["/"], "allow": ["read", "exec"]}]})",
     {"access[0].allow[1]", "\"exec\""}},
    {"relative path prefix",
     R"({"access": [{"uid": 0, "paths": ["/"], "allow": ["read"]},
                    {"uid": 65534, "paths": ["/pub", "pub"], "allow": ["read"]}]})",
     {"access[1].paths[1]", "\"pub\""}},
    {"two subjects", R"({"access": [{"uid": 0, "gid": 0, "paths": ["/"], "allow": ["read"]}]})",
     {"access[0]", "uid", "gid"}},
    {"unknown top-level key", R"({"access": [], "limit": {"watches_per_caller": 1}})",
     {"limit", "unknown key"}},
    {"unknown key in a rule",
     R"({"access": [{"uid": 0, "paths": ["/"], "allow": ["read"], "deny": ["write"]}]})",
     {"access[0].deny", "unknown key"}},
    {"limit of the wrong type", R"({"access": [], "limits": {"watches_per_caller": "many"}})",
     {"limits.watches_per_caller", "\"many\""}},
    {"negative limit", R"({"access": [], "limits": {"transactions_per_caller": -1}})",
     {"limits.transactions_per_caller", "-1"}},
    {"no such user",
     R"({"access": [{"user": "no-such-user-xsd", "paths": ["/"], "allow": ["read"]}]})",
     {"access[0].user", "no-such-user-xsd"}},
    {"uid out of range", R"({"access": [{"uid": 4294967295, "paths": ["/"], "allow": ["read"]}]})",
     {"access[0].uid", "4294967295"}},
    {"bad xenstore", R"({"xenstore": "tcp:1.2.3.4", "access": []})", {"xenstore", "tcp:1.2.3.4"}},
    {"not JSON", "{\"access\": [\n  {\"uid\": 0,,}\n]}", {"invalid JSON", "line 2"}},
};

}  // namespace

TEST(BadConfig, RefusedAtStartNamingTheField)
{
    Stack stack(withoutDaemon());
    TempDir dir("xsd-bad-config");
    for (const auto& bad : badFiles) {
        SCOPED_TRACE(bad.name);
        writeFile(dir / "config.json", bad.json);
        auto r = run({Stack::daemonPath(), "--bus", stack.address(), "--xenstore",
                      stack.xenstored().backend(), "--config", dir / "config.json"},
                     {}, {}, 10s);
        EXPECT_NE(r.status, 0) << r.err;
        EXPECT_LT(r.status, 128) << "killed rather than refused: " << r.err;
        EXPECT_THAT(r.err, HasSubstr("refusing to start"));
        EXPECT_THAT(r.err, HasSubstr(dir / "config.json"));
        for (const auto& s : bad.said)
            EXPECT_THAT(r.err, HasSubstr(s));
        EXPECT_FALSE(nameOwned(stack));
    }
    // A file named with --config that is not there is an error too, not the
    // built-in default.
    auto missing = run({Stack::daemonPath(), "--bus", stack.address(), "--xenstore",
                        stack.xenstored().backend(), "--config", dir / "absent.json"},
                       {}, {}, 10s);
    EXPECT_NE(missing.status, 0);
    EXPECT_LT(missing.status, 128) << missing.err;
    EXPECT_THAT(missing.err, HasSubstr(dir / "absent.json"));
    EXPECT_FALSE(nameOwned(stack));
}

TEST(ConfigFile, XenstoreFromTheFileWhenNotGivenOnTheCommandLine)
{
    // "xenstore" in the file decides where XenStore is when --xenstore is
    // not given.
    Stack stack(withoutDaemon());
    TempDir dir("xsd-config");
    const std::string backend = stack.xenstored().backend();
    writeFile(dir / "config.json", R"({"xenstore": ")" + backend + R"(",
      "access": [{"uid": 0, "paths": ["/"], "allow": ["read"]}]})");
    Process d({Stack::daemonPath(), "--bus", stack.address(), "--config", dir / "config.json"});
    ASSERT_TRUE(waitFor([&] {
        auto r = stack.busctl({"get-property", BusName, ObjectPath, Interface, "Connected"});
        return r.out == "b true\n";
    }, 5s));
    auto b = stack.busctl({"get-property", BusName, ObjectPath, Interface, "Backend"});
    EXPECT_EQ(b.out, "s \"" + backend + "\"\n");
    EXPECT_EQ(d.stop(SIGTERM), 0);
}

namespace {

// Old rules: uid 65534 may read /pub. The invalid new file would also let it
// write there, were any of it taken.
constexpr const char* OldRules = R"({"access": [
  {"uid": 0, "paths": ["/"], "allow": ["read", "write", "watch"]},
  {"uid": 65534, "paths": ["/pub"], "allow": ["read"]}]})";
constexpr const char* InvalidNewRules = R"({"access": [
  {"uid": 0, "paths": ["/"], "allow": ["read", "write", "watch"]},
  {"uid": 65534, "paths": ["/pub"], "allow": ["read", "write", "exec"]}]})";
constexpr const char* ValidNewRules = R"({"access": [
  {"uid": 0, "paths": ["/"], "allow": ["read", "write", "watch"]},
  {"uid": 65534, "paths": ["/pub"], "allow": ["read", "write"]}]})";

class Reload : public ::testing::Test {
protected:
    Reload()
    {
        Stack::Options o;
        o.config = OldRules;
        o.env = ns.env();
        stack = std::make_unique<Stack>(o);
        stack->xenstored().write("/pub/x", "old");
    }
    NotifySocket ns;
    std::unique_ptr<Stack> stack;

    // SIGHUP, and the reload's READY=1; returns that message.
    std::string reload()
    {
        kill(stack->daemon().pid(), SIGHUP);
        EXPECT_TRUE(ns.waitFor("RELOADING=1", 3s)) << stack->daemonLog();
        auto ready = ns.waitFor("READY=1", 3s);
        EXPECT_TRUE(ready) << stack->daemonLog();
        return ready.value_or("");
    }
};

}  // namespace

TEST_F(Reload, InvalidFileIsRefusedAndTheOldRulesStay)
{
    ASSERT_TRUE(ns.waitFor("READY=1", 5s)) << stack->daemonLog();
    auto before = callAsNobody(*stack, "Write", {"/pub/x", "new"});
    ASSERT_EQ(before.error, AccessDenied) << before.raw;

    writeFile(stack->configPath(), InvalidNewRules);
    auto ready = reload();
    // Refused, naming the field and the value, in the log and in STATUS=.
    auto log = stack->daemonLog();
    EXPECT_THAT(log, HasSubstr("configuration not reloaded, keeping the previous one"));
    EXPECT_THAT(log, HasSubstr("access[1].allow[2]"));
    EXPECT_THAT(log, HasSubstr("\"exec\""));
    auto status = statusOf(ready);
    ASSERT_TRUE(status) << ready;
    EXPECT_THAT(*status, HasSubstr("configuration not reloaded"));
    EXPECT_THAT(*status, HasSubstr("access[1].allow[2]"));
    EXPECT_TRUE(stack->daemon().running());

    // The old rules: still no write, still a read.
    auto w = callAsNobody(*stack, "Write", {"/pub/x", "new"});
    EXPECT_EQ(w.error, AccessDenied) << w.raw;
    EXPECT_EQ(callAsNobody(*stack, "Read", {"/pub/x"}).out, "('old',)\n");
    EXPECT_EQ(stack->xenstored().read("/pub/x"), "old");

    // A valid file is taken (so the refusal above was the file's doing), and
    // the note in STATUS= goes.
    writeFile(stack->configPath(), ValidNewRules);
    ready = reload();
    EXPECT_THAT(stack->daemonLog(), HasSubstr("reloaded the configuration from " + stack->configPath()));
    EXPECT_THAT(ready, Not(HasSubstr("not reloaded")));
    auto w2 = callAsNobody(*stack, "Write", {"/pub/x", "new"});
    EXPECT_TRUE(w2.ok()) << w2.raw;
    EXPECT_EQ(stack->xenstored().read("/pub/x"), "new");
}

TEST_F(Reload, VanishedFileIsRefusedAndTheOldRulesStay)
{
    ASSERT_TRUE(ns.waitFor("READY=1", 5s)) << stack->daemonLog();
    ASSERT_EQ(unlink(stack->configPath().c_str()), 0);
    reload();
    EXPECT_THAT(stack->daemonLog(), HasSubstr("configuration not reloaded"));
    EXPECT_THAT(stack->daemonLog(), HasSubstr(stack->configPath()));
    // Not the built-in default (root only): uid 65534 still reads /pub.
    EXPECT_EQ(callAsNobody(*stack, "Read", {"/pub/x"}).out, "('old',)\n");
    EXPECT_EQ(callAsNobody(*stack, "Write", {"/pub/x", "new"}).error, AccessDenied);
}

TEST_F(Reload, NewLimitsApplyAfterReload)
{
    // The limits are part of what a reload replaces (and keeps, when refused).
    ASSERT_TRUE(ns.waitFor("READY=1", 5s)) << stack->daemonLog();
    writeFile(stack->configPath(), R"({"access": [{"uid": 0, "paths": ["/"], "allow": ["read", "write", "watch"]}],
      "limits": {"watches_per_caller": 1}})");
    reload();
    auto c = stack->client();
    c->Watch("/limited/a", "t");
    EXPECT_EQ(errorOf([&] { c->Watch("/limited/b", "t"); }), std::string(ErrorPrefix) + "LimitExceeded");

    writeFile(stack->configPath(), R"({"access": [{"uid": 0, "paths": ["/"], "allow": ["read", "write", "watch"]}],
      "limits": {"watches_per_caller": 0.5}})");
    reload();
    EXPECT_THAT(stack->daemonLog(), HasSubstr("limits.watches_per_caller"));
    EXPECT_EQ(errorOf([&] { c->Watch("/limited/b", "t"); }), std::string(ErrorPrefix) + "LimitExceeded");
}
