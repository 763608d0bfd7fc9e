// The atomic calls one by one, against the real stack: ReadMany, WriteMany,
// RemoveMany (and their Bytes twins), CompareAndWrite and WriteIfAbsent —
// what each answers, that each ran in one XenStore transaction (oxenstored's
// access log), that a call with one bad or forbidden path sends nothing,
// the bounds of a call and of all calls together, and the same methods
// inside a transaction object.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>

#include "tests/ctl/access_log.h"
#include "tests/harness/call_failure.h"
#include "tests/harness/replies.h"
#include "tests/harness/stack.h"

using namespace xsd::test;
using ::testing::HasSubstr;

namespace {

using Texts = std::map<std::string, std::string>;
using Bytes = std::map<std::string, std::vector<uint8_t>>;

const std::string Prefix = ErrorPrefix;

class AtomicCalls : public ::testing::Test {
protected:
    Stack stack;
    std::unique_ptr<Client> c = stack.client();

    int transactionsStarted() { return stack.xenstored().countAccessLog({" t start"}); }
    // The transaction ids ("A3.7") of the access log's entries `op` on `path`.
    std::set<std::string> transactionsOf(const std::string& op, const std::string& path)
    {
        std::set<std::string> ids;
        for (const auto& e : parseAccessLog(stack.xenstored().accessLog()))
            if (e.rest.rfind(op, 0) == 0 && e.rest.find(" " + path) != std::string::npos)
                ids.insert(e.id);
        return ids;
    }
};

}  // namespace

TEST_F(AtomicCalls, ReadManyAnswersThePathsThatExistFromOneTransaction)
{
    stack.xenstored().write("/rm/a", "1");
    stack.xenstored().write("/rm/b", "");
    stack.xenstored().write("/rm/c/d", "deep");
    auto values = c->ReadMany({"/rm/a", "/rm/b", "/rm/missing", "/rm/c/d", "/rm/a"});
    EXPECT_EQ(values, (Texts{{"/rm/a", "1"}, {"/rm/b", ""}, {"/rm/c/d", "deep"}}));
    // All four reads in one transaction, which was committed (C xenstored
    // says only at the commit whether the reads held together).
    auto ids = transactionsOf("read", "/rm/a");
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_EQ(transactionsOf("read", "/rm/missing"), ids);
    EXPECT_EQ(transactionsOf("read", "/rm/c/d"), ids);
    EXPECT_NE(ids.begin()->find('.'), std::string::npos) << "read outside a transaction";
    EXPECT_TRUE(c->ReadMany({}).empty());
    EXPECT_TRUE(c->ReadMany({"/rm/none"}).empty());
}

TEST_F(AtomicCalls, ReadManyRefusesBinaryValuesNamingThePathAndReadManyBytesGivesThem)
{
    c->WriteBytes("/bin/raw", {0xff, 0x00, 0x41});
    c->Write("/bin/text", "t");
    auto e = failure([&] { c->ReadMany({"/bin/text", "/bin/raw"}); });
    EXPECT_EQ(e.getName(), Prefix + "NotText");
    EXPECT_THAT(e.getMessage(), HasSubstr("/bin/raw: the value (3 bytes) is not text"));
    EXPECT_THAT(e.getMessage(), HasSubstr("use ReadManyBytes"));
    EXPECT_EQ(c->ReadManyBytes({"/bin/raw", "/bin/text", "/bin/gone"}),
              (Bytes{{"/bin/raw", {0xff, 0x00, 0x41}}, {"/bin/text", {'t'}}}));
}

TEST_F(AtomicCalls, WriteManyWritesEveryPathInOneCommittedTransaction)
{
    c->WriteMany({{"/wm/a", "1"}, {"/wm/b/c", "2"}, {"/wm/empty", ""}});
    EXPECT_EQ(stack.xenstored().read("/wm/a"), "1");
    EXPECT_EQ(stack.xenstored().read("/wm/b/c"), "2");
    EXPECT_EQ(stack.xenstored().read("/wm/empty"), "");
    auto ids = transactionsOf("write", "/wm/a");
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_EQ(transactionsOf("write", "/wm/b/c"), ids);
    auto log = parseAccessLog(stack.xenstored().accessLog());
    EXPECT_GE(findEntry(log, "commit", "", *ids.begin()), 0) << stack.xenstored().accessLog();

    c->WriteManyBytes({{"/wm/bytes", {0x00, 0xfe}}, {"/wm/a", {'9'}}});
    EXPECT_EQ(c->ReadBytes("/wm/bytes"), (std::vector<uint8_t>{0x00, 0xfe}));
    EXPECT_EQ(c->Read("/wm/a"), "9");
    int before = transactionsStarted();
    c->WriteMany({});
    EXPECT_EQ(transactionsStarted(), before);
}

// An atomic call takes effect before the caller's next call does, as a
// Write does: a Read sent right after a WriteMany, without waiting for its
// answer, used to reach xenstored between the WriteMany's transaction start
// and its commit, and saw the value from before it.
TEST_F(AtomicCalls, ACallSentRightAfterOneSeesItsEffect)
{
    stack.xenstored().write("/order/k", "before");
    Replies replies;  // outlives the connection whose callbacks fill it
    auto conn = stack.connection();
    auto proxy = sdbus::createProxy(*conn, BusName, ObjectPath);
    proxy->finishRegistration();
    constexpr int Rounds = 20;
    for (int i = 0; i < Rounds; ++i) {
        const std::string n = std::to_string(i);
        proxy->callMethodAsync("WriteMany")
            .onInterface(Interface)
            .withArguments(Texts{{"/order/k", "v" + n}, {"/order/other", "v" + n}})
            .uponReplyInvoke([&replies, n](const sdbus::Error* e) { replies.add("write " + n, e); });
        proxy->callMethodAsync("Read")
            .onInterface(Interface)
            .withArguments(std::string("/order/k"))
            .uponReplyInvoke([&replies, n](const sdbus::Error* e, std::string value) {
                replies.add("read " + n, e, std::move(value));
            });
    }
    ASSERT_TRUE(replies.waitFor(2 * Rounds));
    for (int i = 0; i < Rounds; ++i) {
        const std::string n = std::to_string(i);
        auto written = replies.of("write " + n), read = replies.of("read " + n);
        EXPECT_EQ(written->error, "") << n << ": " << written->message;
        EXPECT_EQ(read->error, "") << n << ": " << read->message;
        EXPECT_EQ(read->value, "v" + n) << n;
    }
}

TEST_F(AtomicCalls, RemoveManyRemovesEveryPathAndMissingOnesAreNoError)
{
    c->WriteMany({{"/del/a/x", "1"}, {"/del/b", "2"}, {"/del/keep", "3"}});
    c->RemoveMany({"/del/a", "/del/a/x", "/del/b", "/del/never"});
    EXPECT_FALSE(c->Exists("/del/a"));
    EXPECT_FALSE(c->Exists("/del/b"));
    EXPECT_EQ(c->Read("/del/keep"), "3");
    auto ids = transactionsOf("rm", "/del/a");
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_EQ(transactionsOf("rm", "/del/b"), ids);
}

TEST_F(AtomicCalls, CompareAndWriteWritesOnlyOverTheExpectedValue)
{
    c->Write("/cas/n", "5");
    EXPECT_EQ(c->CompareAndWrite("/cas/n", "5", "6"), std::make_tuple(true, std::string("6")));
    EXPECT_EQ(stack.xenstored().read("/cas/n"), "6");
    // Stale expectation: nothing written, the value there now answered.
    EXPECT_EQ(c->CompareAndWrite("/cas/n", "5", "7"), std::make_tuple(false, std::string("6")));
    EXPECT_EQ(stack.xenstored().read("/cas/n"), "6");
    // The empty value is a value like any other.
    c->Write("/cas/empty", "");
    EXPECT_EQ(c->CompareAndWrite("/cas/empty", "", "taken"), std::make_tuple(true, std::string("taken")));

    auto missing = failure([&] { c->CompareAndWrite("/cas/none", "", "1"); });
    EXPECT_EQ(missing.getName(), Prefix + "NoEntry");
    EXPECT_THAT(missing.getMessage(), HasSubstr("WriteIfAbsent"));
    EXPECT_FALSE(c->Exists("/cas/none"));
    c->WriteBytes("/cas/bin", {0xff});
    EXPECT_EQ(failure([&] { c->CompareAndWrite("/cas/bin", "x", "1"); }).getName(), Prefix + "NotText");

    // The read and the write in one transaction (the first Write made none).
    auto reads = transactionsOf("read", "/cas/n");
    auto writes = transactionsOf("write", "/cas/n");
    ASSERT_EQ(writes.size(), 2u);
    const std::string tx = *std::find_if(writes.begin(), writes.end(), [](const std::string& id) {
        return id.find('.') != std::string::npos;
    });
    EXPECT_TRUE(reads.count(tx)) << tx;
}

TEST_F(AtomicCalls, WriteIfAbsentWritesOnlyWhereNoNodeIs)
{
    EXPECT_EQ(c->WriteIfAbsent("/lead/er", "me"), std::make_tuple(true, std::string("me")));
    EXPECT_EQ(c->WriteIfAbsent("/lead/er", "you"), std::make_tuple(false, std::string("me")));
    EXPECT_EQ(stack.xenstored().read("/lead/er"), "me");
    // A node with an empty value is there.
    c->Mkdir("/lead/dir");
    EXPECT_EQ(c->WriteIfAbsent("/lead/dir", "x"), std::make_tuple(false, std::string("")));
    EXPECT_EQ(c->Read("/lead/dir"), "");
}

TEST_F(AtomicCalls, ABadPathOrAnOversizedCallSendsNothing)
{
    c->Write("/bad/keep", "old");
    const int before = transactionsStarted();
    auto e = failure([&] { c->WriteMany({{"/bad/keep", "new"}, {"/bad//path", "x"}}); });
    EXPECT_EQ(e.getName(), Prefix + "InvalidArgument");
    EXPECT_THAT(e.getMessage(), HasSubstr("/bad//path: path contains '//'"));
    EXPECT_EQ(failure([&] { c->RemoveMany({"/bad/keep", "@releaseDomain"}); }).getName(),
              Prefix + "InvalidArgument");
    EXPECT_EQ(failure([&] { c->ReadMany({"/bad/keep", "/trailing/"}); }).getName(),
              Prefix + "InvalidArgument");
    // One write whose path and value together pass XenStore's 4096 bytes.
    EXPECT_EQ(failure([&] { c->WriteMany({{"/bad/keep", "new"}, {"/bad/big", std::string(4096, 'v')}}); })
                  .getName(),
              Prefix + "InvalidArgument");
    EXPECT_EQ(failure([&] { c->CompareAndWrite("/bad/keep", "old", std::string(4096, 'v')); }).getName(),
              Prefix + "InvalidArgument");

    // The bounds of a call, named in the message.
    std::vector<std::string> tooMany;
    Texts tooManyValues;
    for (int i = 0; i <= 1000; ++i) {
        tooMany.push_back("/bad/n" + std::to_string(i));
        tooManyValues[tooMany.back()] = "1";
    }
    auto many = failure([&] { c->ReadMany(tooMany); });
    EXPECT_EQ(many.getName(), Prefix + "InvalidArgument");
    EXPECT_THAT(many.getMessage(), HasSubstr("1001 paths; a call names at most 1000"));
    EXPECT_EQ(failure([&] { c->WriteMany(tooManyValues); }).getName(), Prefix + "InvalidArgument");
    EXPECT_EQ(failure([&] { c->RemoveMany(tooMany); }).getName(), Prefix + "InvalidArgument");
    tooMany.pop_back();
    EXPECT_EQ(c->ReadMany(tooMany).size(), 0u);  // 1000 is allowed
    Texts heavy;
    for (int i = 0; i < 300; ++i)
        heavy["/bad/heavy" + std::to_string(i)] = std::string(4000, 'h');
    auto big = failure([&] { c->WriteMany(heavy); });
    EXPECT_EQ(big.getName(), Prefix + "TooBig");
    EXPECT_THAT(big.getMessage(), HasSubstr("a call carries at most 1048576 (1 MiB)"));

    EXPECT_EQ(c->Read("/bad/keep"), "old");
    EXPECT_FALSE(c->Exists("/bad/big"));
    EXPECT_FALSE(c->Exists("/bad/heavy0"));
    // Only the one allowed ReadMany of 1000 paths started a transaction.
    EXPECT_EQ(transactionsStarted(), before + 1);
}

TEST_F(AtomicCalls, InsideATransactionTheyJoinItAndCommitDecides)
{
    c->Write("/in/n", "1");
    TransactionClient t(c->connection(), c->StartTransaction());
    const int started = transactionsStarted();
    t.WriteMany({{"/in/a", "A"}, {"/in/b", "B"}});
    EXPECT_EQ(t.ReadMany({"/in/a", "/in/b", "/in/n"}), (Texts{{"/in/a", "A"}, {"/in/b", "B"}, {"/in/n", "1"}}));
    EXPECT_EQ(t.CompareAndWrite("/in/n", "1", "2"), std::make_tuple(true, std::string("2")));
    EXPECT_EQ(t.WriteIfAbsent("/in/a", "again"), std::make_tuple(false, std::string("A")));
    t.RemoveMany({"/in/b"});
    EXPECT_EQ(t.ReadManyBytes({"/in/b", "/in/n"}), (Bytes{{"/in/n", {'2'}}}));
    // Nothing visible outside before the commit, and no transaction of
    // their own.
    EXPECT_FALSE(c->Exists("/in/a"));
    EXPECT_EQ(c->Read("/in/n"), "1");
    EXPECT_EQ(transactionsStarted(), started);
    EXPECT_TRUE(t.Commit());
    EXPECT_EQ(c->ReadMany({"/in/a", "/in/b", "/in/n"}), (Texts{{"/in/a", "A"}, {"/in/n", "2"}}));
}

TEST_F(AtomicCalls, InsideATransactionTheSameChecksApplyAndAnEndedOneSaysSo)
{
    const auto path = c->StartTransaction();
    TransactionClient t(c->connection(), path);
    EXPECT_EQ(failure([&] { t.WriteMany({{"/x", "1"}, {"/y//z", "2"}}); }).getName(),
              Prefix + "InvalidArgument");
    auto other = stack.client();
    TransactionClient stolen(other->connection(), path);
    EXPECT_EQ(failure([&] { stolen.ReadMany({"/x"}); }).getName(), Prefix + "AccessDenied");
    t.Abort();
    EXPECT_EQ(failure([&] { t.WriteMany({{"/x", "1"}}); }).getName(),
              "org.freedesktop.DBus.Error.UnknownObject");
    EXPECT_FALSE(c->Exists("/x"));
}

TEST(AtomicCallsAccess, AForbiddenPathFailsTheWholeCallBeforeAnythingIsSent)
{
    Stack::Options o;
    o.config = R"({"access": [
        {"uid": 0, "paths": ["/", "@"], "allow": ["read", "write", "watch", "admin"]},
        {"uid": 65534, "paths": ["/pub"], "allow": ["read", "write"]},
        {"uid": 65534, "paths": ["/ro"], "allow": ["read"]}]})";
    Stack stack(o);
    stack.xenstored().write("/ro/x", "0");
    const int before = stack.xenstored().countAccessLog({" t start"});
    auto busctl = [&](const std::vector<std::string>& args) {
        std::vector<std::string> argv{"busctl", "--address=" + stack.address(), "call", BusName,
                                      ObjectPath, Interface};
        argv.insert(argv.end(), args.begin(), args.end());
        return stack.asNobody(argv);
    };
    auto w = busctl({"WriteMany", "a{ss}", "2", "/pub/a", "1", "/ro/x", "2"});
    EXPECT_NE(w.status, 0);
    EXPECT_THAT(w.err, HasSubstr("uid 65534 may not write /ro/x")) << w.err;
    auto r = busctl({"RemoveMany", "as", "2", "/pub/a", "/secret"});
    EXPECT_THAT(r.err, HasSubstr("uid 65534 may not write /secret")) << r.err;
    // CompareAndWrite reads and writes: both must be allowed.
    auto cas = busctl({"CompareAndWrite", "sss", "/ro/x", "0", "1"});
    EXPECT_THAT(cas.err, HasSubstr("uid 65534 may not write /ro/x")) << cas.err;
    EXPECT_FALSE(stack.client()->Exists("/pub/a"));
    EXPECT_EQ(stack.xenstored().read("/ro/x"), "0");
    EXPECT_EQ(stack.xenstored().countAccessLog({" t start"}), before);
    // What it may do, it may do in one call.
    auto ok = busctl({"WriteMany", "a{ss}", "2", "/pub/a", "1", "/pub/b", "2"});
    EXPECT_EQ(ok.status, 0) << ok.err;
    auto read = busctl({"ReadMany", "as", "2", "/pub/a", "/ro/x"});
    EXPECT_EQ(read.out, "a{ss} 2 \"/pub/a\" \"1\" \"/ro/x\" \"0\"\n") << read.err;
}

TEST(AtomicCallsBusctl, TheReadmeLinesWork)
{
    Stack stack;
    auto w = stack.busctlCall("WriteMany", {"a{ss}", "2", "/a", "1", "/b", "2"});
    EXPECT_EQ(w.status, 0) << w.err;
    auto r = stack.busctlCall("ReadMany", {"as", "3", "/a", "/b", "/c"});
    EXPECT_EQ(r.out, "a{ss} 2 \"/a\" \"1\" \"/b\" \"2\"\n") << r.err;
    EXPECT_EQ(stack.busctlCall("WriteIfAbsent", {"ss", "/counter", "0"}).out, "bs true \"0\"\n");
    EXPECT_EQ(stack.busctlCall("CompareAndWrite", {"sss", "/counter", "0", "1"}).out, "bs true \"1\"\n");
    EXPECT_EQ(stack.busctlCall("CompareAndWrite", {"sss", "/counter", "0", "1"}).out, "bs false \"1\"\n");
    auto rm = stack.busctlCall("RemoveMany", {"as", "2", "/a", "/b"});
    EXPECT_EQ(rm.status, 0) << rm.err;
    EXPECT_NE(stack.xenstored().tool("xenstore-read", {"/a"}).status, 0);
    auto g = stack.gdbus({"call", "--dest", BusName, "--object-path", ObjectPath, "--method",
                          std::string(Interface) + ".ReadMany", "['/counter']"});
    EXPECT_EQ(g.out, "({'/counter': '1'},)\n") << g.err;
}

TEST(AtomicCallsBudget, LargeCallsAtOnceHoldAtMost32MiBAndTheRestAreRefusedAtOnce)
{
    Stack::Options o;
    o.verbose = false;
    o.config = R"({"access": [{"uid": 0, "paths": ["/", "@"], "allow": ["read", "write", "watch", "admin"]}],
                   "limits": {"xenstored_timeout_s": 24}})";
    Stack stack(o);
    // About 1 MB of paths and values a call (values within oxenstored's
    // 2048-byte quota): 33 of them fit in 32 MiB.
    Texts big;
    size_t callBytes = 0;
    for (int k = 0; k < 500; ++k) {
        const std::string path = "/budget/k" + std::to_string(k);
        big[path] = std::string(2000, 'x');
        callBytes += path.size() + 2000;
    }
    ASSERT_EQ((32u << 20) / callBytes, 33u);
    constexpr int Connections = 2, CallsEach = 24;

    std::mutex m;
    std::condition_variable cv;
    int ok = 0;
    std::vector<sdbus::Error> refused;
    std::vector<std::unique_ptr<sdbus::IConnection>> conns;
    std::vector<std::unique_ptr<sdbus::IProxy>> proxies;
    {
        // xenstored answers nothing meanwhile: every call admitted stays
        // under way.
        Frozen frozen(stack.xenstored().pid());
        for (int c = 0; c < Connections; ++c) {
            conns.push_back(sdbus::createSessionBusConnectionWithAddress(stack.address()));
            conns.back()->enterEventLoopAsync();
            proxies.push_back(sdbus::createProxy(*conns.back(), BusName, ObjectPath));
            for (int i = 0; i < CallsEach; ++i)
                proxies.back()
                    ->callMethodAsync("WriteMany")
                    .onInterface(Interface)
                    .withArguments(big)
                    .uponReplyInvoke([&](const sdbus::Error* e) {
                        std::lock_guard lock(m);
                        e ? refused.push_back(*e) : void(++ok);
                        cv.notify_all();
                    });
        }
        std::unique_lock lock(m);
        // Not every call need have reached the daemon by now (the bus
        // passes 48 MB on in its own time), but those past the 33rd that
        // did are refused at once, and nothing is answered otherwise.
        ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return !refused.empty(); }));
        cv.wait_for(lock, std::chrono::milliseconds(500));
        EXPECT_EQ(ok, 0);
        const std::string held = "the atomic calls under way hold " + std::to_string(33 * callBytes) +
                                 " bytes of paths and values, and all of them together may hold 32 MiB";
        for (const auto& e : refused) {
            EXPECT_EQ(e.getName(), Prefix + "LimitExceeded");
            EXPECT_THAT(e.getMessage(), HasSubstr(held));
        }
    }
    {
        std::unique_lock lock(m);
        EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(20),
                                [&] { return ok + int(refused.size()) == Connections * CallsEach; }));
        EXPECT_GE(ok, 33);
        for (const auto& e : refused)
            EXPECT_EQ(e.getName(), Prefix + "LimitExceeded") << e.getMessage();
    }
    // Answered calls gave their bytes back.
    auto c = stack.client();
    c->WriteMany(big);
    EXPECT_EQ(c->ReadMany({"/budget/k499"}).at("/budget/k499"), std::string(2000, 'x'));
    for (auto& conn : conns)
        conn->leaveEventLoop();
}
