// `write` of several pairs is one transaction: an outside watcher sees the
// writes' events only once they are committed, all together, and a pair
// that fails leaves none of the others written. Values take xenstore-write's
// escapes.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "tests/ctl/access_log.h"
#include "tests/ctl/ctl.h"

using namespace xsd::test;

namespace {

class Write : public ::testing::Test {
protected:
    Stack stack;
    std::unique_ptr<Client> watcher = stack.client();

    // Watches path through the daemon and swallows the initial event.
    void watch(const std::string& path)
    {
        watcher->Watch(path, "outside");
        ASSERT_EQ(watcher->waitForEvents(1).size(), 1u);
        watcher->clearEvents();
    }
};

}  // namespace

TEST_F(Write, SeveralPairsAreCommittedTogether)
{
    stack.xenstored().write("/atomic", "");
    watch("/atomic");
    auto r = ctl(stack, {"write", "/atomic/a", "1", "/atomic/b", "two words", "/atomic/c", "3"});
    ASSERT_EQ(r.status, 0) << describe(r);
    EXPECT_EQ(r.out, "");

    auto events = watcher->waitForEvents(3);
    ASSERT_EQ(events.size(), 3u);
    // Whichever event came first, the whole write was already there.
    EXPECT_EQ(stack.xenstored().read("/atomic/a"), "1");
    EXPECT_EQ(stack.xenstored().read("/atomic/b"), "two words");
    EXPECT_EQ(stack.xenstored().read("/atomic/c"), "3");
    std::set<std::string> paths;
    for (const auto& e : events)
        paths.insert(e.path);
    EXPECT_EQ(paths, (std::set<std::string>{"/atomic/a", "/atomic/b", "/atomic/c"}));

    // What xenstored saw: the three writes inside one transaction, its
    // commit, and only then the watch events.
    auto log = parseAccessLog(stack.xenstored().accessLog());
    int a = findEntry(log, "write", "/atomic/a 1");
    ASSERT_GE(a, 0) << stack.xenstored().accessLog();
    std::string tx = log[a].id;
    EXPECT_NE(tx.find('.'), std::string::npos) << "not in a transaction: " << tx;
    int b = findEntry(log, "write", "/atomic/b two words", tx);
    int c = findEntry(log, "write", "/atomic/c 3", tx);
    ASSERT_GT(b, a);
    ASSERT_GT(c, b);
    int commit = findEntry(log, "commit", "", tx, c);
    ASSERT_GT(commit, c) << stack.xenstored().accessLog();
    int firstEvent = findEntry(log, "w event", "/atomic/");
    ASSERT_GE(firstEvent, 0);
    EXPECT_GT(firstEvent, commit) << stack.xenstored().accessLog();
}

TEST_F(Write, AFailingPairLeavesNoneWritten)
{
    stack.xenstored().write("/atomic2", "");
    watch("/atomic2");
    auto r = ctl(stack, {"write", "/atomic2/a", "1", "/atomic2//b", "2", "/atomic2/c", "3"});
    EXPECT_EQ(r.status, 1) << describe(r);
    EXPECT_EQ(r.err.rfind("xenstorectl: write /atomic2//b: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("'//'"), std::string::npos) << r.err;

    EXPECT_NE(stack.xenstored().tool("xenstore-read", {"/atomic2/a"}).status, 0);
    EXPECT_NE(stack.xenstored().tool("xenstore-read", {"/atomic2/c"}).status, 0);
    EXPECT_EQ(stack.xenstored().tool("xenstore-ls", {"/atomic2"}).out, "");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_TRUE(watcher->events().empty());
    // The first pair did reach xenstored — in a transaction that was never
    // committed.
    auto log = parseAccessLog(stack.xenstored().accessLog());
    int a = findEntry(log, "write", "/atomic2/a 1");
    ASSERT_GE(a, 0) << stack.xenstored().accessLog();
    EXPECT_NE(log[a].id.find('.'), std::string::npos);
    EXPECT_EQ(findEntry(log, "commit", "", log[a].id, a), -1) << stack.xenstored().accessLog();
}

TEST_F(Write, OnePairIsOnePlainWrite)
{
    auto r = ctl(stack, {"write", "/single", "value"});
    ASSERT_EQ(r.status, 0) << describe(r);
    EXPECT_EQ(stack.xenstored().read("/single"), "value");
    auto log = parseAccessLog(stack.xenstored().accessLog());
    int w = findEntry(log, "write", "/single value");
    ASSERT_GE(w, 0);
    EXPECT_EQ(log[w].id.find('.'), std::string::npos);
}

TEST_F(Write, ValuesTakeXenstoreWritesEscapes)
{
    for (const std::string value : {"tab\\there", "\\001\\x7f\\\\", "new\\nline", "\\xc3\\xbc", "end\\"}) {
        ASSERT_EQ(stack.xenstored().tool("xenstore-write", {"/theirs", value}).status, 0);
        auto r = ctl(stack, {"write", "/ours", value});
        ASSERT_EQ(r.status, 0) << describe(r);
        EXPECT_EQ(stack.xenstored().tool("xenstore-read", {"-R", "/ours"}).out,
                  stack.xenstored().tool("xenstore-read", {"-R", "/theirs"}).out)
            << value;
    }
}

TEST_F(Write, RawTakesValuesAsTheyAre)
{
    auto r = ctl(stack, {"write", "-R", "/raw", "a\\tb"});
    ASSERT_EQ(r.status, 0) << describe(r);
    EXPECT_EQ(stack.xenstored().tool("xenstore-read", {"-R", "/raw"}).out, "a\\tb");
    // A value that looks like an option goes after "--".
    r = ctl(stack, {"write", "--", "/dash", "-1"});
    ASSERT_EQ(r.status, 0) << describe(r);
    EXPECT_EQ(stack.xenstored().read("/dash"), "-1");
}

TEST_F(Write, OddArgumentsAreAUsageError)
{
    auto r = ctl(stack, {"write", "/a", "1", "/b"});
    EXPECT_EQ(r.status, 2) << describe(r);
    EXPECT_NE(stack.xenstored().tool("xenstore-read", {"/a"}).status, 0);
}
