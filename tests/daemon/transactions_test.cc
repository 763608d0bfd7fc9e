// Transactions as D-Bus objects: commit, abort, conflict, ownership, and
// cleanup when the owner dies.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include "tests/harness/stack.h"

#ifndef XSD_TX_OWNER
#error "XSD_TX_OWNER must name the tx-owner helper"
#endif

using namespace xsd::test;

namespace {

TransactionClient begin(Client& owner)
{
    return TransactionClient(owner.connection(), owner.StartTransaction());
}

class Transactions : public ::testing::Test {
protected:
    Stack stack;
    std::unique_ptr<Client> c = stack.client();
};

const std::string Prefix = ErrorPrefix;

}  // namespace

TEST_F(Transactions, CommitMakesWritesVisible)
{
    auto path = c->StartTransaction();
    EXPECT_EQ(path.rfind("/org/xenproject/XenStore1/transaction/", 0), 0u) << path;
    TransactionClient t(c->connection(), path);
    t.Write("/tx/a", "1");
    t.Mkdir("/tx/b");
    EXPECT_EQ(t.Read("/tx/a"), "1");
    EXPECT_TRUE(t.Exists("/tx/b"));
    // Not visible outside before the commit.
    EXPECT_FALSE(c->Exists("/tx/a"));
    EXPECT_NE(stack.xenstored().tool("xenstore-read", {"/tx/a"}).status, 0);
    EXPECT_TRUE(t.Commit());
    EXPECT_EQ(c->Read("/tx/a"), "1");
    EXPECT_EQ(stack.xenstored().read("/tx/a"), "1");
    EXPECT_EQ(c->TransactionCount(), 0u);
    // The object is gone.
    EXPECT_EQ(errorOf([&] { t.Read("/tx/a"); }), "org.freedesktop.DBus.Error.UnknownObject");
}

TEST_F(Transactions, EveryDataMethodWorksInside)
{
    stack.xenstored().write("/in/x", "x");
    auto t = begin(*c);
    t.WriteBytes("/in/bytes", {0xff, 0x00});
    EXPECT_EQ(t.ReadBytes("/in/bytes"), (std::vector<uint8_t>{0xff, 0x00}));
    t.Remove("/in/x");
    EXPECT_FALSE(t.Exists("/in/x"));
    auto names = t.Directory("/in");
    EXPECT_EQ(names, (std::vector<std::string>{"bytes"}));
    t.SetPermissions("/in/bytes", {"n0", "r3"});
    EXPECT_EQ(t.GetPermissions("/in/bytes"), (std::vector<std::string>{"n0", "r3"}));
    EXPECT_EQ(errorOf([&] { t.Read("/in//bad"); }), Prefix + "InvalidArgument");
    EXPECT_TRUE(t.Commit());
    EXPECT_FALSE(c->Exists("/in/x"));
    EXPECT_EQ(c->GetPermissions("/in/bytes"), (std::vector<std::string>{"n0", "r3"}));
}

TEST_F(Transactions, AbortDiscardsWrites)
{
    auto t = begin(*c);
    t.Write("/ab/a", "1");
    t.Abort();
    EXPECT_FALSE(c->Exists("/ab/a"));
    EXPECT_EQ(c->TransactionCount(), 0u);
    EXPECT_EQ(errorOf([&] { t.Commit(); }), "org.freedesktop.DBus.Error.UnknownObject");
}

TEST_F(Transactions, ConflictWithAnOutsideWriteIsFalseAndTheOutsideValueStays)
{
    stack.xenstored().write("/conflict/key", "before");
    auto t = begin(*c);
    // The transaction reads the key (oxenstored merges blind writes), an
    // outside writer changes it, then the transaction writes it.
    EXPECT_EQ(t.Read("/conflict/key"), "before");
    stack.xenstored().write("/conflict/key", "outside");
    t.Write("/conflict/key", "inside");
    EXPECT_FALSE(t.Commit());
    EXPECT_EQ(stack.xenstored().read("/conflict/key"), "outside");
    EXPECT_EQ(c->TransactionCount(), 0u);
}

TEST_F(Transactions, OnlyTheOwnerMayUseIt)
{
    auto path = c->StartTransaction();
    auto other = stack.client();
    TransactionClient stolen(other->connection(), path);
    EXPECT_EQ(errorOf([&] { stolen.Read("/x"); }), Prefix + "AccessDenied");
    EXPECT_EQ(errorOf([&] { stolen.Write("/x", "1"); }), Prefix + "AccessDenied");
    EXPECT_EQ(errorOf([&] { stolen.Commit(); }), Prefix + "AccessDenied");
    EXPECT_EQ(errorOf([&] { stolen.Abort(); }), Prefix + "AccessDenied");
    // Still the owner's.
    TransactionClient mine(c->connection(), path);
    mine.Write("/owned", "yes");
    EXPECT_TRUE(mine.Commit());
    EXPECT_EQ(c->Read("/owned"), "yes");
}

TEST_F(Transactions, TheOwnerKilledMidTransactionLeavesNothingBehind)
{
    TempDir dir("xsd-txowner");
    auto owner = Process::writing({XSD_TX_OWNER, stack.address(), "/killed/key", "written"}, dir / "out");
    ASSERT_TRUE(waitFor([&] { return readFile(dir / "out").find('\n') != std::string::npos; }));
    EXPECT_EQ(c->TransactionCount(), 1u);
    owner.stop(SIGKILL);
    EXPECT_TRUE(waitFor([&] { return c->TransactionCount() == 0u; }));
    EXPECT_FALSE(c->Exists("/killed/key"));
    EXPECT_NE(stack.xenstored().tool("xenstore-read", {"/killed/key"}).status, 0);
    // The XenStore transaction was ended upstream, not left open.
    EXPECT_TRUE(waitFor([&] { return stack.xenstored().countAccessLog({"t end"}) >= 1; }))
        << stack.xenstored().accessLog();
}

TEST(TransactionTimeout, IdleTimeoutEndsItAndTheNextCallSaysWhy)
{
    Stack::Options o;
    o.config = R"({"access": [{"uid": 0, "paths": ["/", "@"],
                              "allow": ["read", "write", "watch", "admin"]}],
                   "limits": {"transaction_idle_timeout_s": 1}})";
    Stack idle(o);
    auto owner = idle.client();
    auto t = begin(*owner);
    t.Write("/idle/x", "1");
    EXPECT_TRUE(waitFor([&] { return owner->TransactionCount() == 0u; }, std::chrono::seconds(5)));
    try {
        t.Read("/idle/x");
        FAIL() << "a timed-out transaction still answered";
    } catch (const sdbus::Error& e) {
        EXPECT_EQ(e.getName(), Prefix + "UnknownTransaction");
        EXPECT_NE(e.getMessage().find("idle"), std::string::npos) << e.getMessage();
    }
    // And then it is gone.
    EXPECT_EQ(errorOf([&] { t.Read("/idle/x"); }), "org.freedesktop.DBus.Error.UnknownObject");
    EXPECT_FALSE(owner->Exists("/idle/x"));
}
