// Watches through the daemon: one XenStore watch per path however many
// subscribe, per-caller tokens, the initial event, unicast delivery, and
// cleanup when a subscriber unwatches or leaves the bus.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "tests/harness/stack.h"

using namespace xsd::test;
using namespace std::chrono_literals;

namespace {

class Watches : public ::testing::Test {
protected:
    Stack stack;

    // oxenstored's access log lines for the daemon's WATCH / UNWATCH of path.
    int upstreamWatches(const std::string& path)
    {
        return stack.xenstored().countAccessLog({" watch ", " " + path + " xsd:"});
    }
    int upstreamUnwatches(const std::string& path)
    {
        return stack.xenstored().countAccessLog({" unwatch ", " " + path + " xsd:"});
    }
};

}  // namespace

TEST_F(Watches, InitialEventThenOnePerChange)
{
    auto c = stack.client();
    c->Watch("/vm", "mine");
    auto ev = c->waitForEvents(1);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0], (WatchEvent{"/vm", "mine"}));
    stack.xenstored().write("/vm/1/name", "guest");
    ev = c->waitForEvents(2);
    ASSERT_GE(ev.size(), 2u);
    EXPECT_EQ(ev[1], (WatchEvent{"/vm/1/name", "mine"}));
    // Nothing more arrives for that one change.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(c->events().size(), 2u);
}

TEST_F(Watches, FiftyClientsShareOneXenStoreWatch)
{
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 50; ++i) {
        clients.push_back(stack.client());
        clients.back()->Watch("/shared", "token-" + std::to_string(i));
    }
    for (int i = 0; i < 50; ++i) {
        auto ev = clients[i]->waitForEvents(1);
        ASSERT_EQ(ev.size(), 1u) << "client " << i;
        EXPECT_EQ(ev[0], (WatchEvent{"/shared", "token-" + std::to_string(i)}));
    }
    EXPECT_EQ(upstreamWatches("/shared"), 1) << stack.xenstored().accessLog();
    EXPECT_EQ(clients[0]->WatchCount(), 1u);
    EXPECT_EQ(clients[0]->SubscriptionCount(), 50u);

    stack.xenstored().write("/shared/x", "1");
    stack.xenstored().write("/shared/y", "2");
    for (int i = 0; i < 50; ++i) {
        auto ev = clients[i]->waitForEvents(3);
        ASSERT_EQ(ev.size(), 3u) << "client " << i;
        EXPECT_EQ(ev[1], (WatchEvent{"/shared/x", "token-" + std::to_string(i)}));
        EXPECT_EQ(ev[2], (WatchEvent{"/shared/y", "token-" + std::to_string(i)}));
    }
    EXPECT_EQ(upstreamWatches("/shared"), 1);
}

TEST_F(Watches, TokensArePerCaller)
{
    auto a = stack.client(), b = stack.client();
    a->Watch("/t/a", "same");
    b->Watch("/t/b", "same");
    a->waitForEvents(1);
    b->waitForEvents(1);
    stack.xenstored().write("/t/a/x", "1");
    auto ev = a->waitForEvents(2);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[1].path, "/t/a/x");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(b->events().size(), 1u) << "b saw a's event";
}

TEST_F(Watches, OneCallerSeveralTokensGetsOneEventPerToken)
{
    auto c = stack.client();
    c->Watch("/multi", "one");
    c->Watch("/multi", "two");
    c->waitForEvents(2);
    stack.xenstored().write("/multi/k", "v");
    auto ev = c->waitForEvents(4);
    ASSERT_EQ(ev.size(), 4u);
    std::set<std::string> tokens{ev[2].token, ev[3].token};
    EXPECT_EQ(tokens, (std::set<std::string>{"one", "two"}));
    EXPECT_EQ(upstreamWatches("/multi"), 1);
    // Watching again with a token already in use is refused.
    EXPECT_EQ(errorOf([&] { c->Watch("/multi", "one"); }), std::string(ErrorPrefix) + "Exists");
}

TEST_F(Watches, UnwatchOfTheLastSubscriberRemovesTheXenStoreWatch)
{
    auto a = stack.client(), b = stack.client();
    a->Watch("/u", "a");
    b->Watch("/u", "b");
    a->Unwatch("/u", "a");
    EXPECT_EQ(upstreamUnwatches("/u"), 0);
    b->Unwatch("/u", "b");
    EXPECT_TRUE(waitFor([&] { return upstreamUnwatches("/u") == 1; }))
        << stack.xenstored().accessLog();
    EXPECT_EQ(a->WatchCount(), 0u);
    EXPECT_EQ(a->SubscriptionCount(), 0u);
}

TEST_F(Watches, ACallerLeavingTheBusDropsItsSubscriptions)
{
    auto stays = stack.client();
    stays->Watch("/both", "s");
    {
        auto leaves = stack.client();
        leaves->Watch("/both", "l");
        leaves->Watch("/only-leaver", "l");
        EXPECT_EQ(stays->SubscriptionCount(), 3u);
    }
    // Its subscriptions go; the path only it watched is unwatched upstream.
    EXPECT_TRUE(waitFor([&] { return stays->SubscriptionCount() == 1u; }));
    EXPECT_TRUE(waitFor([&] { return upstreamUnwatches("/only-leaver") == 1; }))
        << stack.xenstored().accessLog();
    EXPECT_EQ(upstreamUnwatches("/both"), 0);
    EXPECT_EQ(stays->WatchCount(), 1u);
    // The one left still gets events.
    stays->waitForEvents(1);
    stack.xenstored().write("/both/z", "1");
    EXPECT_EQ(stays->waitForEvents(2).size(), 2u);
}

TEST_F(Watches, EventsAreUnicastNotBroadcast)
{
    auto subscriber = stack.client();
    // A second client with an ordinary match rule for every WatchEvent.
    auto conn = sdbus::createSessionBusConnectionWithAddress(stack.address());
    std::atomic<int> seen{0};
    conn->addMatch("type='signal',interface='org.xenproject.XenStore1',member='WatchEvent'",
                   [&](sdbus::Message&) { ++seen; }, sdbus::floating_slot);
    conn->enterEventLoopAsync();
    subscriber->Watch("/private", "p");
    stack.xenstored().write("/private/x", "1");
    EXPECT_EQ(subscriber->waitForEvents(2).size(), 2u);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(seen.load(), 0);
    conn->leaveEventLoop();
}

TEST_F(Watches, SpecialPathsCanBeWatched)
{
    auto c = stack.client();
    c->Watch("@introduceDomain", "intro");
    c->Watch("@releaseDomain", "rel");
    auto ev = c->waitForEvents(2);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0], (WatchEvent{"@introduceDomain", "intro"}));
    EXPECT_EQ(ev[1], (WatchEvent{"@releaseDomain", "rel"}));
    EXPECT_EQ(upstreamWatches("@introduceDomain"), 1);
}

TEST_F(Watches, RemovingAParentReportsTheWatchedPath)
{
    auto c = stack.client();
    stack.xenstored().write("/parent/child/leaf", "1");
    c->Watch("/parent/child/leaf", "t");
    c->waitForEvents(1);
    stack.xenstored().tool("xenstore-rm", {"/parent"});
    auto ev = c->waitForEvents(2);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[1], (WatchEvent{"/parent/child/leaf", "t"}));
}

// Waits until `pid` has used no CPU for 300 ms: it has done what it was
// given (here: the events of a burst, while nothing else can reach it).
void waitIdle(pid_t pid)
{
    double last = cpuSeconds(pid);
    for (int quiet = 0, i = 0; quiet < 3 && i < 300; ++i) {
        std::this_thread::sleep_for(100ms);
        double now = cpuSeconds(pid);
        quiet = now == last ? quiet + 1 : 0;
        last = now;
    }
}

TEST(WatchesUnderPressure, SubscribersThatLostEventsGetTheirWatchedPathsEventAgain)
{
    Stack::Options options;
    options.verbose = false;
    options.config = R"({"access": [{"uid": 0, "paths": ["/", "@"], "allow": ["read", "write", "watch"]}],
                         "limits": {"queued_watch_events": 5000}})";
    Stack stack(options);
    auto c = stack.client();
    c->Watch("/f", "mine");
    ASSERT_EQ(c->waitForEvents(1).size(), 1u);
    // Subscribers that never read (no event loop): dbus-daemon keeps their
    // events, and with them each change makes the daemon send 101 signals.
    std::vector<std::unique_ptr<sdbus::IConnection>> silent;
    for (int i = 0; i < 100; ++i) {
        silent.push_back(sdbus::createSessionBusConnectionWithAddress(stack.address()));
        sdbus::createProxy(*silent.back(), BusName, ObjectPath)
            ->callMethod("Watch")
            .onInterface(Interface)
            .withArguments(std::string("/f"), std::string("t"));
    }
    auto burst = [&](int writes, const std::string& value) {
        std::vector<std::string> args;
        for (int i = 0; i < writes; ++i) {
            args.push_back("/f/" + std::to_string(i));
            args.push_back(value);
        }
        ASSERT_EQ(stack.xenstored().tool("xenstore-write", args).status, 0);
        waitIdle(stack.daemon().pid());
    };
    const std::string losing = "watch events are being lost";
    {
        // dbus-daemon stopped: the kernel's socket buffer (some 15 MB with
        // sd-bus's send buffer) fills, sd-bus is handed a window of 1024
        // more, the daemon holds 5000, and loses the rest of 1000 × 101.
        Frozen frozen(stack.bus().pid());
        burst(1000, "first");
        ASSERT_NE(stack.daemonLog().find(losing), std::string::npos) << stack.daemonLog();
        burst(10, "last");  // lost for every subscriber, c included
    }
    EXPECT_TRUE(waitFor(
        [&] { return stack.daemonLog().find("caught up after") != std::string::npos; }, 60s))
        << stack.daemonLog();
    // Whatever c lost, an event for /f itself tells it to read /f afresh.
    EXPECT_TRUE(waitFor(
        [&] {
            auto ev = c->events();
            return std::find(ev.begin() + 1, ev.end(), WatchEvent{"/f", "mine"}) != ev.end();
        },
        60s));
    // Two log lines for the whole episode, not one per lost event.
    auto log = stack.daemonLog();
    size_t lines = 0;
    for (size_t at = log.find(losing); at != std::string::npos; at = log.find(losing, at + 1))
        ++lines;
    EXPECT_EQ(lines, 1u) << log;
    EXPECT_EQ(c->Read("/f/0"), "last");
}
