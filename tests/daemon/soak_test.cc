// Soak: 20 client connections doing random reads, writes, watches,
// unwatches and transactions while oxenstored is restarted twice and
// clients come and go. Bounded (about 20 s), loopback only. Afterwards the
// daemon's books must balance and its memory must not have grown.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "tests/harness/stack.h"

using namespace xsd::test;
using namespace std::chrono_literals;

namespace {

// Errors a well-behaved client may meet while xenstored restarts under it.
bool expected(const std::string& name)
{
    static const std::set<std::string> ok = {
        std::string(ErrorPrefix) + "NotConnected", std::string(ErrorPrefix) + "NoEntry",
        std::string(ErrorPrefix) + "UnknownTransaction", std::string(ErrorPrefix) + "Again",
    };
    return ok.count(name) != 0;
}

struct Worker {
    int id;
    Stack& stack;
    std::mt19937 rng;
    std::unique_ptr<Client> client;
    std::set<std::pair<std::string, std::string>> held;  // (path, token) it subscribed
    int generation = 0;
    std::vector<std::string> unexpected;
    long ops = 0;

    Worker(int i, Stack& s) : id(i), stack(s), rng(1000 + i), client(s.client()) {}

    std::string path(int n) { return "/soak/p" + std::to_string(n % 8); }

    template <class F>
    void attempt(const char* what, F&& f)
    {
        try {
            f();
        } catch (const sdbus::Error& e) {
            if (!expected(e.getName()))
                unexpected.push_back(std::string(what) + ": " + e.getName() + ": " + e.getMessage());
        }
        ++ops;
    }

    void step()
    {
        int op = std::uniform_int_distribution<int>(0, 99)(rng);
        int k = std::uniform_int_distribution<int>(0, 63)(rng);
        if (op < 30) {
            attempt("Read", [&] { client->Read(path(k) + "/k" + std::to_string(k)); });
        } else if (op < 55) {
            attempt("Write", [&] { client->Write(path(k) + "/k" + std::to_string(k), "v" + std::to_string(op)); });
        } else if (op < 70) {
            std::string p = path(k), t = "w" + std::to_string(id) + "-" + std::to_string(k);
            if (held.count({p, t}))
                return;
            attempt("Watch", [&] {
                client->Watch(p, t);
                held.insert({p, t});
            });
        } else if (op < 80) {
            if (held.empty())
                return;
            auto it = held.begin();
            std::advance(it, k % held.size());
            auto sub = *it;
            attempt("Unwatch", [&] {
                client->Unwatch(sub.first, sub.second);
                held.erase(sub);
            });
        } else if (op < 97) {
            attempt("Transaction", [&] {
                TransactionClient t(client->connection(), client->StartTransaction());
                t.Read("/soak");
                t.Write(path(k) + "/tx", std::to_string(op));
                if (op % 2)
                    t.Commit();
                else
                    t.Abort();
            });
        } else {
            // Leave the bus and come back as a new caller.
            client = stack.client();
            held.clear();
            ++generation;
        }
    }
};

}  // namespace

TEST(Soak, TwentyClientsThroughTwoXenstoredRestarts)
{
    Stack::Options options;
    options.verbose = false;
    Stack stack(options);
    stack.xenstored().write("/soak", "");
    std::vector<std::unique_ptr<Worker>> workers;
    for (int i = 0; i < 20; ++i)
        workers.push_back(std::make_unique<Worker>(i, stack));

    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (auto& w : workers)
        threads.emplace_back([&, w = w.get()] {
            while (!stop)
                w->step();
        });

    auto restart = [&] {
        stack.xenstored().stop(SIGKILL);
        std::this_thread::sleep_for(300ms);
        stack.xenstored().start();
        stack.xenstored().write("/soak", "");
        auto probe = stack.client();
        EXPECT_TRUE(waitFor([&] { return probe->Connected(); }, 5s));
    };
    std::this_thread::sleep_for(5s);
    restart();
    std::this_thread::sleep_for(1s);
    long rssAfterFirstRestart = residentKiB(stack.daemon().pid());
    std::this_thread::sleep_for(5s);
    restart();
    std::this_thread::sleep_for(7s);
    stop = true;
    for (auto& t : threads)
        t.join();
    long rssAtEnd = residentKiB(stack.daemon().pid());

    long ops = 0;
    size_t heldTotal = 0;
    for (auto& w : workers) {
        ops += w->ops;
        heldTotal += w->held.size();
        for (auto& u : w->unexpected)
            ADD_FAILURE() << "worker " << w->id << ": " << u;
    }
    EXPECT_GT(ops, 2000) << "the soak did too little to mean anything";
    ASSERT_TRUE(stack.daemon().running()) << stack.daemonLog();

    // The books balance: what clients hold is what the daemon counts.
    auto probe = stack.client();
    EXPECT_EQ(probe->SubscriptionCount(), heldTotal);

    // Every live subscription still delivers, with its own token.
    for (auto& w : workers)
        w->client->clearEvents();
    for (int p = 0; p < 8; ++p)
        stack.xenstored().write("/soak/p" + std::to_string(p) + "/fresh", "1");
    for (auto& w : workers) {
        for (const auto& [path, token] : w->held) {
            WatchEvent want{path + "/fresh", token};
            EXPECT_TRUE(waitFor([&] {
                for (auto& e : w->client->events())
                    if (e == want)
                        return true;
                return false;
            }, 5s)) << "worker " << w->id << " got no event for " << path << " / " << token;
        }
    }

    // Clients gone: nothing left open or subscribed.
    workers.clear();
    EXPECT_TRUE(waitFor([&] { return probe->TransactionCount() == 0u; }, 5s));
    EXPECT_TRUE(waitFor([&] { return probe->SubscriptionCount() == 0u; }, 5s));
    EXPECT_TRUE(waitFor([&] { return probe->WatchCount() == 0u; }, 5s));

    EXPECT_LT(rssAtEnd, rssAfterFirstRestart * 11 / 10)
        << "RSS grew from " << rssAfterFirstRestart << " KiB to " << rssAtEnd << " KiB";
    std::printf("soak: %ld operations, RSS %ld KiB after the first restart, %ld KiB at the end\n",
                ops, rssAfterFirstRestart, rssAtEnd);
}
