// xenstorectl ls gets a subtree in one call: the daemon's Snapshot brings
// every name and value (xenstore-ls asks for each node's children and value
// in turn), and -p adds one GetPermissions per node, sent many at a time.
// What it prints is xenstore-ls's, byte for byte (ctl-output compares
// them); here, what it asks the daemon, from the daemon's log of requests.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/ctl/ctl.h"

using namespace xsd::test;
using ::testing::HasSubstr;

namespace {

class LsCalls : public ::testing::Test {
protected:
    Stack stack;  // the daemon logs one line per request (--verbose)

    void SetUp() override
    {
        for (int d = 0; d < 5; ++d)
            for (const char* leaf : {"name", "memory/target", "device/vif/0/mac"})
                stack.xenstored().write("/calls/" + std::to_string(d) + "/" + leaf, "v");
    }

    size_t logLines() { return splitLines(stack.daemonLog()).size(); }

    // The requests the daemon logged since line `from`, by method (the log
    // prefixes each line with its priority, "<7>"). A call is logged just
    // after its answer is sent, so this waits a moment for `expected`.
    std::map<std::string, int> requestsSince(size_t from, const std::map<std::string, int>& expected)
    {
        std::map<std::string, int> counts;
        waitFor([&] {
            counts.clear();
            auto lines = splitLines(stack.daemonLog());
            for (size_t i = from; i < lines.size(); ++i)
                for (const char* method : {"Snapshot ", "Directory ", "ReadBytes ", "GetPermissions "})
                    if (lines[i].find(std::string(">") + method) != std::string::npos)
                        ++counts[method];
            return counts == expected;
        }, std::chrono::seconds(2));
        return counts;
    }
};

}  // namespace

TEST_F(LsCalls, OneSnapshotForTheWholeSubtree)
{
    const size_t from = logLines();
    Output out = ctl(stack, {"ls", "/calls"});
    ASSERT_EQ(out.status, 0) << describe(out);
    EXPECT_EQ(splitLines(out.out).size(), 5u * 8);  // d, name, memory, target, device, vif, 0, mac
    const std::map<std::string, int> one{{"Snapshot ", 1}};
    EXPECT_EQ(requestsSince(from, one), one) << stack.daemonLog();
    EXPECT_EQ(out.out, stack.xenstored().tool("xenstore-ls", {"/calls"}).out);
    EXPECT_EQ(out.err, "");
}

TEST_F(LsCalls, PermissionsAddOneCallPerNodeManyInFlight)
{
    const size_t from = logLines();
    Output out = ctl(stack, {"ls", "-p", "/calls"});
    ASSERT_EQ(out.status, 0) << describe(out);
    const std::map<std::string, int> expected{{"Snapshot ", 1}, {"GetPermissions ", 40}};
    EXPECT_EQ(requestsSince(from, expected), expected);
    EXPECT_EQ(out.out, stack.xenstored().tool("xenstore-ls", {"-p", "/calls"}).out);
    EXPECT_EQ(out.err, "");
}

TEST_F(LsCalls, SeveralPathsOneSnapshotEach)
{
    const size_t from = logLines();
    Output out = ctl(stack, {"ls", "/calls/1", "/calls/3"});
    ASSERT_EQ(out.status, 0) << describe(out);
    const std::map<std::string, int> two{{"Snapshot ", 2}};
    EXPECT_EQ(requestsSince(from, two), two);
}

TEST_F(LsCalls, WithoutASnapshotTheWalkSaysWhyAsBefore)
{
    // No node: the Snapshot fails, and the walk's Directory fails as it
    // always did, in the same words and with the same status.
    const size_t from = logLines();
    Output out = ctl(stack, {"ls", "/calls/none"});
    EXPECT_EQ(out.status, 1) << describe(out);
    EXPECT_THAT(out.err, HasSubstr("xenstorectl: ls /calls/none: Directory /calls/none: no such node"));
    const std::map<std::string, int> expected{{"Snapshot ", 1}, {"Directory ", 1}};
    EXPECT_EQ(requestsSince(from, expected), expected);
}
