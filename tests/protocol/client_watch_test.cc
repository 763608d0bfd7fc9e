// Watches against a real oxenstored, over both transports, with changes made
// behind the client's back by XenStore's own tools.
#include "connected_client.h"

using namespace xs;
using namespace xs::test;
using namespace std::chrono_literals;

namespace {

class Watches : public ConnectedClient {
protected:
    Result<Unit> watch(const std::string& path, const std::string& token)
    {
        return await<Unit>([&](auto d) { client->watch(path, token, d); });
    }
    Result<Unit> unwatch(const std::string& path, const std::string& token)
    {
        return await<Unit>([&](auto d) { client->unwatch(path, token, d); });
    }
    // Waits for the n-th event of `token`, then a little longer, so that an
    // extra one would be seen too.
    bool settle(const std::string& token, size_t n)
    {
        bool reached = loop.runUntil([&] { return eventsFor(token) >= n; });
        loop.runFor(100ms);
        return reached;
    }
    std::vector<std::string> pathsFor(const std::string& token) const
    {
        std::vector<std::string> out;
        for (auto& [path, t] : events)
            if (t == token)
                out.push_back(path);
        return out;
    }
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(, Watches, bothTransports(), viaName);

TEST_P(Watches, FiresOnceOnRegistrationThenOnAChildChange)
{
    ASSERT_TRUE(write("/w", ""));
    auto r = watch("/w", "tok");
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_TRUE(settle("tok", 1));
    EXPECT_EQ(pathsFor("tok"), std::vector<std::string>{"/w"});

    xsd.write("/w/child", "x");
    ASSERT_TRUE(settle("tok", 2));
    EXPECT_EQ(pathsFor("tok"), (std::vector<std::string>{"/w", "/w/child"}));
    EXPECT_EQ(xsd.countAccessLog({"watch", "/w tok"}), 1) << xsd.accessLog();
    EXPECT_EQ(xsd.countAccessLog({"w event", "/w/child tok"}), 1) << xsd.accessLog();
}

TEST_P(Watches, UnwatchStopsEvents)
{
    ASSERT_TRUE(watch("/u", "gone"));
    ASSERT_TRUE(watch("/ctl", "ctl"));
    ASSERT_TRUE(settle("ctl", 1));
    ASSERT_TRUE(unwatch("/u", "gone"));
    // One tool writes /u/x and then /ctl/x: oxenstored queues events on our
    // connection in order, so once the /ctl event is here a /u event would
    // have been too.
    auto w = xsd.tool("xenstore-write", {"/u/x", "1", "/ctl/x", "2"});
    ASSERT_EQ(w.status, 0) << w.err;
    ASSERT_TRUE(settle("ctl", 2));
    EXPECT_EQ(eventsFor("gone"), 1u) << "only the registration event";
    auto again = unwatch("/u", "gone");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().errnoName, "ENOENT");
}

TEST_P(Watches, TokensAreKeptApart)
{
    ASSERT_TRUE(watch("/t", "first"));
    ASSERT_TRUE(watch("/t", "second"));
    ASSERT_TRUE(settle("second", 1));
    xsd.write("/t/x", "1");
    ASSERT_TRUE(settle("second", 2));
    EXPECT_EQ(pathsFor("first"), (std::vector<std::string>{"/t", "/t/x"}));
    EXPECT_EQ(pathsFor("second"), (std::vector<std::string>{"/t", "/t/x"}));
}

TEST_P(Watches, RemovedParentReportsTheWatchedPath)
{
    ASSERT_TRUE(write("/p/q/r", "x"));
    ASSERT_TRUE(watch("/p/q/r", "deep"));
    ASSERT_TRUE(settle("deep", 1));
    auto rm = xsd.tool("xenstore-rm", {"/p"});
    ASSERT_EQ(rm.status, 0) << rm.err;
    ASSERT_TRUE(settle("deep", 2));
    EXPECT_EQ(pathsFor("deep"), (std::vector<std::string>{"/p/q/r", "/p/q/r"}));
}

TEST_P(Watches, RelativeWatchGetsRelativeEvents)
{
    ASSERT_TRUE(watch("relw", "rel"));
    ASSERT_TRUE(settle("rel", 1));
    xsd.write("/local/domain/0/relw/c", "1");
    ASSERT_TRUE(settle("rel", 2));
    EXPECT_EQ(pathsFor("rel"), (std::vector<std::string>{"relw", "relw/c"}));
}

TEST_P(Watches, SpecialWatchesFireOnRegistration)
{
    ASSERT_TRUE(watch("@introduceDomain", "intro"));
    ASSERT_TRUE(watch("@releaseDomain", "rel"));
    ASSERT_TRUE(settle("rel", 1));
    EXPECT_EQ(pathsFor("intro"), std::vector<std::string>{"@introduceDomain"});
    EXPECT_EQ(pathsFor("rel"), std::vector<std::string>{"@releaseDomain"});
    ASSERT_TRUE(unwatch("@introduceDomain", "intro"));
    ASSERT_TRUE(unwatch("@releaseDomain", "rel"));
}

TEST_P(Watches, ResetWatchesDropsThemAll)
{
    ASSERT_TRUE(watch("/rw", "old"));
    ASSERT_TRUE(settle("old", 1));
    auto reset = await<Unit>([&](auto d) { client->resetWatches(d); });
    ASSERT_TRUE(reset) << reset.error().message;
    ASSERT_TRUE(watch("/ctl", "ctl"));  // registered after the reset: still fires
    ASSERT_TRUE(settle("ctl", 1));
    auto w = xsd.tool("xenstore-write", {"/rw/x", "1", "/ctl/x", "2"});
    ASSERT_EQ(w.status, 0) << w.err;
    ASSERT_TRUE(settle("ctl", 2));
    EXPECT_EQ(eventsFor("old"), 1u);
    EXPECT_EQ(xsd.countAccessLog({"reset watches"}), 1) << xsd.accessLog();
}
