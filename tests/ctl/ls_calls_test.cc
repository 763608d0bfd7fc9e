// xenstorectl ls gets a subtree in one call: the daemon's Snapshot brings
// every name and value (xenstore-ls asks for each node's children and value
// in turn), and -p adds one GetPermissions per node. What it prints is
// xenstore-ls's, byte for byte (ctl-output compares them); here, what it
// asks the daemon, from the daemon's log of requests.
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

    // The requests the daemon logged while `f` ran whose line starts with
    // `method` (the log prefixes each line with its priority, "<7>").
    template <class F>
    std::map<std::string, int> requestsDuring(F&& f)
    {
        const size_t before = splitLines(stack.daemonLog()).size();
        f();
        std::map<std::string, int> counts;
        auto lines = splitLines(stack.daemonLog());
        for (size_t i = before; i < lines.size(); ++i)
            for (const char* method : {"Snapshot ", "Directory ", "ReadBytes ", "GetPermissions "})
                if (lines[i].find(std::string(">") + method) != std::string::npos)
                    ++counts[method];
        return counts;
    }
};

}  // namespace

TEST_F(LsCalls, OneSnapshotForTheWholeSubtree)
{
    Output out;
    auto calls = requestsDuring([&] { out = ctl(stack, {"ls", "/calls"}); });
    ASSERT_EQ(out.status, 0) << describe(out);
    EXPECT_EQ(splitLines(out.out).size(), 5u * 8);  // d, name, memory, target, device, vif, 0, mac
    EXPECT_EQ(calls, (std::map<std::string, int>{{"Snapshot ", 1}})) << stack.daemonLog();
    EXPECT_EQ(out.out, stack.xenstored().tool("xenstore-ls", {"/calls"}).out);
}

TEST_F(LsCalls, PermissionsAddOneCallPerNode)
{
    Output out;
    auto calls = requestsDuring([&] { out = ctl(stack, {"ls", "-p", "/calls"}); });
    ASSERT_EQ(out.status, 0) << describe(out);
    EXPECT_EQ(calls, (std::map<std::string, int>{{"Snapshot ", 1}, {"GetPermissions ", 40}}));
    EXPECT_EQ(out.out, stack.xenstored().tool("xenstore-ls", {"-p", "/calls"}).out);
}

TEST_F(LsCalls, SeveralPathsOneSnapshotEach)
{
    Output out;
    auto calls = requestsDuring([&] { out = ctl(stack, {"ls", "/calls/1", "/calls/3"}); });
    ASSERT_EQ(out.status, 0) << describe(out);
    EXPECT_EQ(calls, (std::map<std::string, int>{{"Snapshot ", 2}}));
}

TEST_F(LsCalls, WithoutASnapshotTheWalkSaysWhyAsBefore)
{
    // No node: the Snapshot fails, and the walk's Directory fails as it
    // always did, in the same words and with the same status.
    Output out;
    auto calls = requestsDuring([&] { out = ctl(stack, {"ls", "/calls/none"}); });
    EXPECT_EQ(out.status, 1) << describe(out);
    EXPECT_THAT(out.err, HasSubstr("xenstorectl: ls /calls/none: Directory /calls/none: no such node"));
    EXPECT_EQ(calls, (std::map<std::string, int>{{"Snapshot ", 1}, {"Directory ", 1}}));
}
