// Transactions against a real oxenstored, over both transports. oxenstored
// merges a transaction whose writes do not depend on what it read (its
// merge-activate default), so a conflict needs the transaction to have read
// what the outside write changed; that is how the conflict case is built.
#include <set>

#include "connected_client.h"

using namespace xs;
using namespace xs::test;

namespace {

class Transactions : public ConnectedClient {
protected:
    TxId start()
    {
        auto tx = await<TxId>([&](auto d) { client->transactionStart(d); });
        EXPECT_TRUE(tx) << tx.error().message;
        return tx ? tx.value() : NoTransaction;
    }
    Result<bool> end(TxId tx, bool commit)
    {
        return await<bool>([&](auto d) { client->transactionEnd(tx, commit, d); });
    }
    bool existsOutside(const std::string& path) const
    {
        return xsd.tool("xenstore-read", {path}).status == 0;
    }
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(, Transactions, bothTransports(), viaName);

TEST_P(Transactions, CommitPublishesWrites)
{
    TxId tx = start();
    ASSERT_NE(tx, NoTransaction);
    ASSERT_TRUE(write("/tx/a", "1", tx));
    ASSERT_TRUE(write("/tx/b", "2", tx));
    EXPECT_EQ(read("/tx/a", tx).value(), "1") << "a transaction sees its own writes";
    EXPECT_EQ(directory("/tx", tx).value().size(), 2u);
    EXPECT_FALSE(existsOutside("/tx/a")) << "visible before commit";
    EXPECT_FALSE(read("/tx/a"));
    auto c = end(tx, true);
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_TRUE(c.value());
    EXPECT_EQ(xsd.countAccessLog({"commit"}), 1) << xsd.accessLog();
    EXPECT_EQ(xsd.read("/tx/a"), "1");
    EXPECT_EQ(xsd.read("/tx/b"), "2");
}

TEST_P(Transactions, AbortDiscardsWrites)
{
    TxId tx = start();
    ASSERT_TRUE(write("/ab/x", "1", tx));
    auto a = end(tx, false);
    ASSERT_TRUE(a) << a.error().message;
    EXPECT_FALSE(existsOutside("/ab/x"));
    // The id is gone: oxenstored answers EIO to anything using it.
    auto stale = read("/ab/x", tx);
    ASSERT_FALSE(stale);
    EXPECT_EQ(stale.error().errnoName, "EIO");
}

TEST_P(Transactions, ReadThenOutsideWriteConflicts)
{
    ASSERT_TRUE(write("/tx/k", "initial"));
    TxId tx = start();
    auto seen = read("/tx/k", tx);
    ASSERT_TRUE(seen);
    EXPECT_EQ(seen.value(), "initial");
    xsd.write("/tx/k", "outside");
    ASSERT_TRUE(write("/tx/k", "inside", tx));
    auto c = end(tx, true);
    ASSERT_TRUE(c) << "a conflict is not a failure: " << c.error().message;
    EXPECT_FALSE(c.value());
    EXPECT_EQ(xsd.read("/tx/k"), "outside");
    EXPECT_EQ(read("/tx/k").value(), "outside");
    EXPECT_EQ(xsd.countAccessLog({"conflict"}), 1) << xsd.accessLog();
}

TEST_P(Transactions, TwentyOpenAtOnceOnOneConnection)
{
    // oxenstored does not apply its transaction quota to dom0 connections;
    // limiting callers is the daemon's own job.
    std::set<TxId> ids;
    for (int i = 0; i < 20; ++i) {
        TxId tx = start();
        ASSERT_NE(tx, NoTransaction) << "transaction " << i;
        ids.insert(tx);
        ASSERT_TRUE(write("/many/k" + std::to_string(i), "v", tx));
    }
    EXPECT_EQ(ids.size(), 20u);
    for (TxId tx : ids) {
        auto c = end(tx, true);
        ASSERT_TRUE(c) << c.error().message;
        EXPECT_TRUE(c.value());
    }
    EXPECT_EQ(directory("/many").value().size(), 20u);
}
