// The sd_notify glue, received on a socket the test owns as systemd would
// own it, and the STATUS= line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdlib>

#include "systemd/notify.h"
#include "systemd/status.h"
#include "tests/harness/event_loop.h"
#include "tests/harness/notify_socket.h"

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using xsd::test::NotifySocket;

namespace {

// Points this process's sd_notify at a socket of the test's, for one test.
class NotifyTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        ::setenv("NOTIFY_SOCKET", socket.path().c_str(), 1);
        ::unsetenv("WATCHDOG_USEC");
        ::unsetenv("WATCHDOG_PID");
    }
    void TearDown() override
    {
        ::unsetenv("NOTIFY_SOCKET");
        ::unsetenv("WATCHDOG_USEC");
        ::unsetenv("WATCHDOG_PID");
    }

    NotifySocket socket;
};

}  // namespace

TEST(StatusLine, ConnectedWithCounts)
{
    EXPECT_EQ(xsd::formatStatus({true, "unix:/var/run/xenstored/socket", 3, 7, 1, ""}),
              "Connected to unix:/var/run/xenstored/socket; 3 watches, 7 subscriptions, "
              "1 transaction");
    EXPECT_EQ(xsd::formatStatus({true, "xenbus:/dev/xen/xenbus", 1, 1, 0, ""}),
              "Connected to xenbus:/dev/xen/xenbus; 1 watch, 1 subscription, 0 transactions");
}

TEST(StatusLine, NotConnectedAndNotes)
{
    EXPECT_EQ(xsd::formatStatus({false, "unix:/run/xs", 0, 0, 0, ""}),
              "Not connected to unix:/run/xs; 0 watches, 0 subscriptions, 0 transactions");
    EXPECT_EQ(xsd::formatStatus({false, "", 2, 5, 2, "configuration not reloaded: x.json: bad"}),
              "Not connected to XenStore; 2 watches, 5 subscriptions, 2 transactions; "
              "configuration not reloaded: x.json: bad");
}

TEST(NotifySocketHarness, LinesAndTimeouts)
{
    EXPECT_TRUE(NotifySocket::hasLine("READY=1\nSTATUS=x", "READY=1"));
    EXPECT_TRUE(NotifySocket::hasLine("READY=1\nSTATUS=x", "STATUS="));
    EXPECT_FALSE(NotifySocket::hasLine("READY=10", "READY=1"));
    EXPECT_FALSE(NotifySocket::hasLine("XSTATUS=1", "STATUS="));

    NotifySocket s;
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(s.receive(100ms), std::nullopt);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
    EXPECT_EQ(s.waitFor("READY=1", 50ms), std::nullopt);
}

TEST_F(NotifyTest, ReadyCarriesStatus)
{
    EXPECT_GT(xsd::notify::ready("Connected to unix:/x; 0 watches"), 0);
    auto m = socket.receive(2s);
    ASSERT_TRUE(m);
    EXPECT_EQ(*m, "READY=1\nSTATUS=Connected to unix:/x; 0 watches");
    EXPECT_EQ(socket.lastSender(), ::getpid());

    EXPECT_GT(xsd::notify::ready(), 0);
    EXPECT_EQ(socket.receive(2s), std::optional<std::string>("READY=1"));
}

TEST_F(NotifyTest, StatusCannotInjectAssignments)
{
    // A path or error text with a line break must not become READY=1.
    EXPECT_GT(xsd::notify::status("bad\nREADY=1"), 0);
    auto m = socket.receive(2s);
    ASSERT_TRUE(m);
    EXPECT_EQ(*m, "STATUS=bad READY=1");
    EXPECT_FALSE(NotifySocket::hasLine(*m, "READY=1"));
}

TEST_F(NotifyTest, ReloadingThenStopping)
{
    EXPECT_GT(xsd::notify::reloading(), 0);
    auto reloading = socket.receive(2s);
    ASSERT_TRUE(reloading);
    EXPECT_TRUE(NotifySocket::hasLine(*reloading, "RELOADING=1"));
    EXPECT_TRUE(NotifySocket::hasLine(*reloading, "MONOTONIC_USEC="));

    EXPECT_GT(xsd::notify::stopping(), 0);
    EXPECT_EQ(socket.receive(2s), std::optional<std::string>("STOPPING=1"));
    EXPECT_EQ(socket.history().size(), 2u);
}

TEST_F(NotifyTest, NothingIsSentWithoutAServiceManager)
{
    ::unsetenv("NOTIFY_SOCKET");
    EXPECT_EQ(xsd::notify::ready("x"), 0);
    EXPECT_EQ(xsd::notify::stopping(), 0);
    EXPECT_EQ(socket.receive(100ms), std::nullopt);
}

TEST_F(NotifyTest, WatchdogPingsFromTheLoopAtHalfTheInterval)
{
    // WatchdogSec=1.6s as systemd would pass it: long enough that a loaded
    // CI machine's scheduling delays (a few hundred ms seen at load 22 on 2
    // cores, against the 400 ms this used) are not taken for a hang.
    const auto interval = 1600ms;
    ::setenv("WATCHDOG_USEC", "1600000", 1);
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
    xsd::test::EventLoop loop;
    ASSERT_GT(xsd::notify::enableWatchdog(loop.get()), 0);

    // The pings come only while the loop turns: run it, then collect them.
    std::vector<std::chrono::steady_clock::time_point> pings;
    auto until = std::chrono::steady_clock::now() + 4000ms;
    while (std::chrono::steady_clock::now() < until) {
        sd_event_run(loop.get(), 10000);
        while (auto m = socket.receive(0ms))
            if (NotifySocket::hasLine(*m, "WATCHDOG=1"))
                pings.push_back(std::chrono::steady_clock::now());
    }
    // About every 800 ms: at least 4 in 4 s (the first comes at once),
    // never a gap the manager would take for a hang.
    ASSERT_GE(pings.size(), 4u);
    EXPECT_LE(pings.size(), 11u);
    for (size_t i = 1; i < pings.size(); ++i)
        EXPECT_LT(pings[i] - pings[i - 1], interval) << "gap before ping " << i;

    // A loop that stops turning stops pinging.
    while (socket.receive(0ms)) {
    }
    EXPECT_EQ(socket.waitFor("WATCHDOG=1", interval), std::nullopt);
}

TEST_F(NotifyTest, NoWatchdogUnlessAskedFor)
{
    xsd::test::EventLoop loop;
    EXPECT_EQ(xsd::notify::enableWatchdog(loop.get()), 0);
    loop.runFor(300ms);
    EXPECT_EQ(socket.receive(0ms), std::nullopt);

    // Asked for another process (WATCHDOG_PID is not ours): not ours to ping.
    ::setenv("WATCHDOG_USEC", "200000", 1);
    ::setenv("WATCHDOG_PID", "1", 1);
    xsd::test::EventLoop other;
    EXPECT_EQ(xsd::notify::enableWatchdog(other.get()), 0);
    other.runFor(300ms);
    EXPECT_EQ(socket.receive(0ms), std::nullopt);
}
