// Many requests in flight on one connection to a real oxenstored, over both
// transports: the client never waits for one reply before sending the next.
#include "connected_client.h"

using namespace xs;
using namespace xs::test;

namespace {

class Pipelining : public ConnectedClient {};

}  // namespace

INSTANTIATE_TEST_SUITE_P(, Pipelining, bothTransports(), viaName);

TEST_P(Pipelining, HundredRequestsInFlightAtOnce)
{
    constexpr int N = 100;
    int written = 0;
    for (int i = 0; i < N; ++i)
        client->write("/pipe/k" + std::to_string(i), "value-" + std::to_string(i * 7),
                      NoTransaction, [&](auto r) {
                          EXPECT_TRUE(r) << r.error().message;
                          ++written;
                      });
    ASSERT_TRUE(loop.runUntil([&] { return written == N; }));

    std::vector<std::optional<Result<std::string>>> replies(N);
    for (int i = 0; i < N; ++i)
        client->read("/pipe/k" + std::to_string(i), NoTransaction,
                     [&replies, i](Result<std::string> r) { replies[i].emplace(std::move(r)); });
    // All in flight at once: one turn of the loop sends them (in one write,
    // as they were queued together); none has been answered (no reply has
    // been read), yet oxenstored gets every one of them without the client
    // doing anything more.
    EXPECT_EQ(client->pending(), static_cast<size_t>(N));
    loop.runOnce();
    EXPECT_TRUE(xsd::test::waitFor([&] { return xsd.countAccessLog({"read", "/pipe/k"}) == N; }))
        << xsd.countAccessLog({"read", "/pipe/k"}) << " of " << N << " reached oxenstored";
    EXPECT_EQ(client->pending(), static_cast<size_t>(N));
    for (auto& r : replies)
        ASSERT_FALSE(r.has_value());

    ASSERT_TRUE(loop.runUntil([&] { return client->pending() == 0; }));
    for (int i = 0; i < N; ++i) {
        ASSERT_TRUE(replies[i].has_value()) << i;
        ASSERT_TRUE(replies[i]->ok()) << replies[i]->error().message;
        EXPECT_EQ(replies[i]->value(), "value-" + std::to_string(i * 7));
    }
    for (int i = 0; i < N; ++i)
        EXPECT_EQ(xsd.countAccessLog({"read", "/pipe/k" + std::to_string(i) + " "}), 1) << i;
}

TEST_P(Pipelining, MixedOperationsInterleavedWithEvents)
{
    // Reads, writes, a watch and its events all in flight together: every
    // reply still reaches its own request.
    ASSERT_TRUE(write("/mix/seed", "s"));
    int done = 0;
    std::vector<std::string> values(50);
    client->watch("/mix", "m", [&](auto r) { EXPECT_TRUE(r); ++done; });
    for (int i = 0; i < 50; ++i) {
        client->write("/mix/w" + std::to_string(i), std::to_string(i), NoTransaction,
                      [&](auto r) { EXPECT_TRUE(r); ++done; });
        client->read("/mix/seed", NoTransaction, [&, i](Result<std::string> r) {
            ASSERT_TRUE(r);
            values[i] = r.value();
            ++done;
        });
    }
    EXPECT_EQ(client->pending(), 101u);
    ASSERT_TRUE(loop.runUntil([&] { return done == 101 && eventsFor("m") == 51; }))
        << done << " done, " << eventsFor("m") << " events";
    for (auto& v : values)
        EXPECT_EQ(v, "s");
}
