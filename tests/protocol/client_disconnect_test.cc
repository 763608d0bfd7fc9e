// The connection ending under the client: oxenstored killed with requests in
// flight (both transports), and the XenBus device itself going away.
#include <signal.h>

#include "connected_client.h"

using namespace xs;
using namespace xs::test;
using namespace std::chrono_literals;

namespace {

class Disconnect : public ConnectedClient {
protected:
    // Starts `n` reads that record how they end.
    void readMany(int n)
    {
        for (int i = 0; i < n; ++i)
            client->read("/k" + std::to_string(i), NoTransaction,
                         [this](Result<std::string> r) { results.push_back(std::move(r)); });
    }
    void expectAllFailedWithTheConnection(size_t n)
    {
        ASSERT_EQ(results.size(), n);
        for (auto& r : results) {
            ASSERT_FALSE(r.ok()) << "answered although xenstored was gone";
            EXPECT_EQ(r.error().kind, Error::Kind::Connection) << r.error().message;
        }
        EXPECT_EQ(disconnects.size(), 1u);
        EXPECT_FALSE(client->connected());
        EXPECT_EQ(client->pending(), 0u);
    }

    std::vector<Result<std::string>> results;
};

class DeviceHangUp : public Disconnect {};

}  // namespace

INSTANTIATE_TEST_SUITE_P(, Disconnect, bothTransports(), viaName);
INSTANTIATE_TEST_SUITE_P(, DeviceHangUp, ::testing::Values(Via::XenBus), viaName);

TEST_P(Disconnect, OxenstoredKilledWithRequestsInFlight)
{
    ASSERT_TRUE(write("/k0", "v"));
    // Frozen first, so that none of the requests can be answered: they are
    // all in flight when it dies.
    xsd::test::Frozen frozen(xsd.pid());
    readMany(50);
    EXPECT_EQ(client->pending(), 50u);
    loop.runFor(50ms);
    EXPECT_TRUE(results.empty());

    auto killed = std::chrono::steady_clock::now();
    xsd.stop(SIGKILL);
    ASSERT_TRUE(loop.runUntil([&] { return results.size() == 50 && !disconnects.empty(); }, 1s))
        << results.size() << " of 50 completed within a second of the kill";
    auto took = std::chrono::steady_clock::now() - killed;
    EXPECT_LT(took, 1s);
    expectAllFailedWithTheConnection(50);

    // A request after the end fails at once rather than waiting.
    bool failedAtOnce = false;
    client->read("/k0", NoTransaction, [&](auto r) {
        failedAtOnce = !r && r.error().kind == Error::Kind::Connection;
    });
    EXPECT_TRUE(failedAtOnce);

    // A fresh oxenstored on the same path takes a new connection.
    xsd.start();
    auto fresh = connect();
    std::optional<Result<Unit>> w;
    fresh->write("/again", "yes", NoTransaction, [&](auto r) { w.emplace(r); });
    ASSERT_TRUE(loop.runUntil([&] { return w.has_value(); }));
    EXPECT_TRUE(w->ok()) << w->error().message;
    EXPECT_EQ(xsd.read("/again"), "yes");
}

TEST_P(DeviceHangUp, RelayClosedFailsPendingRequests)
{
    ASSERT_TRUE(write("/k0", "v"));
    xsd::test::Frozen frozen(xsd.pid());
    readMany(10);
    loop.runOnce();  // the requests go out, to a frozen oxenstored
    relays.front()->close();
    EXPECT_FALSE(relays.front()->running());
    ASSERT_TRUE(loop.runUntil([&] { return results.size() == 10 && !disconnects.empty(); }, 1s));
    expectAllFailedWithTheConnection(10);
    EXPECT_EQ(disconnects.front(), "xenstored closed the connection");
}

TEST_P(DeviceHangUp, WriteAfterHangUpFails)
{
    // The device is gone before the client notices: its next write gets EIO
    // from the hung-up terminal, which must fail the request, not hang it.
    relays.front()->close();
    readMany(1);
    ASSERT_TRUE(loop.runUntil([&] { return results.size() == 1 && !disconnects.empty(); }, 1s));
    expectAllFailedWithTheConnection(1);
}

TEST_P(DeviceHangUp, OxenstoredGoneClosesTheDevice)
{
    // The relay follows its socket: oxenstored exiting hangs up the device,
    // so over this transport too the client learns that its connection ended.
    xsd.stop(SIGTERM);
    ASSERT_TRUE(xsd::test::waitFor([&] { return !relays.front()->running(); }, 2s));
    ASSERT_TRUE(loop.runUntil([&] { return !disconnects.empty(); }, 1s));
    EXPECT_FALSE(client->connected());
}
