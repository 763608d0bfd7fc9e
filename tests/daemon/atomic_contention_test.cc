// The atomic calls under contention, against the real oxenstored: many
// connections at once, XenStore's own tools writing behind the daemon's
// back, commits refused, and oxenstored killed in the middle. What must
// hold is what XenStore's transactions give, nothing more: oxenstored
// refuses a commit (EAGAIN) only when replaying the transaction would give
// different answers, so the tests make conflicts by changing what the
// transactions read.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/ctl/access_log.h"
#include "tests/harness/stack.h"

using namespace xsd::test;
using ::testing::HasSubstr;

namespace {

using Texts = std::map<std::string, std::string>;

const std::string Prefix = ErrorPrefix;

Stack::Options quiet(std::optional<std::string> config = std::nullopt)
{
    Stack::Options o;
    o.verbose = false;  // thousands of calls
    o.config = std::move(config);
    return o;
}

// The daemon's XenStore connection in the access log ("A3"): the one whose
// transaction read `path`.
std::string daemonConnection(Stack& stack, const std::string& path)
{
    for (const auto& e : parseAccessLog(stack.xenstored().accessLog()))
        if (e.rest.rfind("read", 0) == 0 && e.rest.find(" " + path) != std::string::npos &&
            e.id.find('.') != std::string::npos)
            return e.id.substr(0, e.id.find('.'));
    return "";
}

int transactionsStartedBy(Stack& stack, const std::string& connection)
{
    int n = 0;
    for (const auto& e : parseAccessLog(stack.xenstored().accessLog()))
        n += e.id.rfind(connection + ".", 0) == 0 && e.rest.rfind("t start", 0) == 0;
    return n;
}

}  // namespace

TEST(AtomicContention, TwentyConnectionsIncrementACounterExactlyTwoThousandTimes)
{
    Stack stack(quiet());
    const std::string counter = "/contention/counter";
    stack.client()->Write(counter, "0");
    constexpr int Connections = 20, Increments = 100;

    // Behind the daemon's back, xenstore-write changes a node below the
    // counter (the node the transactions read is replaced, so oxenstored
    // cannot merge their commits and replays them) and one they never read.
    std::atomic<bool> done{false};
    std::atomic<int> outsideWrites{0};
    std::thread outside([&] {
        for (int i = 0; !done; ++i) {
            stack.xenstored().write(counter + "/note", std::to_string(i));
            stack.xenstored().write("/contention/other", std::to_string(i));
            ++outsideWrites;
        }
    });

    std::atomic<long> calls{0}, written{0}, refusedAgain{0};
    std::mutex m;
    std::vector<std::string> unexpected;
    std::vector<std::thread> clients;
    for (int i = 0; i < Connections; ++i)
        clients.emplace_back([&] {
            auto c = stack.client();
            std::string expected = c->Read(counter);
            for (int mine = 0; mine < Increments;) {
                try {
                    ++calls;
                    auto [wrote, current] =
                        c->CompareAndWrite(counter, expected, std::to_string(std::stol(expected) + 1));
                    if (wrote)
                        ++mine, ++written;
                    expected = current;
                } catch (const sdbus::Error& e) {
                    if (e.getName() != Prefix + "Again") {
                        std::lock_guard lock(m);
                        unexpected.push_back(e.getName() + ": " + e.getMessage());
                        return;
                    }
                    ++refusedAgain;
                    expected = c->Read(counter);
                }
            }
        });
    for (auto& t : clients)
        t.join();
    done = true;
    outside.join();

    EXPECT_TRUE(unexpected.empty()) << unexpected.front();
    EXPECT_EQ(stack.xenstored().read(counter), std::to_string(Connections * Increments));
    EXPECT_EQ(written, Connections * Increments);
    EXPECT_GT(outsideWrites, 0);
    // Commits were refused and the calls run again: more transactions than
    // calls.
    const std::string conn = daemonConnection(stack, counter);
    ASSERT_FALSE(conn.empty());
    const int started = transactionsStartedBy(stack, conn);
    std::printf("%ld CompareAndWrite calls (%ld wrote, %ld Error.Again), %d transactions, "
                "%d outside writes\n",
                calls.load(), written.load(), refusedAgain.load(), started, outsideWrites.load());
    EXPECT_GT(started, calls);
}

TEST(AtomicContention, ReadersNeverSeeAMixOfTwoWriteManys)
{
    Stack stack(quiet());
    constexpr int Keys = 50, Writers = 4, Readers = 4, WritesEach = 60;
    std::vector<std::string> paths;
    for (int k = 0; k < Keys; ++k)
        paths.push_back("/atomic/k" + std::to_string(k));

    std::atomic<int> writersLeft{Writers};
    std::atomic<long> reads{0}, fullReads{0}, mixed{0};
    std::mutex m;
    std::string firstMix, firstError;
    std::vector<std::thread> threads;
    for (int w = 0; w < Writers; ++w)
        threads.emplace_back([&, w] {
            auto c = stack.client();
            for (int n = 0; n < WritesEach; ++n) {
                Texts values;
                for (const auto& p : paths)
                    values[p] = "w" + std::to_string(w) + "-" + std::to_string(n);
                try {
                    c->WriteMany(values);
                } catch (const sdbus::Error& e) {
                    std::lock_guard lock(m);
                    firstError = e.getName() + ": " + e.getMessage();
                }
            }
            --writersLeft;
        });
    for (int r = 0; r < Readers; ++r)
        threads.emplace_back([&] {
            auto c = stack.client();
            while (writersLeft > 0) {
                auto got = c->ReadMany(paths);
                ++reads;
                if (got.empty())
                    continue;  // before the first write
                ++fullReads;
                std::set<std::string> distinct;
                for (const auto& [p, v] : got)
                    distinct.insert(v);
                if (got.size() != paths.size() || distinct.size() != 1) {
                    ++mixed;
                    std::lock_guard lock(m);
                    if (firstMix.empty())
                        firstMix = std::to_string(got.size()) + " keys, " +
                                   std::to_string(distinct.size()) + " distinct values, e.g. " +
                                   *distinct.begin() + " and " + *distinct.rbegin();
                }
            }
        });
    for (auto& t : threads)
        t.join();
    std::printf("%ld ReadMany answers while %d WriteMany calls ran (%ld after the first write)\n",
                reads.load(), Writers * WritesEach, fullReads.load());
    EXPECT_EQ(firstError, "");
    EXPECT_EQ(mixed, 0) << firstMix;
    EXPECT_GT(fullReads, 0);
    // And the store holds one write's values, all 50 of them.
    auto last = stack.client()->ReadMany(paths);
    ASSERT_EQ(last.size(), paths.size());
    std::set<std::string> distinct;
    for (const auto& [p, v] : last)
        distinct.insert(v);
    EXPECT_EQ(distinct.size(), 1u);
}

TEST(AtomicContention, TheRetryBoundIsReachedAndReportedAndNothingOfThatCallIsWritten)
{
    // oxenstored's own test switch: it refuses commits at random (a commit
    // and then its replay each a third of the time), so some calls meet a
    // refusal on each of their attempts.
    auto options = quiet(R"({"access": [{"uid": 0, "paths": ["/", "@"],
                                          "allow": ["read", "write", "watch", "admin"]}],
                             "limits": {"atomic_call_retries": 1}})");
    options.xenstoredConfig = "test-eagain = true";
    Stack stack(options);
    auto c = stack.client();

    int lastWritten = -1, calls = 0;
    std::optional<sdbus::Error> refused;
    for (int i = 0; i < 5000 && !refused; ++i) {
        ++calls;
        try {
            c->WriteMany({{"/bound/a", std::to_string(i)}, {"/bound/b", std::to_string(i)}});
            lastWritten = i;
        } catch (const sdbus::Error& e) {
            refused = e;
        }
    }
    ASSERT_TRUE(refused) << "no call was refused twice in " << calls << " calls";
    EXPECT_EQ(refused->getName(), Prefix + "Again");
    EXPECT_THAT(refused->getMessage(),
                HasSubstr("the paths kept changing: xenstored refused the commit as conflicting 2 "
                          "times (EAGAIN), and the daemon retries 1 times (atomic_call_retries)"));
    // The refused call wrote nothing; the one before it stands whole.
    ASSERT_GE(lastWritten, 0);
    EXPECT_EQ(c->ReadMany({"/bound/a", "/bound/b"}),
              (Texts{{"/bound/a", std::to_string(lastWritten)}, {"/bound/b", std::to_string(lastWritten)}}));
    // Calls before it were refused once and then committed on their retry.
    const std::string conn = daemonConnection(stack, "/bound/a");
    ASSERT_FALSE(conn.empty());
    EXPECT_GT(transactionsStartedBy(stack, conn), calls + 1);
}

TEST(AtomicContention, XenstoredKilledMidwayGivesNotConnectedAndNothingHalfWritten)
{
    Stack stack(quiet());
    constexpr int Keys = 20, Writers = 3;
    std::vector<std::string> paths;
    for (int k = 0; k < Keys; ++k)
        paths.push_back("/restart/k" + std::to_string(k));

    std::atomic<bool> stop{false}, restarted{false};
    std::atomic<long> okBefore{0}, okAfter{0}, notConnected{0};
    std::mutex m;
    std::set<std::string> committedAfter, refused;
    std::vector<std::string> unexpected;
    std::vector<std::thread> writers;
    for (int w = 0; w < Writers; ++w)
        writers.emplace_back([&, w] {
            auto c = stack.client();
            for (long n = 0; !stop; ++n) {
                const std::string value = "w" + std::to_string(w) + "-" + std::to_string(n);
                Texts values;
                for (const auto& p : paths)
                    values[p] = value;
                const bool after = restarted;
                try {
                    c->WriteMany(values);
                    std::lock_guard lock(m);
                    if (after)
                        committedAfter.insert(value), ++okAfter;
                    else
                        ++okBefore;
                } catch (const sdbus::Error& e) {
                    std::lock_guard lock(m);
                    if (e.getName() == Prefix + "NotConnected")
                        refused.insert(value), ++notConnected;
                    else
                        unexpected.push_back(e.getName() + ": " + e.getMessage());
                }
            }
        });
    ASSERT_TRUE(waitFor([&] { return okBefore > 50; }));
    stack.xenstored().stop(SIGKILL);
    ASSERT_TRUE(waitFor([&] { return notConnected > 0; }));
    // A fresh, empty store on the same socket.
    restarted = true;
    stack.xenstored().start();
    ASSERT_TRUE(waitFor([&] { return okAfter > 50; }, std::chrono::seconds(20)));
    stop = true;
    for (auto& t : writers)
        t.join();

    EXPECT_TRUE(unexpected.empty()) << unexpected.front();
    auto now = stack.client()->ReadMany(paths);
    ASSERT_EQ(now.size(), paths.size());
    std::set<std::string> distinct;
    for (const auto& [p, v] : now)
        distinct.insert(v);
    ASSERT_EQ(distinct.size(), 1u) << "a mix of writes: " << *distinct.begin() << ", " << *distinct.rbegin();
    // The values there are those of a call that was answered ok after the
    // restart; a call answered NotConnected was never carried over to the
    // new connection.
    EXPECT_TRUE(committedAfter.count(*distinct.begin())) << *distinct.begin();
    EXPECT_FALSE(refused.count(*distinct.begin()));
    std::printf("%ld ok before the kill, %ld NotConnected, %ld ok after the restart\n", okBefore.load(),
                notConnected.load(), okAfter.load());
}
