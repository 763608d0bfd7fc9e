// The access rules as an unprivileged caller sees them: clients run as uid
// 65534 (setpriv) on a private bus configured like the system bus with the
// project's own policy file, so every call really passes the bus policy and
// then the daemon's rules. gdbus names the D-Bus error; busctl shows the
// message. Also: the caller's identity is asked of the bus once per caller.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include "daemon/config/config.h"
#include "tests/system/system_stack.h"

using namespace xsd::test;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

namespace {

const std::string AccessDenied = std::string(ErrorPrefix) + "AccessDenied";
constexpr unsigned TeamGid = 4242;  // a gid with no name: a {"gid": N} rule

// The gid of the "users" group, for a {"group": NAME} rule.
unsigned usersGid()
{
    const group* g = getgrnam("users");
    return g ? g->gr_gid : 0;
}

std::string rulesConfig()
{
    return R"({
  "xenstore": "auto",
  "access": [
    {"uid": 0, "paths": ["/", "@"], "allow": ["read", "write", "watch", "admin"]},
    {"uid": 65534, "paths": ["/pub"], "allow": ["read", "watch"]},
    {"gid": )" + std::to_string(TeamGid) + R"(, "paths": ["/team"], "allow": ["read", "write"]},
    {"group": "users", "paths": ["/users"], "allow": ["read"]},
    {"user": "nobody", "paths": ["/named"], "allow": ["read"]},
    {"gid": 65534, "paths": ["/primary"], "allow": ["read"]}
  ]
})";
}

class Unprivileged : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        ASSERT_NE(usersGid(), 0u) << "the test needs a 'users' group";
        const passwd* nobody = getpwnam("nobody");
        ASSERT_TRUE(nobody && nobody->pw_uid == 65534) << "the test needs 'nobody' to be uid 65534";
        Stack::Options o;
        o.config = rulesConfig();
        stack = new Stack(o);
        stack->xenstored().write("/pub/x", "hello");
        stack->xenstored().write("/pub/dir/a", "1");
        stack->xenstored().write("/pubx/y", "sibling");
        stack->xenstored().write("/team/t", "team");
        stack->xenstored().write("/users/u", "users");
        stack->xenstored().write("/named/n", "named");
        stack->xenstored().write("/primary/p", "primary");
        stack->xenstored().write("/local/domain/0/name", "Domain-0");
    }
    static void TearDownTestSuite()
    {
        delete stack;
        stack = nullptr;
    }
    static Stack* stack;

    // Expects `method` refused as uid 65534, naming the kind and the path.
    void expectDenied(const std::string& method, const std::vector<std::string>& args,
                      const std::string& why, const std::vector<unsigned>& groups = {})
    {
        auto r = callAsNobody(*stack, method, args, groups);
        EXPECT_EQ(r.error, AccessDenied) << method << ": " << r.raw << r.out;
        EXPECT_THAT(r.message, HasSubstr(why)) << method;
    }
};
Stack* Unprivileged::stack = nullptr;

}  // namespace

TEST_F(Unprivileged, WriteIsRefusedNamingKindAndPath)
{
    auto& xs = stack->xenstored();
    const int writesBefore = xs.countAccessLog({" write ", "/pub/"});
    expectDenied("Write", {"/pub/new", "v"}, "uid 65534 may not write /pub/new");
    expectDenied("WriteBytes", {"/pub/new", "[byte 0x41]"}, "may not write /pub/new");
    expectDenied("Mkdir", {"/pub/dir"}, "may not write /pub/dir");
    expectDenied("Remove", {"/pub/x"}, "may not write /pub/x");
    expectDenied("SetPermissions", {"/pub/x", "['n65534']"}, "may not write /pub/x");
    // busctl, for what an administrator sees.
    auto b = busctlAsNobody(*stack, "Write", {"ss", "/pub/new", "v"});
    EXPECT_NE(b.status, 0);
    EXPECT_THAT(b.err, HasSubstr("uid 65534 may not write /pub/new"));
    // Nothing reached xenstored.
    EXPECT_EQ(xs.countAccessLog({" write ", "/pub/"}), writesBefore) << xs.accessLog();
    EXPECT_NE(xs.tool("xenstore-read", {"/pub/new"}).status, 0);
    EXPECT_EQ(xs.read("/pub/x"), "hello");
    // Root, by the first rule, may.
    auto root = stack->busctlCall("Write", {"ss", "/pub/root", "r"});
    EXPECT_EQ(root.status, 0) << root.err;
}

TEST_F(Unprivileged, ReadIsAllowedWhereGranted)
{
    auto b = busctlAsNobody(*stack, "Read", {"s", "/pub/x"});
    EXPECT_EQ(b.status, 0) << b.err;
    EXPECT_EQ(b.out, "s \"hello\"\n");
    auto r = callAsNobody(*stack, "Read", {"/pub/x"});
    EXPECT_TRUE(r.ok()) << r.raw;
    EXPECT_EQ(r.out, "('hello',)\n");
    EXPECT_EQ(callAsNobody(*stack, "Exists", {"/pub/x"}).out, "(true,)\n");
    EXPECT_EQ(callAsNobody(*stack, "Directory", {"/pub/dir"}).out, "(['a'],)\n");
    EXPECT_TRUE(callAsNobody(*stack, "GetPermissions", {"/pub/x"}).ok());
    auto snap = callAsNobody(*stack, "Snapshot", {"/pub"});
    EXPECT_TRUE(snap.ok()) << snap.raw;
    EXPECT_THAT(snap.out, HasSubstr("hello"));
    // A caller named by a rule may start a transaction (it is still held to
    // the rules inside).
    EXPECT_TRUE(callAsNobody(*stack, "StartTransaction", {}).ok());
}

TEST_F(Unprivileged, TransactionWritesAreHeldToTheRules)
{
    // Inside a transaction, a write is still a write.
    auto r = transactionWriteAsNobody(*stack, "/pub/in-tx", "v");
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("start: ok\n"));
    EXPECT_THAT(r.out, HasSubstr("write /pub/in-tx: error " + AccessDenied +
                                 ": uid 65534 may not write /pub/in-tx\n"));
    EXPECT_NE(stack->xenstored().tool("xenstore-read", {"/pub/in-tx"}).status, 0);
    // By a group rule that grants write, it goes through.
    auto g = stack->asNobody({XSD_TEST_CLIENT, stack->address(), "tx-write", "/team/in-tx", "g"},
                             {TeamGid});
    EXPECT_THAT(g.out, HasSubstr("write /team/in-tx: ok\n")) << g.out << g.err;
    EXPECT_THAT(g.out, HasSubstr("commit: ok true\n")) << g.out << g.err;
    EXPECT_EQ(stack->xenstored().read("/team/in-tx"), "g");
}

TEST_F(Unprivileged, WatchIsAllowedWhereGranted)
{
    // busctl's subscription ends when it exits; its reply is what counts.
    auto b = busctlAsNobody(*stack, "Watch", {"ss", "/pub", "t"});
    EXPECT_EQ(b.status, 0) << b.err;

    // A subscriber that stays, to see the events delivered.
    NobodyWatcher w(*stack, {{"/pub", "t"}});
    ASSERT_TRUE(w.waitForLine("watch /pub t: ok")) << w.transcript();
    ASSERT_TRUE(w.waitForLine("event /pub t")) << w.transcript();
    stack->xenstored().write("/pub/watched", "1");
    EXPECT_TRUE(w.waitForLine("event /pub/watched t")) << w.transcript();
}

TEST_F(Unprivileged, SiblingThatSharesCharactersIsRefused)
{
    // "/pub" grants "/pub" and below, never "/pubx".
    expectDenied("Read", {"/pubx/y"}, "uid 65534 may not read /pubx/y");
    expectDenied("Read", {"/pubx"}, "may not read /pubx");
    expectDenied("Exists", {"/pubx/y"}, "may not read /pubx/y");
    expectDenied("Directory", {"/pubx"}, "may not read /pubx");
    expectDenied("Read", {"/pu"}, "may not read /pu");
    expectDenied("Read", {"/"}, "may not read /");
    auto b = busctlAsNobody(*stack, "Read", {"s", "/pubx/y"});
    EXPECT_NE(b.status, 0);
    EXPECT_THAT(b.err, HasSubstr("may not read /pubx/y"));
    // A relative path is checked where xenstored would put it.
    expectDenied("Read", {"pub/x"}, "may not read /local/domain/0/pub/x");

    NobodyWatcher w(*stack, {{"/pubx", "t"}, {"/pub", "u"}});
    ASSERT_TRUE(w.waitForLine("watch /pub u: ok")) << w.transcript();
    EXPECT_TRUE(w.has("watch /pubx t: error " + AccessDenied + ": uid 65534 may not watch /pubx"))
        << w.transcript();
    // A write to the sibling fires no event for it (the /pub watch does not
    // cover it, and /pubx was never watched).
    stack->xenstored().write("/pubx/later", "1");
    stack->xenstored().write("/pub/later", "1");
    ASSERT_TRUE(w.waitForLine("event /pub/later u")) << w.transcript();
    for (const auto& line : w.lines()) {
        if (line.rfind("event ", 0) == 0) {
            EXPECT_EQ(line.find("/pubx"), std::string::npos) << line;
        }
    }
}

TEST_F(Unprivileged, DomainMethodsAreRefused)
{
    auto& xs = stack->xenstored();
    expectDenied("GetDomainPath", {"0"}, "uid 65534 may not read /local/domain/0");
    expectDenied("IsDomainIntroduced", {"0"}, "may not read /local/domain/0");
    expectDenied("IntroduceDomain", {"5", "1", "1"}, "uid 65534 may not administer /local/domain/5");
    expectDenied("ReleaseDomain", {"5"}, "may not administer /local/domain/5");
    expectDenied("ResumeDomain", {"5"}, "may not administer /local/domain/5");
    expectDenied("SetTarget", {"5", "6"}, "may not administer /local/domain/5");
    // The special watches too.
    expectDenied("Watch", {"@introduceDomain", "t"}, "may not watch @introduceDomain");
    expectDenied("Watch", {"@releaseDomain", "t"}, "may not watch @releaseDomain");
    // None reached xenstored (the daemon's own watches of @introduceDomain
    // and @releaseDomain are not these requests: the op stands alone).
    for (auto op : {"getdomain", "introduce", "release", "resume", "settarget", "is introduced"})
        EXPECT_EQ(xs.countAccessLog({" " + std::string(op) + " "}), 0) << op << "\n" << xs.accessLog();
    // Root may.
    auto root = stack->busctlCall("GetDomainPath", {"u", "0"});
    EXPECT_EQ(root.out, "s \"/local/domain/0\"\n") << root.err;
}

TEST_F(Unprivileged, GroupRulesAdmitBySupplementaryGroup)
{
    // {"gid": 4242}: the primary group stays 65534; 4242 is supplementary.
    auto w = callAsNobody(*stack, "Write", {"/team/a", "by-group"}, {TeamGid});
    EXPECT_TRUE(w.ok()) << w.raw;
    EXPECT_EQ(stack->xenstored().read("/team/a"), "by-group");
    auto r = busctlAsNobody(*stack, "Read", {"s", "/team/t"}, {TeamGid});
    EXPECT_EQ(r.out, "s \"team\"\n") << r.err;
    // Among other groups, still.
    EXPECT_TRUE(callAsNobody(*stack, "Read", {"/team/t"}, {27, TeamGid, 1000}).ok());
    // Without it: refused.
    expectDenied("Write", {"/team/b", "x"}, "may not write /team/b");
    expectDenied("Read", {"/team/t"}, "may not read /team/t");
    expectDenied("Read", {"/team/t"}, "may not read /team/t", {usersGid()});

    // The primary group counts too: setpriv --regid=65534 --clear-groups.
    EXPECT_EQ(callAsNobody(*stack, "Read", {"/primary/p"}).out, "('primary',)\n");
    auto root = stack->busctlCall("Read", {"s", "/primary/p"});
    EXPECT_EQ(root.status, 0) << root.err;

    // {"group": "users"}, resolved by name.
    auto u = callAsNobody(*stack, "Read", {"/users/u"}, {usersGid()});
    EXPECT_EQ(u.out, "('users',)\n") << u.raw;
    expectDenied("Read", {"/users/u"}, "may not read /users/u");
    expectDenied("Write", {"/users/u", "x"}, "may not write /users/u", {usersGid()});
    expectDenied("Read", {"/users/u"}, "may not read /users/u", {TeamGid});
}

TEST_F(Unprivileged, UserRuleAdmitsByName)
{
    // {"user": "nobody"}, resolved to uid 65534 when the file is read.
    EXPECT_EQ(callAsNobody(*stack, "Read", {"/named/n"}).out, "('named',)\n");
    expectDenied("Write", {"/named/n", "x"}, "may not write /named/n");
    // Root is not nobody: the rule gives root nothing (its own rule does).
    auto r = stack->busctlCall("Read", {"s", "/named/n"});
    EXPECT_EQ(r.out, "s \"named\"\n") << r.err;
}

TEST(UnprivilegedWithoutConfig, OnlyRootMayDoAnything)
{
    // No --config: the daemon reads the default file, which must not exist
    // here, so the built-in default is what is tested.
    const std::string defaultPath(xsd::DefaultConfigPath);
    ASSERT_FALSE(std::filesystem::exists(defaultPath))
        << "a real " << defaultPath << " would decide this test";
    Stack stack;  // no config: no --config
    stack.xenstored().write("/pub/x", "hello");
    EXPECT_THAT(stack.daemonLog(),
                HasSubstr("access rules from built-in default (" + defaultPath + " does not exist)"))
        << stack.daemonLog();

    auto denied = [&](const std::string& method, const std::vector<std::string>& args) {
        auto r = callAsNobody(stack, method, args);
        EXPECT_EQ(r.error, AccessDenied) << method << ": " << r.raw << r.out;
        return r.message;
    };
    EXPECT_THAT(denied("Read", {"/pub/x"}), HasSubstr("may not read /pub/x"));
    denied("Read", {"/"});
    denied("Exists", {"/pub/x"});
    denied("Directory", {"/"});
    denied("GetPermissions", {"/pub/x"});
    denied("Snapshot", {"/"});
    EXPECT_THAT(denied("Write", {"/pub/y", "v"}), HasSubstr("may not write /pub/y"));
    denied("Mkdir", {"/pub/d"});
    denied("Remove", {"/pub/x"});
    EXPECT_THAT(denied("Watch", {"/", "t"}), HasSubstr("may not watch /"));
    denied("Watch", {"@introduceDomain", "t"});
    EXPECT_THAT(denied("StartTransaction", {}), HasSubstr("no access rule"));
    denied("GetDomainPath", {"0"});
    denied("IsDomainIntroduced", {"0"});
    denied("IntroduceDomain", {"1", "1", "1"});
    denied("ReleaseDomain", {"1"});
    // With groups, too: no rule names any group.
    auto g = callAsNobody(stack, "Read", {"/pub/x"}, {0, 100});
    EXPECT_EQ(g.error, AccessDenied) << g.raw;
    EXPECT_NE(stack.xenstored().tool("xenstore-read", {"/pub/y"}).status, 0);

    // Root may.
    auto w = stack.busctlCall("Write", {"ss", "/pub/y", "root"});
    EXPECT_EQ(w.status, 0) << w.err;
    auto r = stack.busctlCall("Read", {"s", "/pub/y"});
    EXPECT_EQ(r.out, "s \"root\"\n") << r.err;
    auto d = stack.busctlCall("GetDomainPath", {"u", "0"});
    EXPECT_EQ(d.out, "s \"/local/domain/0\"\n") << d.err;
}

TEST(UnprivilegedWatchFilter, EventsAreFilteredAtDeliveryByTheSubscribersRules)
{
    // Rules only grant, by prefix: a grant of watch on /pub covers
    // /pub/secret, so "watch /pub but not /pub/secret" cannot be written.
    // What can: a subscription made under one configuration, delivered
    // under a reloaded one that grants only /pub/open — each event is
    // checked against the subscriber's rules when it is delivered.
    NotifySocket ns;
    Stack::Options o;
    o.env = ns.env();
    o.config = R"({"access": [
      {"uid": 0, "paths": ["/"], "allow": ["read", "write", "watch"]},
      {"uid": 65534, "paths": ["/pub"], "allow": ["read", "watch"]}]})";
    Stack stack(o);
    ASSERT_TRUE(ns.waitFor("READY=1", 5s)) << stack.daemonLog();

    NobodyWatcher w(stack, {{"/pub", "t"}});
    ASSERT_TRUE(w.waitForLine("event /pub t")) << w.transcript();
    auto root = stack.client();  // a subscriber the rules let see everything
    root->Watch("/pub", "r");
    ASSERT_EQ(root->waitForEvents(1).size(), 1u);
    stack.xenstored().write("/pub/secret/before", "1");
    ASSERT_TRUE(w.waitForLine("event /pub/secret/before t")) << w.transcript();

    writeFile(stack.configPath(), R"({"access": [
      {"uid": 0, "paths": ["/"], "allow": ["read", "write", "watch"]},
      {"uid": 65534, "paths": ["/pub/open"], "allow": ["read", "watch"]}]})");
    kill(stack.daemon().pid(), SIGHUP);
    ASSERT_TRUE(ns.waitFor("RELOADING=1", 3s));
    ASSERT_TRUE(ns.waitFor("READY=1", 3s));
    ASSERT_THAT(stack.daemonLog(), HasSubstr("reloaded the configuration"));

    stack.xenstored().write("/pub/secret/x", "1");
    stack.xenstored().write("/pub/open/x", "1");
    // Events reach a subscriber in order: once /pub/open/x is in, /pub/secret/x
    // would have been too.
    ASSERT_TRUE(w.waitForLine("event /pub/open/x t")) << w.transcript();
    EXPECT_FALSE(w.has("event /pub/secret/x t")) << w.transcript();
    // XenStore did fire it: the other subscriber of the same watch got it.
    auto ev = root->waitForEvents(4);
    ASSERT_EQ(ev.size(), 4u);
    EXPECT_EQ(ev[2], (WatchEvent{"/pub/secret/x", "r"}));
    EXPECT_EQ(ev[3], (WatchEvent{"/pub/open/x", "r"}));
}

TEST(CallerIdentity, AskedOfTheBusOncePerCaller)
{
    // The daemon asks the bus who a caller is once, then remembers it until
    // the caller leaves: a bus monitor (root may monitor this bus) counts
    // the questions.
    Stack stack;
    TempDir dir("xsd-monitor");
    auto monitor = Process::writing({"dbus-monitor", "--address", stack.address(), "--monitor",
                                     "type='method_call',member='GetConnectionCredentials'"},
                                    dir / "monitor");
    auto asked = [&] {
        std::istringstream in(readFile(dir / "monitor"));
        int n = 0;
        for (std::string line; std::getline(in, line);)
            n += line.find("member=GetConnectionCredentials") != std::string::npos;
        return n;
    };
    // The monitor is in place once it sees a question of its own making.
    ASSERT_TRUE(waitFor([&] {
        stack.busctl({"call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                      "GetConnectionCredentials", "s", "org.freedesktop.DBus"});
        return asked() > 0;
    }, 5s));
    const int before = asked();
    auto c = stack.client();
    for (int i = 0; i < 5; ++i)
        c->Exists("/x");
    c->Watch("/x", "t");
    c->StartTransaction();
    EXPECT_TRUE(waitFor([&] { return asked() == before + 1; }, 2s)) << asked() - before;
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(asked(), before + 1) << readFile(dir / "monitor");
    // Another caller is asked about once too.
    auto other = stack.client();
    other->Exists("/x");
    other->Exists("/x");
    EXPECT_TRUE(waitFor([&] { return asked() == before + 2; }, 2s)) << asked() - before;
}
