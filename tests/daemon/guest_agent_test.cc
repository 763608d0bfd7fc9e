// The daemon as a guest's agent: xenstore-dbusd runs as domain 5, on the
// XenBus device of that guest (a relay that plays /dev/xen/xenbus over the
// domain's ring: tests/harness/pty_relay.h), and the tests look through
// D-Bus at what a guest's desktop services would see — XenStore as domain 5
// sees it, under that domain's permissions and quotas (set small here).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <future>

#include "tests/harness/call_failure.h"
#include "tests/harness/guest.h"
#include "tests/harness/pty_relay.h"
#include "tests/harness/stack.h"

using namespace xsd::test;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

namespace {

// Domain 5's quotas in this oxenstored: it owns its data and
// control/shutdown directories already (Xenstored::makeHome).
constexpr int MaxOwnedNodes = 12;
constexpr int MaxWatches = 4;
constexpr int MaxTransactions = 2;

Stack::Options guestQuotas()
{
    Stack::Options o;
    o.startDaemon = false;
    o.xenstoredConfig = "quota-maxentity = " + std::to_string(MaxOwnedNodes) +
                        "\nquota-maxwatch = " + std::to_string(MaxWatches) +
                        "\nquota-transaction = " + std::to_string(MaxTransactions) + "\n";
    return o;
}

class GuestAgent : public ::testing::Test {
protected:
    GuestAgent()
    {
        xs().makeHome(5);
        xs().introduce(domain);
        stack.startDaemon({"--xenstore", "xenbus:" + relay.devicePath()});
        if (!stack.waitReady())
            throw std::runtime_error("the daemon in domain 5 did not get ready:\n" + stack.daemonLog());
        // A guest may not ask which domains are introduced: the daemon says
        // so once, and gives back its two special watches.
        if (!waitFor([&] { return stack.daemonLog().find("not following domains") != std::string::npos; }))
            throw std::runtime_error("the daemon in domain 5 still follows domains:\n" + stack.daemonLog());
        c = stack.client();
    }

    Xenstored& xs() { return stack.xenstored(); }
    // The daemon's own requests, as oxenstored logged them for domain 5.
    int requestsOfDomain5(const std::string& op) { return xs().countAccessLog({"D5", op}); }

    Stack stack{guestQuotas()};
    GuestDomain domain{stack.xenstored().dir(), 5};
    PtyRelay relay{domain};
    std::unique_ptr<Client> c;
};

}  // namespace

TEST_F(GuestAgent, RelativePathsAreTheGuestsOwn)
{
    EXPECT_EQ(c->Read("domid"), "5");
    c->Write("data/greeting", "hello from the guest");
    EXPECT_EQ(xs().read("/local/domain/5/data/greeting"), "hello from the guest");
    EXPECT_EQ(c->Read("/local/domain/5/data/greeting"), "hello from the guest");
    EXPECT_EQ(c->GetDomainPath(5), "/local/domain/5");
    // A home is dom0's: the guest reads it but may not write there.
    EXPECT_EQ(errorAndMessage([&] { c->Write("name", "renamed"); }).first, err("PermissionDenied"));
}

TEST_F(GuestAgent, ADom0OnlyNodeIsDeniedUntilMadeReadable)
{
    xs().write("/vm/secret", "dom0 only");
    auto [name, message] = errorAndMessage([&] { c->Read("/vm/secret"); });
    EXPECT_EQ(name, err("PermissionDenied"));
    EXPECT_THAT(message, HasSubstr("/vm/secret"));
    EXPECT_EQ(errorAndMessage([&] { c->Write("/vm/secret", "mine"); }).first, err("PermissionDenied"));

    xs().tool("xenstore-chmod", {"/vm/secret", "n0", "r5"});
    EXPECT_EQ(c->Read("/vm/secret"), "dom0 only");
    EXPECT_EQ(errorAndMessage([&] { c->Write("/vm/secret", "mine"); }).first, err("PermissionDenied"));
}

TEST_F(GuestAgent, AWatchOnANodeTheGuestMayNotReadDeliversNothing)
{
    xs().write("/vm/secret", "0");
    c->Watch("/vm/secret", "secret");
    c->Watch("data/flag", "flag");
    // The first events of both watches are the subscriptions' own.
    ASSERT_TRUE(waitFor([&] {
        auto events = c->events();
        return std::find(events.begin(), events.end(), WatchEvent{"data/flag", "flag"}) != events.end();
    }));
    c->clearEvents();
    // In this order: once the second change is delivered, the first one
    // would have been, had it been delivered at all.
    xs().write("/vm/secret", "1");
    xs().write("/local/domain/5/data/flag", "up");
    auto events = c->waitForEvents(1);
    std::vector<WatchEvent> expected{{"data/flag", "flag"}};
    EXPECT_EQ(events, expected);
    EXPECT_GE(xs().countAccessLog({"D5", "notfired", "/vm/secret"}), 1) << xs().accessLog();
}

TEST_F(GuestAgent, DomainMethodsThatOnlyDom0MayCallAreRefused)
{
    GuestDomain other(xs().dir(), 7);
    xs().makeHome(7);
    for (auto& [what, call] : std::vector<std::pair<std::string, std::function<void()>>>{
             {"IntroduceDomain", [&] { c->IntroduceDomain(7, other.mfn(), other.port()); }},
             {"ReleaseDomain", [&] { c->ReleaseDomain(5); }},
             {"ResumeDomain", [&] { c->ResumeDomain(5); }},
             {"SetTarget", [&] { c->SetTarget(5, 7); }},
             {"IsDomainIntroduced", [&] { c->IsDomainIntroduced(5); }},
         }) {
        auto [name, message] = errorAndMessage(call);
        EXPECT_EQ(name, err("PermissionDenied")) << what << ": " << message;
    }
    EXPECT_TRUE(xs().request(::xs::MessageType::IsDomainIntroduced, {"7"}).payload.starts_with("F"))
        << "the guest introduced domain 7";
    // What the daemon adds cannot be had in a guest either, and says why.
    auto [name, message] = errorAndMessage([&] { c->ListDomains(); });
    EXPECT_EQ(name, err("PermissionDenied"));
    EXPECT_THAT(message, HasSubstr("only dom0"));
}

TEST_F(GuestAgent, TheQuotaOfOwnedNodesComesBackAsQuotaNamingIt)
{
    std::pair<std::string, std::string> refused;
    int written = 0;
    for (; written < 2 * MaxOwnedNodes && refused.first.empty(); ++written)
        refused = errorAndMessage([&] { c->Write("data/n" + std::to_string(written), "x"); });
    EXPECT_EQ(refused.first, err("Quota")) << "after " << written << " writes";
    EXPECT_THAT(refused.second, HasSubstr("nodes"));
    EXPECT_LE(written, MaxOwnedNodes);
    // Nothing was lost, and the daemon still serves the guest.
    EXPECT_EQ(c->Read("data/n0"), "x");
    c->Remove("data/n0");
    c->Write("data/again", "y");
    EXPECT_EQ(xs().read("/local/domain/5/data/again"), "y");
}

TEST_F(GuestAgent, SubscribersOfOnePathShareOneOfTheGuestsWatches)
{
    // Many D-Bus subscribers, far more than the guest's quota of watches,
    // on the same paths: the daemon holds one XenStore watch per path.
    std::vector<std::unique_ptr<Client>> subscribers;
    for (int i = 0; i < 4 * MaxWatches; ++i) {
        subscribers.push_back(stack.client());
        subscribers.back()->Watch("data/shared", "s" + std::to_string(i));
        subscribers.back()->Watch("data/other", "o");
    }
    for (auto& s : subscribers)
        s->waitForEvents(2);
    EXPECT_EQ(c->WatchCount(), 2u);
    xs().write("/local/domain/5/data/shared", "1");
    for (auto& s : subscribers)
        EXPECT_EQ(s->waitForEvents(3).back().path, "data/shared");
}

TEST_F(GuestAgent, DistinctPathsPastTheWatchQuotaComeBackAsQuotaNamingIt)
{
    std::pair<std::string, std::string> refused;
    int placed = 0;
    for (; placed < 2 * MaxWatches && refused.first.empty(); ++placed)
        refused = errorAndMessage([&] { c->Watch("data/w" + std::to_string(placed), "t"); });
    EXPECT_EQ(refused.first, err("Quota")) << "after " << placed << " watches";
    EXPECT_THAT(refused.second, HasSubstr("watches"));
    // oxenstored lets a domain hold one more than quota-maxwatch; the
    // daemon's own two special watches were given back (a guest cannot use
    // them), so the guest's whole quota is its callers'.
    EXPECT_GE(placed, MaxWatches + 1) << "the daemon's own watches take none of the guest's";
    EXPECT_LE(placed, MaxWatches + 2);
    // Letting one go makes room again.
    c->Unwatch("data/w0", "t");
    c->Watch("data/w-new", "t");
    EXPECT_EQ(c->Read("domid"), "5");
}

TEST_F(GuestAgent, TransactionsPastTheQuotaComeBackAsQuotaNamingIt)
{
    std::vector<std::unique_ptr<Client>> owners;
    std::vector<std::unique_ptr<TransactionClient>> open;
    std::pair<std::string, std::string> refused;
    while (refused.first.empty() && open.size() < 2 * MaxTransactions + 2) {
        owners.push_back(stack.client());
        refused = errorAndMessage([&] {
            auto t = std::make_unique<TransactionClient>(owners.back()->connection(),
                                                         owners.back()->StartTransaction());
            t->Write("data/t" + std::to_string(open.size()), "in a transaction");
            open.push_back(std::move(t));
        });
    }
    EXPECT_EQ(refused.first, err("Quota")) << "after " << open.size() << " transactions";
    EXPECT_THAT(refused.second, HasSubstr("quota of open transactions is reached (oxenstored's quota-transaction)"));
    // oxenstored lets a domain open one more than quota-transaction.
    EXPECT_GE(open.size(), size_t(MaxTransactions));
    EXPECT_LE(open.size(), size_t(MaxTransactions + 1));
    // The open ones are untouched; once one ends there is room again.
    open[0]->Commit();
    EXPECT_EQ(xs().read("/local/domain/5/data/t0"), "in a transaction");
    auto late = stack.client();
    TransactionClient now(late->connection(), late->StartTransaction());
    now.Write("data/late", "x");
    now.Commit();
    for (size_t i = 1; i < open.size(); ++i) {
        open[i]->Commit();
        EXPECT_EQ(xs().read("/local/domain/5/data/t" + std::to_string(i)), "in a transaction");
    }
    EXPECT_EQ(xs().read("/local/domain/5/data/late"), "x");
}

TEST_F(GuestAgent, AtomicCallsPastTheTransactionQuotaAreQuotaAndHarmNoOne)
{
    // Each atomic call is one XenStore transaction of its own: with far
    // more callers at once than the guest may hold transactions, each call
    // either succeeds or is refused as Quota naming the quota, and the
    // daemon keeps serving everyone.
    std::vector<std::unique_ptr<Client>> callers;
    for (int i = 0; i < 8 * MaxTransactions; ++i)
        callers.push_back(stack.client());
    std::vector<std::future<std::string>> calls;
    for (int i = 0; i < 8 * MaxTransactions; ++i)
        calls.push_back(std::async(std::launch::async, [&, i]() -> std::string {
            try {
                // Four nodes in all: the quota of nodes is not the point.
                callers[i]->WriteMany({{"data/a" + std::to_string(i % 4), "v"}});
                return "";
            } catch (const sdbus::Error& e) {
                return e.getName() + ": " + e.getMessage();
            }
        }));
    int written = 0;
    for (int i = 0; i < int(calls.size()); ++i) {
        std::string outcome = calls[i].get();
        if (outcome.empty()) {
            ++written;
            EXPECT_EQ(xs().read("/local/domain/5/data/a" + std::to_string(i % 4)), "v");
            continue;
        }
        EXPECT_THAT(outcome, ::testing::StartsWith(err("Quota") + ": "));
        EXPECT_THAT(outcome, HasSubstr("quota-transaction"));
    }
    EXPECT_GE(written, 1);
    EXPECT_TRUE(stack.daemon().running());
    c->WriteMany({{"data/after", "v"}});
    EXPECT_EQ(xs().read("/local/domain/5/data/after"), "v");
}
