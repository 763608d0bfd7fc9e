// `watch`: one line per event, flushed as it happens, the same lines
// xenstore-watch prints; -n N exits after N events (the initial one
// included); SIGINT, a vanished reader and a vanished daemon end it.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "tests/ctl/ctl.h"

using namespace xsd::test;

namespace {

class Watch : public ::testing::Test {
protected:
    Stack stack;
    TempDir dir{"xsd-ctl-watch"};

    // argv running in the background, stdout and stderr to files.
    Process start(const std::vector<std::string>& argv, const std::string& name, const Env& env = {})
    {
        return Process::writing(argv, dir / (name + ".out"), dir / (name + ".err"), env);
    }
    std::string out(const std::string& name) { return readFile(dir / (name + ".out")); }
    std::string err(const std::string& name) { return readFile(dir / (name + ".err")); }
    // Waits until `name` printed at least n lines: each one arrives flushed.
    bool linesPrinted(const std::string& name, long n)
    {
        return waitFor([&] {
            auto text = out(name);
            return std::count(text.begin(), text.end(), '\n') >= n;
        });
    }
};

}  // namespace

TEST_F(Watch, ExitsAfterNEventsPrintingWhatXenstoreWatchPrints)
{
    stack.xenstored().write("/w", "");
    auto ours = start(ctlArgv(stack, {"watch", "-n", "3", "/w"}), "ours");
    auto theirs = start({"xenstore-watch", "-n", "3", "/w"}, "theirs",
                        {{"XENSTORED_PATH", stack.xenstored().socketPath()}});
    // Both got the initial event: their watches are in place.
    ASSERT_TRUE(linesPrinted("ours", 1)) << err("ours");
    ASSERT_TRUE(linesPrinted("theirs", 1)) << err("theirs");
    EXPECT_TRUE(ours.running());
    stack.xenstored().write("/w/a", "1");
    ASSERT_TRUE(linesPrinted("ours", 2));
    EXPECT_TRUE(ours.running());
    stack.xenstored().write("/w/b", "2");

    EXPECT_EQ(ours.wait(std::chrono::seconds(10)), 0) << err("ours");
    EXPECT_EQ(theirs.wait(std::chrono::seconds(10)), 0) << err("theirs");
    EXPECT_EQ(out("ours"), "/w\n/w/a\n/w/b\n");
    EXPECT_EQ(out("ours"), out("theirs"));
    EXPECT_EQ(err("ours"), "");
}

TEST_F(Watch, SeveralPathsNameTheWatchedPathToo)
{
    auto p = start(ctlArgv(stack, {"watch", "-n", "4", "/one", "/two"}), "two");
    ASSERT_TRUE(linesPrinted("two", 2)) << err("two");
    stack.xenstored().write("/two/x", "1");
    stack.xenstored().write("/one/y", "1");
    EXPECT_EQ(p.wait(std::chrono::seconds(10)), 0) << err("two");
    auto lines = splitLines(out("two"));
    ASSERT_EQ(lines.size(), 4u) << out("two");
    // The two initial events, in either order, then the changes in order.
    EXPECT_EQ(std::set<std::string>(lines.begin(), lines.begin() + 2),
              (std::set<std::string>{"/one /one", "/two /two"}));
    EXPECT_EQ(lines[2], "/two/x /two");
    EXPECT_EQ(lines[3], "/one/y /one");
}

TEST_F(Watch, JsonIsOneObjectPerLine)
{
    auto p = start(ctlArgv(stack, {"--json", "watch", "-n", "2", "@introduceDomain", "/j"}), "json");
    ASSERT_TRUE(linesPrinted("json", 2)) << err("json");
    EXPECT_EQ(p.wait(std::chrono::seconds(10)), 0);
    std::set<nlohmann::json> events;
    for (const auto& line : splitLines(out("json")))
        events.insert(nlohmann::json::parse(line));
    EXPECT_EQ(events, (std::set<nlohmann::json>{
                          nlohmann::json::parse(R"({"path": "@introduceDomain", "token": "@introduceDomain"})"),
                          nlohmann::json::parse(R"({"path": "/j", "token": "/j"})")}));
}

TEST_F(Watch, SigintEndsItCleanlyAndTheSubscriptionGoes)
{
    auto client = stack.client();
    auto p = start(ctlArgv(stack, {"watch", "/w"}), "int");
    ASSERT_TRUE(linesPrinted("int", 1)) << err("int");
    EXPECT_EQ(client->SubscriptionCount(), 1u);
    kill(p.pid(), SIGINT);
    EXPECT_EQ(p.wait(std::chrono::seconds(10)), 0);
    EXPECT_EQ(err("int"), "");
    EXPECT_TRUE(waitFor([&] { return client->SubscriptionCount() == 0u; }));
}

TEST_F(Watch, EndsCleanlyWhenItsReaderGoesAway)
{
    // head exits after one line; watch must notice, not linger or die of
    // SIGPIPE.
    std::string command;
    for (const auto& a : ctlArgv(stack, {"watch", "/w"}))
        command += "'" + a + "' ";
    auto r = run({"bash", "-c", "set -o pipefail; " + command + "| head -n 1"}, {}, {},
                 std::chrono::seconds(20));
    EXPECT_EQ(r.status, 0) << describe(r);
    EXPECT_EQ(r.out, "/w\n");
    EXPECT_EQ(r.err, "");
}

TEST_F(Watch, ExitsWith69WhenTheDaemonLeaves)
{
    auto p = start(ctlArgv(stack, {"watch", "/w"}), "gone");
    ASSERT_TRUE(linesPrinted("gone", 1)) << err("gone");
    stack.stopDaemon();
    EXPECT_EQ(p.wait(std::chrono::seconds(10)), 69);
    EXPECT_NE(err("gone").find("left the bus"), std::string::npos) << err("gone");
}

// Anyone may send `watch` a signal. Before, a WatchEvent from a user printed
// its path as if XenStore had changed it (a trigger for `watch -n 1 …
// && action`), and a NameOwnerChanged from a user made it say the daemon
// had left and exit 69.
TEST_F(Watch, SignalsFromAnyoneButTheDaemonAndTheBusAreNotBelieved)
{
    auto p = start(ctlArgv(stack, {"watch", "/w"}), "forged");
    ASSERT_TRUE(linesPrinted("forged", 1)) << err("forged");
    const std::string watcher = stack.uniqueNameOf(p.pid());
    ASSERT_NE(watcher, "");

    auto event = stack.forgeSignal(watcher, ObjectPath, Interface, "WatchEvent", {"/w/forged", "/w"});
    ASSERT_EQ(event.status, 0) << event.err;
    auto left = stack.forgeSignal(watcher, "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                  "NameOwnerChanged", {BusName, stack.daemonUniqueName(), ""});
    ASSERT_EQ(left.status, 0) << left.err;
    // A real change, after the forgeries: its event comes after theirs.
    stack.xenstored().write("/w/real", "1");
    ASSERT_TRUE(linesPrinted("forged", 2)) << err("forged");
    EXPECT_TRUE(p.running()) << err("forged");
    EXPECT_EQ(out("forged"), "/w\n/w/real\n");
}
