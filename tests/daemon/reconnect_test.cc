// xenstored going away under a running daemon: calls fail fast with
// NotConnected, Connected flips, transactions end with a clear error,
// subscriptions survive and resynchronise, and service resumes by itself.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <future>

#include <nlohmann/json.hpp>

#include "tests/harness/pty_relay.h"
#include "tests/harness/stack.h"

using namespace xsd::test;
using namespace std::chrono_literals;

namespace {

const std::string Prefix = ErrorPrefix;

template <class F>
std::chrono::milliseconds timed(F&& f)
{
    auto t0 = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
}

}  // namespace

TEST(Reconnect, XenstoredRestartIsSurvived)
{
    Stack stack;
    auto c = stack.client();
    c->Watch("/survive", "s");
    ASSERT_EQ(c->waitForEvents(1).size(), 1u);
    auto txPath = c->StartTransaction();
    TransactionClient tx(c->connection(), txPath);
    tx.Write("/survive/in-tx", "lost");
    EXPECT_EQ(c->TransactionCount(), 1u);

    stack.xenstored().stop(SIGKILL);

    // Connected goes false, announced; calls fail at once.
    EXPECT_TRUE(waitFor([&] {
        auto ch = c->connectedChanges();
        return !ch.empty() && ch.back() == false;
    }, 2s));
    EXPECT_FALSE(c->Connected());
    std::string error;
    auto took = timed([&] { error = errorOf([&] { c->Read("/survive"); }); });
    EXPECT_EQ(error, Prefix + "NotConnected");
    EXPECT_LT(took, 1000ms);
    EXPECT_EQ(c->TransactionCount(), 0u);
    EXPECT_EQ(c->SubscriptionCount(), 1u);  // kept for the reconnect
    EXPECT_EQ(c->WatchCount(), 0u);         // none held upstream now

    stack.xenstored().start();
    // Back within one backoff step (at most 2 s), and announced.
    EXPECT_TRUE(waitFor([&] { return c->Connected(); }, 3s));
    EXPECT_TRUE(waitFor([&] {
        auto ch = c->connectedChanges();
        return ch.size() >= 2 && ch.back() == true;
    }, 2s));
    // The subscription was placed again; XenStore's initial event arrived,
    // and later changes do too.
    EXPECT_EQ(c->waitForEvents(2).size(), 2u);
    EXPECT_EQ(c->events()[1], (WatchEvent{"/survive", "s"}));
    EXPECT_EQ(c->WatchCount(), 1u);
    stack.xenstored().write("/survive/after", "1");
    auto ev = c->waitForEvents(3);
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(ev[2], (WatchEvent{"/survive/after", "s"}));

    // The transaction ended with the old xenstored: its next call says so,
    // then the object is gone.
    try {
        tx.Read("/survive/in-tx");
        FAIL() << "a transaction survived xenstored";
    } catch (const sdbus::Error& e) {
        EXPECT_EQ(e.getName(), Prefix + "UnknownTransaction");
        EXPECT_NE(e.getMessage().find("xenstored restarted"), std::string::npos) << e.getMessage();
    }
    EXPECT_EQ(errorOf([&] { tx.Read("/x"); }), "org.freedesktop.DBus.Error.UnknownObject");
    EXPECT_FALSE(c->Exists("/survive/in-tx"));
    EXPECT_EQ(c->Read("/survive/after"), "1");
}

TEST(Reconnect, CallsInFlightAreAnsweredAtOnce)
{
    Stack stack;
    auto c = stack.client();
    c->Write("/inflight", "1");
    // Freeze xenstored so calls pile up in flight, then kill it.
    kill(stack.xenstored().pid(), SIGSTOP);
    std::vector<std::future<std::string>> calls;
    for (int i = 0; i < 10; ++i)
        calls.push_back(std::async(std::launch::async, [&] {
            auto own = stack.client();
            return errorOf([&] { own->Read("/inflight"); });
        }));
    std::this_thread::sleep_for(300ms);
    for (auto& f : calls)
        EXPECT_EQ(f.wait_for(0ms), std::future_status::timeout) << "a call returned early";
    auto killedAt = std::chrono::steady_clock::now();
    stack.xenstored().stop(SIGKILL);
    for (auto& f : calls) {
        EXPECT_EQ(f.get(), Prefix + "NotConnected");
        EXPECT_LT(std::chrono::steady_clock::now() - killedAt, 1s);
    }
}

TEST(Reconnect, SnapshotsWaitingAreAnsweredWhenXenstoredGoes)
{
    Stack stack;
    auto c = stack.client();
    c->Write("/s/a", "1");
    c->Write("/t/a", "1");
    // One walk under way (xenstored frozen), two waiting behind it.
    kill(stack.xenstored().pid(), SIGSTOP);
    std::vector<std::future<std::string>> answers;
    for (const char* path : {"/s", "/s", "/t"})
        answers.push_back(c->snapshotLater(path));
    c->Version();  // the daemon has taken the three
    stack.xenstored().stop(SIGKILL);
    for (auto& a : answers) {
        ASSERT_EQ(a.wait_for(1s), std::future_status::ready);
        EXPECT_EQ(a.get(), Prefix + "NotConnected");
    }
    // The queue goes on once xenstored is back.
    stack.xenstored().start();
    ASSERT_TRUE(waitFor([&] { return c->Connected(); }, 5s));
    c->Write("/s/a", "2");
    EXPECT_EQ(nlohmann::json::parse(c->Snapshot("/s"))["children"]["a"]["value"], "2");
}

TEST(Reconnect, DaemonStartsBeforeXenstoredAndWaits)
{
    Stack stack;
    stack.xenstored().stop(SIGTERM);
    auto c = stack.client();
    EXPECT_TRUE(waitFor([&] { return !c->Connected(); }, 2s));
    EXPECT_EQ(errorOf([&] { c->Read("/x"); }), Prefix + "NotConnected");
    std::this_thread::sleep_for(2500ms);  // backoff reaches its cap
    stack.xenstored().start();
    auto took = timed([&] { waitFor([&] { return c->Connected(); }, 5s); });
    EXPECT_TRUE(c->Connected());
    EXPECT_LE(took, 2500ms);
    c->Write("/back", "1");
    EXPECT_EQ(stack.xenstored().read("/back"), "1");
}

TEST(Reconnect, XenBusDeviceHangUpIsADisconnection)
{
    // The daemon on the device code path (a pty relayed to oxenstored).
    Xenstored xsd;
    PtyRelay relay(xsd.socketPath());
    DbusDaemon bus;
    Process daemon({Stack::daemonPath(), "--bus", bus.address(), "--xenstore",
                    "xenbus:" + relay.devicePath()});
    Client c(bus.address());
    ASSERT_TRUE(waitFor([&] {
        try {
            return c.Connected();
        } catch (const sdbus::Error&) {
            return false;
        }
    }));
    EXPECT_EQ(c.Backend(), "xenbus:" + relay.devicePath());
    c.Write("/xenbus/key", "via the device");
    EXPECT_EQ(xsd.read("/xenbus/key"), "via the device");
    c.Watch("/xenbus", "t");
    EXPECT_EQ(c.waitForEvents(1).size(), 1u);
    auto tx = TransactionClient(c.connection(), c.StartTransaction());

    relay.close();
    EXPECT_TRUE(waitFor([&] { return !c.Connected(); }, 2s));
    EXPECT_EQ(errorOf([&] { c.Read("/xenbus/key"); }), Prefix + "NotConnected");
    EXPECT_EQ(c.TransactionCount(), 0u);
    EXPECT_EQ(errorOf([&] { tx.Read("/xenbus/key"); }), Prefix + "UnknownTransaction");
    EXPECT_TRUE(daemon.running());
}

TEST(Reconnect, AutoIsChosenAgainAtEveryAttempt)
{
    // `--xenstore auto` where what XENSTORED_PATH names is first a device
    // that hangs up (no xenstored yet), then xenstored's socket: the daemon
    // must not settle on its first choice.
    Xenstored xsd;
    TempDir dir("xsd-auto");
    const std::string where = dir / "xenstored";
    ASSERT_EQ(symlink("/dev/null", where.c_str()), 0);
    DbusDaemon bus;
    Process daemon = Process::logging({Stack::daemonPath(), "--bus", bus.address(), "--xenstore",
                                       "auto"},
                                      dir / "daemon.log", {{"XENSTORED_PATH", where}});
    ASSERT_TRUE(waitFor([&] {
        return readFile(dir / "daemon.log").find("xenbus:" + where) != std::string::npos;
    })) << readFile(dir / "daemon.log");

    const std::string next = dir / "next";
    ASSERT_EQ(symlink(xsd.socketPath().c_str(), next.c_str()), 0);
    ASSERT_EQ(rename(next.c_str(), where.c_str()), 0);
    Client c(bus.address());
    EXPECT_TRUE(waitFor([&] {
        try {
            return c.Connected() && c.Backend() == "unix:" + where;
        } catch (const sdbus::Error&) {
            return false;
        }
    })) << readFile(dir / "daemon.log");
    c.Write("/auto", "found");
    EXPECT_EQ(xsd.read("/auto"), "found");
}
