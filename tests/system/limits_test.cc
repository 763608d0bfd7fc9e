// Per-caller limits from the configuration: a caller past its limit of
// watches, transactions or calls in flight gets Error.LimitExceeded, and
// only that caller — a second caller still succeeds. Calls are also sent
// pipelined (many at once on one connection), where a limit checked only
// against what is already finished would let them through.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "tests/harness/replies.h"
#include "tests/system/system_stack.h"

using namespace xsd::test;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

namespace {

const std::string LimitExceeded = std::string(ErrorPrefix) + "LimitExceeded";

// watches_per_caller 2 and transactions_per_caller 1; pending_calls_per_caller
// stays at its default (64) unless a test is about it, so that it does not
// stand in for the limit under test when calls are pipelined.
std::string limitsConfig(unsigned pendingCalls = 64, unsigned idleTimeoutS = 60)
{
    return R"({
  "access": [{"uid": 0, "paths": ["/", "@"], "allow": ["read", "write", "watch", "admin"]}],
  "limits": {
    "watches_per_caller": 2,
    "transactions_per_caller": 1,
    "pending_calls_per_caller": )" +
           std::to_string(pendingCalls) + R"(,
    "transaction_idle_timeout_s": )" +
           std::to_string(idleTimeoutS) + R"(
  }
})";
}

// Each test starts the stack with the configuration it is about.
class Limits : public ::testing::Test {
protected:
    void start(const std::string& config)
    {
        Stack::Options o;
        o.config = config;
        stack.reset();
        stack = std::make_unique<Stack>(o);
    }
    std::unique_ptr<Stack> stack;

    // A caller of its own whose calls can be sent without waiting.
    struct RawCaller {
        std::unique_ptr<sdbus::IConnection> conn;
        std::unique_ptr<sdbus::IProxy> proxy;
    };
    RawCaller rawCaller()
    {
        RawCaller c;
        c.conn = stack->connection();
        c.proxy = sdbus::createProxy(*c.conn, BusName, ObjectPath);
        c.proxy->finishRegistration();
        return c;
    }
};

}  // namespace

TEST_F(Limits, WatchLimitIsPerCaller)
{
    start(limitsConfig());
    auto a = stack->client();
    auto b = stack->client();
    a->Watch("/w/1", "t");
    a->Watch("/w/2", "t");
    try {
        a->Watch("/w/3", "t");
        FAIL() << "a third watch was allowed";
    } catch (const sdbus::Error& e) {
        EXPECT_EQ(e.getName(), LimitExceeded);
        EXPECT_THAT(e.getMessage(), HasSubstr("watches_per_caller"));
    }
    // A subscription is what counts: the same path with another token too.
    EXPECT_EQ(errorOf([&] { a->Watch("/w/1", "u"); }), LimitExceeded);
    // busctl, another caller, for what a script sees.
    auto bc = stack->busctlCall("Watch", {"ss", "/w/4", "t"});
    EXPECT_EQ(bc.status, 0) << bc.err;

    // The second caller is not affected.
    b->Watch("/w/3", "t");
    b->Watch("/w/1", "t");
    EXPECT_EQ(errorOf([&] { b->Watch("/w/5", "t"); }), LimitExceeded);
    EXPECT_EQ(b->waitForEvents(2).size(), 2u);
    stack->xenstored().write("/w/3/x", "1");
    auto ev = b->waitForEvents(3);
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(ev[2], (WatchEvent{"/w/3/x", "t"}));
    // a's refused watch delivers nothing.
    EXPECT_EQ(a->waitForEvents(3, 300ms).size(), 2u);

    // Below the limit again, a may watch.
    a->Unwatch("/w/1", "t");
    a->Watch("/w/3", "t");
    EXPECT_EQ(a->SubscriptionCount(), 4u);  // a: 2, b: 2 (busctl's went with it)
}

TEST_F(Limits, WatchLimitHoldsForPipelinedCalls)
{
    start(limitsConfig());
    auto a = rawCaller();
    Replies replies;
    // All of them are on the daemon's socket before it reads the first.
    Frozen daemon(stack->daemon().pid());
    for (int i = 0; i < 6; ++i) {
        std::string path = "/pipelined/" + std::to_string(i);
        a.proxy->callMethodAsync("Watch")
            .onInterface(Interface)
            .withArguments(path, std::string("t"))
            .uponReplyInvoke([&replies, path](const sdbus::Error* e) { replies.add(path, e); });
    }
    daemon.thaw();
    ASSERT_TRUE(replies.waitFor(6));
    EXPECT_EQ(replies.count(""), 2u);
    EXPECT_EQ(replies.countMentioning(LimitExceeded, "watches_per_caller"), 4u);
    auto probe = stack->client();
    EXPECT_EQ(probe->SubscriptionCount(), 2u);
    // The second caller still succeeds.
    probe->Watch("/pipelined/0", "t");
    EXPECT_EQ(probe->waitForEvents(1).size(), 1u);
}

TEST_F(Limits, TransactionLimitIsPerCaller)
{
    start(limitsConfig());
    auto a = stack->client();
    auto b = stack->client();
    auto first = a->StartTransaction();
    try {
        a->StartTransaction();
        FAIL() << "a second transaction was allowed";
    } catch (const sdbus::Error& e) {
        EXPECT_EQ(e.getName(), LimitExceeded);
        EXPECT_THAT(e.getMessage(), HasSubstr("transactions_per_caller"));
    }
    // The second caller is not affected.
    TransactionClient tb(b->connection(), b->StartTransaction());
    tb.Write("/tl/b", "1");
    EXPECT_TRUE(tb.Commit());
    EXPECT_EQ(stack->xenstored().read("/tl/b"), "1");
    // a's first transaction still works; once it is over, a may start another.
    TransactionClient ta(a->connection(), first);
    ta.Write("/tl/a", "1");
    EXPECT_TRUE(ta.Commit());
    TransactionClient again(a->connection(), a->StartTransaction());
    again.Abort();
}

TEST_F(Limits, TransactionLimitHoldsForPipelinedCalls)
{
    start(limitsConfig());
    auto a = rawCaller();
    Replies replies;
    Frozen daemon(stack->daemon().pid());
    for (int i = 0; i < 3; ++i)
        a.proxy->callMethodAsync("StartTransaction")
            .onInterface(Interface)
            .uponReplyInvoke([&replies, i](const sdbus::Error* e, sdbus::ObjectPath) {
                replies.add(std::to_string(i), e);
            });
    daemon.thaw();
    ASSERT_TRUE(replies.waitFor(3));
    EXPECT_EQ(replies.count(""), 1u);
    EXPECT_EQ(replies.countMentioning(LimitExceeded, "transactions_per_caller"), 2u);
    auto b = stack->client();
    EXPECT_EQ(b->TransactionCount(), 1u);
    TransactionClient tb(b->connection(), b->StartTransaction());
    tb.Abort();
}

TEST_F(Limits, PendingCallsLimitIsPerCaller)
{
    start(limitsConfig(2));
    auto a = rawCaller();
    auto b = rawCaller();
    stack->xenstored().write("/pending", "v");
    // Each caller is known to the daemon first, so what follows is the
    // limit and not the first identification.
    for (auto* c : {&a, &b}) {
        std::string v;
        c->proxy->callMethod("Read").onInterface(Interface).withArguments(std::string("/pending")).storeResultsTo(v);
        ASSERT_EQ(v, "v");
    }
    // xenstored stops answering: calls stay in flight.
    Frozen xenstored(stack->xenstored().pid());
    Replies ra, rb;
    auto read = [](RawCaller& c, Replies& r, const std::string& tag) {
        c.proxy->callMethodAsync("Read")
            .onInterface(Interface)
            .withArguments(std::string("/pending"))
            .uponReplyInvoke([&r, tag](const sdbus::Error* e, std::string) { r.add(tag, e); });
    };
    read(a, ra, "a1");
    read(a, ra, "a2");
    read(a, ra, "a3");
    // The third is refused at once: two are in flight.
    ASSERT_TRUE(ra.waitFor(1, 3s));
    auto third = ra.of("a3");
    ASSERT_TRUE(third);
    EXPECT_EQ(third->error, LimitExceeded);
    EXPECT_THAT(third->message, HasSubstr("pending_calls_per_caller"));
    // Another caller is not refused: its call waits for xenstored like any.
    read(b, rb, "b1");
    read(b, rb, "b2");
    EXPECT_FALSE(rb.waitFor(1, 300ms));
    EXPECT_EQ(ra.all().size(), 1u);

    xenstored.thaw();
    ASSERT_TRUE(ra.waitFor(3));
    ASSERT_TRUE(rb.waitFor(2));
    EXPECT_EQ(ra.of("a1")->error, "");
    EXPECT_EQ(ra.of("a2")->error, "");
    EXPECT_EQ(rb.of("b1")->error, "");
    EXPECT_EQ(rb.of("b2")->error, "");
    // And a is back below its limit.
    std::string v;
    a.proxy->callMethod("Read").onInterface(Interface).withArguments(std::string("/pending")).storeResultsTo(v);
    EXPECT_EQ(v, "v");
}

TEST_F(Limits, PendingCallsLimitCountsOnlyEarlierCalls)
{
    // A caller's very first calls, sent at once, arrive before the daemon
    // knows who it is: they are still judged in the order they came, each
    // against the calls before it — the first ones go ahead, the excess is
    // refused.
    start(limitsConfig(2));
    stack->xenstored().write("/pending", "v");
    auto a = rawCaller();
    Frozen xenstored(stack->xenstored().pid());
    // All five wait on the daemon's socket before it reads the first, so
    // they are all there before it has asked the bus who sent them.
    Frozen daemon(stack->daemon().pid());
    Replies ra;
    for (int i = 1; i <= 5; ++i)
        a.proxy->callMethodAsync("Read")
            .onInterface(Interface)
            .withArguments(std::string("/pending"))
            .uponReplyInvoke([&ra, i](const sdbus::Error* e, std::string) {
                ra.add("a" + std::to_string(i), e);
            });
    daemon.thaw();
    ASSERT_TRUE(ra.waitFor(3, 3s));
    EXPECT_FALSE(ra.waitFor(4, 300ms));
    EXPECT_FALSE(ra.of("a1")) << "the first call was refused: " << ra.of("a1")->message;
    EXPECT_FALSE(ra.of("a2")) << "the second call was refused: " << ra.of("a2")->message;
    for (auto tag : {"a3", "a4", "a5"}) {
        auto r = ra.of(tag);
        ASSERT_TRUE(r) << tag;
        EXPECT_EQ(r->error, LimitExceeded) << tag;
    }
    xenstored.thaw();
    ASSERT_TRUE(ra.waitFor(5));
    EXPECT_EQ(ra.of("a1")->error, "");
    EXPECT_EQ(ra.of("a2")->error, "");
}

TEST_F(Limits, IdleTransactionEndsAfterTheConfiguredTimeout)
{
    start(limitsConfig(64, 1));
    auto a = stack->client();
    auto b = stack->client();
    TransactionClient idle(a->connection(), a->StartTransaction());
    idle.Write("/idle/a", "lost");
    // b keeps its own transaction busy meanwhile: only idleness counts.
    TransactionClient busy(b->connection(), b->StartTransaction());
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(waitFor([&] {
        busy.Write("/idle/b", "kept");
        std::this_thread::sleep_for(20ms);
        return a->TransactionCount() == 1;
    }, 4s));
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(took, 900ms);
    EXPECT_LT(took, 2500ms);
    EXPECT_TRUE(waitFor([&] { return stack->xenstored().countAccessLog({"t end"}) == 1; }, 2s))
        << stack->xenstored().accessLog();
    try {
        idle.Read("/idle/a");
        FAIL() << "an idle transaction outlived its timeout";
    } catch (const sdbus::Error& e) {
        EXPECT_EQ(e.getName(), std::string(ErrorPrefix) + "UnknownTransaction");
        EXPECT_THAT(e.getMessage(), HasSubstr("transaction_idle_timeout_s"));
    }
    // Its slot is free again (transactions_per_caller is 1).
    TransactionClient again(a->connection(), a->StartTransaction());
    again.Abort();
    EXPECT_TRUE(busy.Commit());
    EXPECT_EQ(stack->xenstored().read("/idle/b"), "kept");
    EXPECT_NE(stack->xenstored().tool("xenstore-read", {"/idle/a"}).status, 0);
}
