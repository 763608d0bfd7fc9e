// Every method and property of org.xenproject.XenStore1, through an
// sdbus-c++ proxy generated from the interface XML, against a real
// oxenstored and a real dbus-daemon. What the daemon did is checked on the
// XenStore side too: with xenstore-read/-ls and oxenstored's access log.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <future>
#include <set>

#include "version.h"

#include "tests/harness/call_failure.h"
#include "tests/harness/stack.h"

using namespace xsd::test;

namespace {

class Methods : public ::testing::Test {
protected:
    Stack stack;
    std::unique_ptr<Client> c = stack.client();

    std::string err(const char* name) { return std::string(ErrorPrefix) + name; }

    // Nodes `stem`0 … `stem`<count-1>, each holding `value`, written by
    // xenstore-write in batches that fit one command line.
    void writeNodes(const std::string& stem, int count, const std::string& value)
    {
        for (int first = 0; first < count; first += 700) {
            std::vector<std::string> args;
            for (int i = first; i < std::min(count, first + 700); ++i) {
                args.push_back(stem + std::to_string(i));
                args.push_back(value);
            }
            ASSERT_EQ(stack.xenstored().tool("xenstore-write", args).status, 0);
        }
    }
};

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

}  // namespace

TEST_F(Methods, WriteThenReadRoundTrips)
{
    c->Write("/a/b", "hello world");
    EXPECT_EQ(c->Read("/a/b"), "hello world");
    EXPECT_EQ(stack.xenstored().read("/a/b"), "hello world");
    EXPECT_EQ(stack.xenstored().countAccessLog({"write", "/a/b hello world"}), 1);
}

TEST_F(Methods, ReadSeesWhatOthersWrote)
{
    stack.xenstored().write("/vm/1/name", "guest");
    EXPECT_EQ(c->Read("/vm/1/name"), "guest");
    EXPECT_EQ(c->Read("/vm/1"), "");  // created as a parent: empty value
}

TEST_F(Methods, ReadBytesAndWriteBytesCarryAnyBytes)
{
    // NULs first and last: nothing may end the value early.
    std::string binary("\x00\x01\xff\xfe text \x80\x00", 12);
    c->WriteBytes("/bin/v", bytes(binary));
    EXPECT_EQ(c->ReadBytes("/bin/v"), bytes(binary));
    // Read refuses what is not text, and says to use ReadBytes.
    try {
        c->Read("/bin/v");
        FAIL() << "Read of binary data succeeded";
    } catch (const sdbus::Error& e) {
        EXPECT_EQ(e.getName(), err("NotText"));
        EXPECT_NE(e.getMessage().find("ReadBytes"), std::string::npos) << e.getMessage();
    }
}

TEST_F(Methods, NonAsciiTextIsText)
{
    c->Write("/u", "grüße ✓");
    EXPECT_EQ(c->Read("/u"), "grüße ✓");
}

TEST_F(Methods, ExistsIsFalseOnlyForMissingNodes)
{
    stack.xenstored().write("/e/x", "1");
    EXPECT_TRUE(c->Exists("/e/x"));
    EXPECT_TRUE(c->Exists("/e"));
    EXPECT_FALSE(c->Exists("/e/nothing"));
    EXPECT_EQ(errorOf([&] { c->Exists("/e//x"); }), err("InvalidArgument"));
}

TEST_F(Methods, DirectoryListsLeafNames)
{
    for (auto n : {"one", "two", "three"})
        stack.xenstored().write(std::string("/d/") + n, n);
    auto names = c->Directory("/d");
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"one", "three", "two"}));
    EXPECT_TRUE(c->Directory("/d/one").empty());
}

TEST_F(Methods, DirectoryComesBackWholeHoweverLong)
{
    // 400 names of 30 bytes: more than one 4096-byte payload. oxenstored
    // sends them in one reply, where xenstore-list (libxenstore 4.17) fails.
    std::set<std::string> written;
    for (int i = 0; i < 400; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "child-%024d", i);
        c->Write(std::string("/big/") + name, "");
        written.insert(name);
    }
    auto names = c->Directory("/big");
    EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), written);
}

TEST_F(Methods, MkdirCreatesAnEmptyNode)
{
    c->Mkdir("/m/n");
    EXPECT_TRUE(c->Exists("/m/n"));
    EXPECT_EQ(stack.xenstored().read("/m/n"), "");
}

TEST_F(Methods, RemoveIsRecursive)
{
    stack.xenstored().write("/r/a/b", "1");
    stack.xenstored().write("/r/c", "2");
    c->Remove("/r");
    EXPECT_FALSE(c->Exists("/r"));
    EXPECT_FALSE(c->Exists("/r/a/b"));
    EXPECT_NE(stack.xenstored().tool("xenstore-read", {"/r/c"}).status, 0);
}

TEST_F(Methods, PermissionsRoundTripInXenStoreNotation)
{
    c->Write("/p", "x");
    EXPECT_EQ(c->GetPermissions("/p"), (std::vector<std::string>{"n0"}));
    c->SetPermissions("/p", {"n5", "r7", "w3", "b2"});
    EXPECT_EQ(c->GetPermissions("/p"), (std::vector<std::string>{"n5", "r7", "w3", "b2"}));
    // The same as XenStore's own tool sees them.
    auto ls = stack.xenstored().tool("xenstore-ls", {"-p", "/"});
    auto line = ls.out.substr(ls.out.find("\np = \"x\"") + 1);
    line = line.substr(0, line.find('\n'));
    EXPECT_TRUE(line.ends_with("(n5,r7,w3,b2)")) << ls.out;
}

TEST_F(Methods, SnapshotIsNestedJson)
{
    stack.xenstored().write("/s/a", "1");
    stack.xenstored().write("/s/b/c", "deep");
    c->WriteBytes("/s/bin", bytes(std::string("\xff\x00", 2)));
    auto j = nlohmann::json::parse(c->Snapshot("/s"));
    EXPECT_EQ(j["path"], "/s");
    EXPECT_EQ(j["value"], "");
    EXPECT_EQ(j["children"]["a"]["value"], "1");
    EXPECT_EQ(j["children"]["a"]["children"], nlohmann::json::object());
    EXPECT_EQ(j["children"]["b"]["children"]["c"]["value"], "deep");
    EXPECT_EQ(j["children"]["bin"]["value"], (nlohmann::json{{"base64", "/wA="}}));
    // One consistent read: the daemon used one XenStore transaction.
    EXPECT_EQ(stack.xenstored().countAccessLog({"t start"}), 1);
    EXPECT_EQ(errorOf([&] { c->Snapshot("/s/nothing"); }), err("NoEntry"));
}

TEST_F(Methods, SnapshotTooLargeForOneMessageIsTooBig)
{
    // dbus-daemon drops a sender whose message passes its limit (32 MiB):
    // the daemon must refuse such an answer rather than send it. Values of
    // control characters grow sixfold in JSON (\u0001): 2800 nodes of 2000
    // such bytes make 34 MB of JSON from 5.6 MB of XenStore.
    writeNodes("/big/n", 2800, std::string(2000, '\x01'));
    auto e = failure([&] { c->Snapshot("/big"); });
    EXPECT_EQ(e.getName(), err("TooBig"));
    EXPECT_NE(e.getMessage().find("bytes of JSON"), std::string::npos) << e.getMessage();
    EXPECT_NE(e.getMessage().find("smaller subtrees"), std::string::npos) << e.getMessage();
    // Still on the bus, and a part of it is fine.
    EXPECT_EQ(nlohmann::json::parse(c->Snapshot("/big/n0"))["value"].get<std::string>().size(), 2000u);
}

TEST_F(Methods, SnapshotBurstGivesItsMemoryBack)
{
#if defined(__SANITIZE_ADDRESS__)
    // AddressSanitizer's allocator holds freed memory back on purpose (its
    // quarantine) and has no malloc_trim: resident size says nothing there.
    GTEST_SKIP() << "resident memory is AddressSanitizer's to keep in this build";
#endif
    writeNodes("/mem/n/", 10000, "some value");
    c->Version();
    const long idle = residentKiB(stack.daemon().pid());
    ASSERT_GT(idle, 0);
    // Four callers at once, each with its own 10,000-node Snapshot.
    std::vector<std::unique_ptr<Client>> callers;
    std::vector<std::future<std::string>> answers;
    for (int i = 0; i < 4; ++i) {
        callers.push_back(stack.client());
        answers.push_back(callers.back()->snapshotLater("/mem"));
    }
    for (auto& a : answers)
        EXPECT_EQ(nlohmann::json::parse(a.get())["children"]["n"]["children"].size(), 10000u);
    // The walk took several MiB (the nodes, the JSON, each reply); once
    // the burst is over they go back to the system: no more than half as
    // much again as idle stays (glibc kept ~2.3 times idle for good).
    long now = 0;
    EXPECT_TRUE(waitFor([&] { return (now = residentKiB(stack.daemon().pid())) * 2 <= idle * 3; },
                        std::chrono::seconds(10)))
        << "idle " << idle << " KiB, after the burst " << now << " KiB";
}

TEST_F(Methods, DirectoryTooLargeForOneMessageIsTooBig)
{
    // Any answer, not only Snapshot: 9600 children with names of 1900
    // bytes list as 18 MB, which oxenstored sends in one reply.
    writeNodes("/d/" + std::string(1890, 'n'), 9600, "");
    auto e = failure([&] { c->Directory("/d"); });
    EXPECT_EQ(e.getName(), err("TooBig"));
    EXPECT_NE(e.getMessage().find("Directory /d: the answer would take"), std::string::npos)
        << e.getMessage();
    // The connection to xenstored was kept: no reconnection was logged.
    EXPECT_TRUE(c->Exists("/d"));
    EXPECT_EQ(stack.daemonLog().find("lost the connection"), std::string::npos) << stack.daemonLog();
}

TEST_F(Methods, SnapshotsWaitingTogetherShareOneWalk)
{
    stack.xenstored().write("/s/a", "1");
    stack.xenstored().write("/t/x", "2");
    const int before = stack.xenstored().countAccessLog({"t start"});
    // xenstored frozen: the first Snapshot's walk cannot end, so the others
    // wait behind it. All are sent on one connection, in this order.
    const std::vector<std::string> paths = {"/s", "/s", "/s", "/t", "/s"};
    std::vector<std::future<std::string>> answers;
    {
        Frozen frozen(stack.xenstored().pid());
        for (const auto& path : paths)
            answers.push_back(c->snapshotLater(path));
        // Answered by the daemon alone, after it has taken every call above.
        c->Version();
    }
    std::vector<std::string> json;
    for (auto& a : answers)
        json.push_back(a.get());
    for (size_t i = 0; i < paths.size(); ++i) {
        auto j = nlohmann::json::parse(json[i]);
        EXPECT_EQ(j["path"], paths[i]);
    }
    EXPECT_EQ(nlohmann::json::parse(json[0])["children"]["a"]["value"], "1");
    EXPECT_EQ(nlohmann::json::parse(json[3])["children"]["x"]["value"], "2");
    EXPECT_EQ(json[1], json[4]);
    // The first walk; one shared by the three other /s; one for /t.
    EXPECT_EQ(stack.xenstored().countAccessLog({"t start"}) - before, 3)
        << stack.xenstored().accessLog();
}

TEST_F(Methods, SnapshotCallersTakeTurns)
{
    for (const char* path : {"/a1", "/a2", "/a3", "/b"})
        stack.xenstored().write(std::string(path) + "/k", "v");
    auto other = stack.client();
    std::vector<std::future<std::string>> answers;
    {
        Frozen frozen(stack.xenstored().pid());
        for (const char* path : {"/a1", "/a2", "/a3"})
            answers.push_back(c->snapshotLater(path));
        c->Version();  // c's three are in line before other's
        answers.push_back(other->snapshotLater("/b"));
        other->Version();
    }
    for (auto& a : answers)
        EXPECT_EQ(nlohmann::json::parse(a.get())["children"]["k"]["value"], "v");
    // Walks in the order: /a1 (at once), then turns: c's /a2, other's /b,
    // c's /a3. Each walk's first request on its own path is its READ.
    const std::string log = stack.xenstored().accessLog();
    auto walked = [&](const std::string& path) { return log.find(" " + path + " \n"); };
    EXPECT_LT(walked("/a1"), walked("/a2")) << log;
    EXPECT_LT(walked("/a2"), walked("/b")) << log;
    EXPECT_LT(walked("/b"), walked("/a3")) << log;
    EXPECT_NE(walked("/a3"), std::string::npos) << log;
}

TEST_F(Methods, SnapshotsOfACallerThatLeftAreNotTaken)
{
    for (const char* path : {"/x1", "/x2", "/y"})
        stack.xenstored().write(std::string(path) + "/k", "v");
    auto leaver = stack.client();
    leaver->Watch("/x1", "t");  // to see when the daemon knows it left
    ASSERT_EQ(c->SubscriptionCount(), 1u);
    auto stays = stack.client();
    std::future<std::string> answer;
    {
        Frozen frozen(stack.xenstored().pid());
        auto walking = leaver->snapshotLater("/x1");
        auto waiting = leaver->snapshotLater("/x2");
        leaver->Version();  // the daemon has taken both
        leaver.reset();
        ASSERT_TRUE(waitFor([&] { return c->SubscriptionCount() == 0u; }));
        answer = stays->snapshotLater("/y");
        stays->Version();
    }
    EXPECT_EQ(nlohmann::json::parse(answer.get())["path"], "/y");
    // /x1 was under way; /x2 would have come before /y.
    EXPECT_EQ(stack.xenstored().countAccessLog({"read", "/x2/k"}), 0) << stack.xenstored().accessLog();
    EXPECT_EQ(stack.xenstored().countAccessLog({"read", "/y/k"}), 1);
}

TEST_F(Methods, DomainPathsAndIntroduction)
{
    EXPECT_EQ(c->GetDomainPath(0), "/local/domain/0");
    EXPECT_EQ(c->GetDomainPath(7), "/local/domain/7");
    EXPECT_FALSE(c->IsDomainIntroduced(7));
    EXPECT_EQ(errorOf([&] { c->GetDomainPath(65536); }), err("InvalidArgument"));
    EXPECT_EQ(stack.xenstored().countAccessLog({"getdomain 7 "}), 1) << stack.xenstored().accessLog();
}

TEST_F(Methods, PropertiesDescribeTheDaemon)
{
    EXPECT_TRUE(c->Connected());
    EXPECT_EQ(c->Backend(), stack.xenstored().backend());
    EXPECT_EQ(c->Version(), std::string(XSD_VERSION));
    EXPECT_EQ(c->WatchCount(), 0u);
    EXPECT_EQ(c->SubscriptionCount(), 0u);
    EXPECT_EQ(c->TransactionCount(), 0u);
    c->Watch("/w", "t");
    auto tx = c->StartTransaction();
    EXPECT_EQ(c->WatchCount(), 1u);
    EXPECT_EQ(c->SubscriptionCount(), 1u);
    EXPECT_EQ(c->TransactionCount(), 1u);
    TransactionClient(c->connection(), tx).Abort();
    EXPECT_EQ(c->TransactionCount(), 0u);
}
