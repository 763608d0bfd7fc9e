// The systemd protocol as the service manager sees it, without systemd: the
// daemon's $NOTIFY_SOCKET points at a datagram socket the test owns.
// READY=1 waits for the bus name and xenstored; STATUS= follows the counts;
// WATCHDOG=1 comes within the interval; SIGTERM/SIGINT say STOPPING=1 and
// leave cleanly (transactions aborted, upstream watches removed, exit 0);
// SIGHUP says RELOADING=1 … READY=1.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>

#include "tests/system/system_stack.h"

using namespace xsd::test;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

std::chrono::milliseconds since(std::chrono::steady_clock::time_point t0)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  t0);
}

size_t indexOf(const std::vector<std::string>& history, std::string_view line, size_t from = 0)
{
    for (size_t i = from; i < history.size(); ++i)
        if (NotifySocket::hasLine(history[i], line))
            return i;
    return history.size();
}

size_t countOf(const std::vector<std::string>& history, std::string_view line)
{
    return std::count_if(history.begin(), history.end(),
                         [&](const std::string& m) { return NotifySocket::hasLine(m, line); });
}

// The stack's daemon with $NOTIFY_SOCKET (and more) set, ready.
Stack::Options notified(const NotifySocket& ns, Env more = {}, std::optional<std::string> config = {})
{
    Env env = ns.env();
    env.insert(more.begin(), more.end());
    Stack::Options o;
    o.env = env;
    o.config = std::move(config);
    return o;
}

}  // namespace

TEST(Readiness, ReadyWaitsForXenstored)
{
    Stack stack(withoutDaemon());
    stack.xenstored().stop(SIGTERM);
    const std::string backend = stack.xenstored().backend();

    NotifySocket ns;
    OwnDaemon d(stack, ns.env());
    // It owns its name and answers, without xenstored.
    ASSERT_TRUE(waitFor([&] {
        auto r = stack.busctl({"get-property", BusName, ObjectPath, Interface, "Connected"});
        return r.status == 0 && r.out == "b false\n";
    }, 5s)) << d.log();
    EXPECT_TRUE(nameOwned(stack));
    // It says so, but does not claim readiness.
    auto status = waitForStatus(ns, "Not connected to " + backend, 3s);
    ASSERT_TRUE(status) << d.log();
    EXPECT_EQ(*status, "Not connected to " + backend + "; 0 watches, 0 subscriptions, 0 transactions");
    // Over several reconnection attempts (the backoff starts well below a
    // second), still no READY=1.
    EXPECT_FALSE(ns.waitFor("READY=1", 1500ms)) << d.log();
    EXPECT_EQ(countOf(ns.history(), "READY=1"), 0u);
    EXPECT_THAT(d.log(), Not(HasSubstr("connected to xenstored at"))) << d.log();

    stack.xenstored().start();
    auto ready = ns.waitFor("READY=1", 5s);
    ASSERT_TRUE(ready) << d.log();
    EXPECT_EQ(ns.lastSender(), d.pid());
    EXPECT_EQ(statusOf(*ready),
              "Connected to " + backend + "; 0 watches, 0 subscriptions, 0 transactions");
    EXPECT_TRUE(nameOwned(stack));
    auto r = stack.busctl({"get-property", BusName, ObjectPath, Interface, "Connected"});
    EXPECT_EQ(r.out, "b true\n");
    // READY=1 once only.
    EXPECT_FALSE(ns.waitFor("READY=1", 700ms));
    EXPECT_EQ(countOf(ns.history(), "READY=1"), 1u);
}

TEST(Readiness, StatusFollowsTheXenstoredConnection)
{
    NotifySocket ns;
    Stack stack(notified(ns));
    ASSERT_TRUE(ns.waitFor("READY=1", 5s)) << stack.daemonLog();
    const std::string backend = stack.xenstored().backend();
    stack.xenstored().stop(SIGKILL);
    auto down = waitForStatus(ns, "Not connected to " + backend, 3s);
    ASSERT_TRUE(down) << stack.daemonLog();
    stack.xenstored().start();
    EXPECT_TRUE(waitForStatus(ns, "Connected to " + backend, 5s)) << stack.daemonLog();
    // Readiness was told once; a reconnection is no new start.
    EXPECT_EQ(countOf(ns.history(), "READY=1"), 1u);
}

TEST(Readiness, SigtermWhileXenstoredIsAway)
{
    Stack stack(withoutDaemon());
    stack.xenstored().stop(SIGTERM);
    NotifySocket ns;
    OwnDaemon d(stack, ns.env());
    ASSERT_TRUE(waitFor([&] { return nameOwned(stack); }, 5s)) << d.log();
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(d.process().stop(SIGTERM), 0) << d.log();
    EXPECT_LT(since(t0), 1000ms);
    EXPECT_TRUE(ns.waitFor("STOPPING=1", 1s));
    EXPECT_EQ(countOf(ns.history(), "READY=1"), 0u);
}

TEST(Readiness, ReadyComesWithTheNameOwnedAndConnected)
{
    NotifySocket ns;
    Stack stack(notified(ns));
    auto ready = ns.waitFor("READY=1", 5s);
    ASSERT_TRUE(ready) << stack.daemonLog();
    EXPECT_EQ(ns.lastSender(), stack.daemon().pid());
    EXPECT_TRUE(nameOwned(stack));
    EXPECT_THAT(*ready, HasSubstr("STATUS=Connected to " + stack.xenstored().backend()));
    // Nothing claimed readiness earlier.
    EXPECT_EQ(indexOf(ns.history(), "READY=1"), ns.history().size() - 1);
}

TEST(Readiness, StatusFollowsWatchesAndTransactions)
{
    NotifySocket ns;
    Stack stack(notified(ns));
    ASSERT_TRUE(ns.waitFor("READY=1", 5s)) << stack.daemonLog();
    auto c = stack.client();

    c->Watch("/status/a", "t");
    auto s = waitForStatus(ns, "1 watch, 1 subscription, 0 transactions", 3s);
    ASSERT_TRUE(s) << stack.daemonLog();
    EXPECT_THAT(*s, HasSubstr("Connected to "));

    // Two subscribers on one path: one XenStore watch, two subscriptions.
    auto other = stack.client();
    other->Watch("/status/a", "t");
    EXPECT_TRUE(waitForStatus(ns, "1 watch, 2 subscriptions, 0 transactions", 3s));

    auto txPath = c->StartTransaction();
    EXPECT_TRUE(waitForStatus(ns, "1 watch, 2 subscriptions, 1 transaction", 3s));
    TransactionClient tx(c->connection(), txPath);
    tx.Write("/status/in-tx", "1");
    EXPECT_TRUE(tx.Commit());
    EXPECT_TRUE(waitForStatus(ns, "1 watch, 2 subscriptions, 0 transactions", 3s))
        << "STATUS= did not follow the commit";

    auto aborted = TransactionClient(c->connection(), c->StartTransaction());
    EXPECT_TRUE(waitForStatus(ns, "1 transaction", 3s));
    aborted.Abort();
    EXPECT_TRUE(waitForStatus(ns, "1 watch, 2 subscriptions, 0 transactions", 3s))
        << "STATUS= did not follow the abort";

    c->Unwatch("/status/a", "t");
    EXPECT_TRUE(waitForStatus(ns, "1 watch, 1 subscription, 0 transactions", 3s));
    other.reset();  // leaves the bus: its subscription goes
    EXPECT_TRUE(waitForStatus(ns, "0 watches, 0 subscriptions, 0 transactions", 3s));
    if (HasFailure())
        for (const auto& m : ns.history())
            ADD_FAILURE() << "notified: " << m;
}

TEST(Readiness, StatusIsCoalescedToTwoASecond)
{
    NotifySocket ns;
    Stack stack(notified(ns));
    ASSERT_TRUE(ns.waitFor("READY=1", 5s)) << stack.daemonLog();
    auto c = stack.client();
    const size_t before = ns.history().size();
    auto t0 = std::chrono::steady_clock::now();
    // Every call changes the counts.
    for (int i = 0; i < 40; ++i) {
        c->Watch("/burst/" + std::to_string(i), "t");
        c->Unwatch("/burst/" + std::to_string(i), "t");
    }
    c->Watch("/burst/last", "t");
    // The final state is reported…
    ASSERT_TRUE(waitForStatus(ns, "1 watch, 1 subscription", 3s));
    auto elapsed = since(t0);
    // …after at most two STATUS= a second (plus one at either edge).
    size_t statuses = 0;
    for (size_t i = before; i < ns.history().size(); ++i)
        statuses += NotifySocket::hasLine(ns.history()[i], "STATUS=");
    EXPECT_LE(statuses, static_cast<size_t>(2 * elapsed.count() / 1000 + 2))
        << statuses << " STATUS= in " << elapsed.count() << " ms";
}

TEST(Readiness, WatchdogPingsWithinTheInterval)
{
    // WATCHDOG_USEC without WATCHDOG_PID: meant for whoever reads it.
    NotifySocket ns;
    Stack stack(notified(ns, {{"WATCHDOG_USEC", "2000000"}}));
    ASSERT_TRUE(ns.waitFor("READY=1", 5s)) << stack.daemonLog();
    auto last = std::chrono::steady_clock::now();
    // sd-event pings between a half and three quarters of the interval.
    for (int i = 0; i < 2; ++i) {
        ASSERT_TRUE(ns.waitFor("WATCHDOG=1", 2s)) << "ping " << i << " did not come within 2 s";
        EXPECT_EQ(ns.lastSender(), stack.daemon().pid());
        auto now = std::chrono::steady_clock::now();
        EXPECT_LT(now - last, 2000ms);
        last = now;
    }
}

TEST(Readiness, WatchdogHonoursWatchdogPid)
{
    // sd_watchdog_enabled(3): WATCHDOG_PID names the process meant. The
    // daemon's own pid (a shell sets it to $$ and execs the daemon) → pings.
    Stack stack(withoutDaemon());
    {
        NotifySocket ns;
        OwnDaemon d(stack, {{"NOTIFY_SOCKET", ns.path()}, {"WATCHDOG_USEC", "1000000"}}, {},
                    {"sh", "-c", "export WATCHDOG_PID=$$; exec \"$0\" \"$@\""});
        ASSERT_TRUE(ns.waitFor("READY=1", 5s)) << d.log();
        ASSERT_TRUE(ns.waitFor("WATCHDOG=1", 1s)) << d.log();
        EXPECT_EQ(ns.lastSender(), d.pid());
        ASSERT_TRUE(ns.waitFor("WATCHDOG=1", 1s)) << d.log();
        EXPECT_EQ(d.process().stop(SIGTERM), 0);
    }
    // Another process's pid → the watchdog is not the daemon's: no pings,
    // and the daemon still works.
    {
        NotifySocket ns;
        OwnDaemon d(stack, {{"NOTIFY_SOCKET", ns.path()},
                            {"WATCHDOG_USEC", "1000000"},
                            {"WATCHDOG_PID", std::to_string(getpid())}});
        ASSERT_TRUE(ns.waitFor("READY=1", 5s)) << d.log();
        EXPECT_FALSE(ns.waitFor("WATCHDOG=1", 1500ms));
        EXPECT_EQ(countOf(ns.history(), "WATCHDOG=1"), 0u);
        EXPECT_EQ(d.process().stop(SIGTERM), 0);
    }
    // No WATCHDOG_USEC → no pings.
    {
        NotifySocket ns;
        OwnDaemon d(stack, ns.env());
        ASSERT_TRUE(ns.waitFor("READY=1", 5s)) << d.log();
        EXPECT_FALSE(ns.waitFor("WATCHDOG=1", 1000ms));
        EXPECT_EQ(d.process().stop(SIGTERM), 0);
    }
}

TEST(Readiness, SigtermStopsGracefully)
{
    NotifySocket ns;
    Stack stack(notified(ns));
    ASSERT_TRUE(ns.waitFor("READY=1", 5s)) << stack.daemonLog();
    auto c = stack.client();
    c->Watch("/bye", "t");
    ASSERT_EQ(c->waitForEvents(1).size(), 1u);
    TransactionClient tx(c->connection(), c->StartTransaction());
    tx.Write("/bye/in-tx", "never");
    auto& xs = stack.xenstored();
    ASSERT_EQ(xs.countAccessLog({" watch ", " /bye xsd:"}), 1) << xs.accessLog();
    ASSERT_EQ(xs.countAccessLog({"t start"}), 1) << xs.accessLog();
    ASSERT_EQ(xs.countAccessLog({"t end"}), 0) << xs.accessLog();

    const pid_t daemonPid = stack.daemon().pid();
    EXPECT_EQ(stack.stopDaemon(SIGTERM), 0) << stack.daemonLog();
    auto stopping = ns.waitFor("STOPPING=1", 1s);
    ASSERT_TRUE(stopping);
    EXPECT_EQ(ns.lastSender(), daemonPid);
    // It told xenstored before going: the transaction ended (not committed),
    // the watch removed.
    EXPECT_EQ(xs.countAccessLog({"t end"}), 1) << xs.accessLog();
    EXPECT_EQ(xs.countAccessLog({" unwatch ", " /bye xsd:"}), 1) << xs.accessLog();
    EXPECT_NE(xs.tool("xenstore-read", {"/bye/in-tx"}).status, 0);
    EXPECT_THAT(stack.daemonLog(), HasSubstr("stopping on signal 15"));
    EXPECT_FALSE(nameOwned(stack));
    // Nothing after STOPPING=1 claims readiness.
    EXPECT_EQ(indexOf(ns.history(), "READY=1", indexOf(ns.history(), "STOPPING=1")),
              ns.history().size());
}

TEST(Readiness, SigintStopsGracefullyToo)
{
    NotifySocket ns;
    Stack stack(notified(ns));
    ASSERT_TRUE(ns.waitFor("READY=1", 5s)) << stack.daemonLog();
    auto c = stack.client();
    c->Watch("/int", "t");
    EXPECT_EQ(stack.stopDaemon(SIGINT), 0) << stack.daemonLog();
    EXPECT_TRUE(ns.waitFor("STOPPING=1", 1s));
    EXPECT_EQ(stack.xenstored().countAccessLog({" unwatch ", " /int xsd:"}), 1)
        << stack.xenstored().accessLog();
}

TEST(Readiness, SighupSaysReloadingThenReady)
{
    NotifySocket ns;
    Stack stack(notified(ns, {}, R"({"access": [{"uid": 0, "paths": ["/"], "allow": ["read"]}]})"));
    ASSERT_TRUE(ns.waitFor("READY=1", 5s)) << stack.daemonLog();
    const size_t firstReady = ns.history().size() - 1;

    kill(stack.daemon().pid(), SIGHUP);
    auto reloading = ns.waitFor("RELOADING=1", 3s);
    ASSERT_TRUE(reloading) << stack.daemonLog();
    EXPECT_TRUE(NotifySocket::hasLine(*reloading, "MONOTONIC_USEC="));
    auto ready = ns.waitFor("READY=1", 3s);
    ASSERT_TRUE(ready) << stack.daemonLog();
    EXPECT_EQ(ns.lastSender(), stack.daemon().pid());
    const auto& h = ns.history();
    size_t rel = indexOf(h, "RELOADING=1", firstReady + 1);
    EXPECT_LT(rel, indexOf(h, "READY=1", rel + 1));
    EXPECT_THAT(stack.daemonLog(), HasSubstr("reloaded the configuration from " + stack.configPath()));
    // Still serving.
    auto r = stack.busctlCall("Exists", {"s", "/"});
    EXPECT_EQ(r.out, "b true\n") << r.err;
}

TEST(Readiness, SighupBeforeReadyDoesNotClaimReadiness)
{
    // A reload while xenstored is still away must not tell systemd the
    // service is up.
    Stack stack(withoutDaemon());
    stack.xenstored().stop(SIGTERM);
    NotifySocket ns;
    OwnDaemon d(stack, ns.env());
    ASSERT_TRUE(waitFor([&] { return nameOwned(stack); }, 5s)) << d.log();
    kill(d.pid(), SIGHUP);
    ASSERT_TRUE(waitFor([&] { return d.log().find("reloaded the configuration") != std::string::npos; },
                        3s))
        << d.log();
    EXPECT_FALSE(ns.waitFor("READY=1", 1000ms)) << d.log();
    EXPECT_EQ(countOf(ns.history(), "READY=1"), 0u);

    stack.xenstored().start();
    auto ready = ns.waitFor("READY=1", 5s);
    ASSERT_TRUE(ready) << d.log();
    EXPECT_THAT(*ready, HasSubstr("STATUS=Connected to "));
}
