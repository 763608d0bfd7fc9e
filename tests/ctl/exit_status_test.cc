// The exit statuses scripts rely on: 1 for a missing path, 77 when the
// daemon's access rules refuse (run as uid 65534), 69 when the daemon (or
// the bus, or xenstored behind the daemon) is not there, 2 for usage.
#include <gtest/gtest.h>

#include "tests/ctl/ctl.h"

using namespace xsd::test;

namespace {

// root may do anything; nobody may read and watch /public only.
const char* Rules = R"({
  "access": [
    {"uid": 0, "paths": ["/", "@"], "allow": ["read", "write", "watch", "admin"]},
    {"uid": 65534, "paths": ["/public"], "allow": ["read", "watch"]}
  ]
})";

Stack::Options withRules()
{
    Stack::Options o;
    o.config = Rules;
    return o;
}

}  // namespace

TEST(ExitStatus, MissingPathIs1)
{
    Stack stack;
    for (std::vector<std::string> args : {std::vector<std::string>{"read", "/missing"},
                                          {"list", "/missing"},
                                          {"ls", "/missing"},
                                          {"exists", "/missing"},
                                          {"chmod", "/missing", "r0"},
                                          {"snapshot", "/missing"}}) {
        auto r = ctl(stack, args);
        EXPECT_EQ(r.status, 1) << args[0] << ": " << describe(r);
        if (args[0] != "exists")
            EXPECT_EQ(r.err.rfind("xenstorectl: " + args[0] + " /missing: ", 0), 0u) << r.err;
        else
            EXPECT_EQ(r.err, "");
    }
}

TEST(ExitStatus, AccessDeniedIs77)
{
    Stack stack(withRules());
    stack.xenstored().write("/public/motd", "hello");
    stack.xenstored().write("/secret/key", "s3cr3t");
    auto nobody = [&](const std::vector<std::string>& args, const std::string& input = {}) {
        if (!input.empty()) {
            std::string command;
            auto argv = ctlArgv(stack, args);
            argv[0] = executableByAnyone(argv[0]);
            for (const auto& a : argv)
                command += "'" + a + "' ";
            return stack.asNobody({"sh", "-c", "printf '" + input + "' | " + command});
        }
        return stack.asNobody(ctlArgv(stack, args));
    };

    // What the rules allow works without root.
    auto r = nobody({"read", "/public/motd"});
    ASSERT_EQ(r.status, 0) << describe(r);
    EXPECT_EQ(r.out, "hello\n");
    r = nobody({"ls", "/public"});
    EXPECT_EQ(r.status, 0) << describe(r);
    EXPECT_EQ(r.out, "motd = \"hello\"\n");

    for (std::vector<std::string> args : {std::vector<std::string>{"read", "/secret/key"},
                                          {"write", "/public/motd", "defaced"},
                                          {"ls", "/secret"},
                                          {"rm", "/public/motd"},
                                          {"watch", "/secret"},
                                          {"read", "/public/motd", "/secret/key"}}) {
        r = nobody(args);
        EXPECT_EQ(r.status, 77) << args[0] << " " << args[1] << ": " << describe(r);
        EXPECT_EQ(r.err.rfind("xenstorectl: " + args[0] + " /", 0), 0u) << r.err;
    }
    r = nobody({"transaction"}, "read /public/motd\\nwrite /public/motd defaced\\n");
    EXPECT_EQ(r.status, 77) << describe(r);
    EXPECT_EQ(stack.xenstored().read("/public/motd"), "hello");
}

TEST(ExitStatus, DaemonNotRunningIs69)
{
    Stack stack;
    stack.stopDaemon();
    for (std::vector<std::string> args : {std::vector<std::string>{"read", "/a"},
                                          {"write", "/a", "1", "/b", "2"},
                                          {"watch", "/a"},
                                          {"status"}}) {
        auto r = ctl(stack, args);
        EXPECT_EQ(r.status, 69) << args[0] << ": " << describe(r);
        EXPECT_NE(r.err.find("cannot reach xenstore-dbusd"), std::string::npos) << r.err;
    }
}

TEST(ExitStatus, BusNotReachableIs69)
{
    auto r = run({ctlPath(), "--address", "unix:path=/nonexistent/bus", "read", "/a"});
    EXPECT_EQ(r.status, 69) << describe(r);
    EXPECT_NE(r.err.find("cannot connect"), std::string::npos) << r.err;
}

TEST(ExitStatus, DaemonWithoutXenstoredIs69)
{
    Stack stack;
    stack.xenstored().stop();
    auto client = stack.client();
    ASSERT_TRUE(waitFor([&] { return !client->Connected(); }));
    auto r = ctl(stack, {"read", "/a"});
    EXPECT_EQ(r.status, 69) << describe(r);
    // status still answers, and says so.
    r = ctl(stack, {"status"});
    EXPECT_EQ(r.status, 0) << describe(r);
    EXPECT_NE(r.out.find("Connected: no\n"), std::string::npos) << r.out;
}

TEST(ExitStatus, UsageErrorsAre2AndNeedNoBus)
{
    // None of these reaches for the bus: the address leads nowhere.
    auto bad = [](const std::vector<std::string>& args) {
        std::vector<std::string> argv{ctlPath(), "--address", "unix:path=/nonexistent/bus"};
        argv.insert(argv.end(), args.begin(), args.end());
        return run(argv);
    };
    for (std::vector<std::string> args : {std::vector<std::string>{},
                                          {"frobnicate"},
                                          {"read"},
                                          {"read", "--bogus", "/a"},
                                          {"write", "/a"},
                                          {"chmod", "/a"},
                                          {"chmod", "/a", "x1"},
                                          {"watch", "-n", "many", "/a"},
                                          {"domain-path", "dom0"},
                                          {"snapshot", "/a", "/b"},
                                          {"transaction", "--retries", "-1"},
                                          {"ls", "-x"}}) {
        auto r = bad(args);
        std::string what = args.empty() ? "(no verb)" : args[0];
        EXPECT_EQ(r.status, 2) << what << ": " << describe(r);
        EXPECT_EQ(r.err.rfind("xenstorectl: ", 0), 0u) << r.err;
        EXPECT_EQ(r.out, "");
    }
}
