#include "bench/domain_death.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "tests/harness/guest.h"

using namespace xsd::test;
using Clock = std::chrono::steady_clock;

namespace xsd::bench {

namespace {

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

double micros(Clock::duration d)
{
    return std::chrono::duration<double, std::micro>(d).count();
}

// A WatchDomains subscriber that notes when each DomainReleased came, in
// its own event-loop thread.
class ReleaseListener {
public:
    explicit ReleaseListener(const std::string& address)
        : conn_(sdbus::createSessionBusConnectionWithAddress(address)),
          proxy_(sdbus::createProxy(*conn_, BusName, ObjectPath))
    {
        proxy_->uponSignal("DomainReleased").onInterface(Interface).call([this](uint32_t domid) {
            std::lock_guard lock(mutex_);
            released_.push_back({domid, Clock::now()});
            cv_.notify_all();
        });
        proxy_->finishRegistration();
        conn_->enterEventLoopAsync();
        proxy_->callMethod("WatchDomains").onInterface(Interface);
    }
    ~ReleaseListener() { conn_->leaveEventLoop(); }

    // When DomainReleased(domid) came, waiting up to 30 s for it.
    std::optional<Clock::time_point> waitFor(uint32_t domid)
    {
        std::unique_lock lock(mutex_);
        std::optional<Clock::time_point> at;
        cv_.wait_for(lock, std::chrono::seconds(30), [&] {
            for (auto& [d, t] : released_)
                if (d == domid)
                    at = t;
            return at.has_value();
        });
        return at;
    }

private:
    std::unique_ptr<sdbus::IConnection> conn_;
    std::unique_ptr<sdbus::IProxy> proxy_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<std::pair<uint32_t, Clock::time_point>> released_;
};

}  // namespace

void domainDeath(Stack& stack, int guests, int deaths, const std::function<bool(uint32_t)>& isIntroduced)
{
    Xenstored& xsd = stack.xenstored();
    std::vector<std::unique_ptr<GuestDomain>> domains;
    for (int d = 1; d <= guests; ++d) {
        domains.push_back(std::make_unique<GuestDomain>(xsd.dir(), d));
        xsd.makeHome(d);
        xsd.introduce(*domains.back());
    }
    auto caller = stack.client();
    // The daemon has seen them all once ListDomains says so (it answers
    // from a scan started after the call).
    size_t known = caller->ListDomains().size();

    // The floor: one IS_DOMAIN_INTRODUCED round trip, as a blocking client.
    std::vector<double> floorUs;
    for (int i = 0; i < 2000; ++i) {
        auto t0 = Clock::now();
        isIntroduced(static_cast<uint32_t>(1 + i % guests));
        floorUs.push_back(micros(Clock::now() - t0));
    }
    const double floor = median(floorUs);

    ReleaseListener listener(stack.address());
    std::vector<double> deathUs;
    std::vector<double> requests;
    int missed = 0;
    auto requestsSoFar = [&] {
        return xsd.countAccessLog({" is introduced "}) + xsd.countAccessLog({" directory "}) +
               xsd.countAccessLog({" read "});
    };
    for (int i = 0; i < deaths && i < guests; ++i) {
        // Every other one from the end, so the set the daemon asks about
        // shrinks as it would on a host.
        GuestDomain& dying = *domains[static_cast<size_t>(guests - 1 - 2 * i) % guests];
        const int before = requestsSoFar();
        auto t0 = Clock::now();
        dying.die();
        auto at = listener.waitFor(dying.domid());
        if (!at) {
            ++missed;
            continue;
        }
        deathUs.push_back(micros(*at - t0));
        // The daemon's requests end before it signals: count them after.
        requests.push_back(requestsSoFar() - before);
    }
    const double death = median(deathUs);
    std::printf("domains: %zu introduced guests, one dies (VIRQ_DOM_EXC)  median over %zu deaths\n",
                known, deathUs.size());
    std::printf("  death to DomainReleased at a subscriber   %9.0f µs\n", death);
    std::printf("  IS_DOMAIN_INTRODUCED round trip (floor)   %9.1f µs   (a blocking client)\n", floor);
    std::printf("  ratio                                     %9.1f      (one round trip each: %zu)\n",
                death / floor, known);
    std::printf("  XenStore requests per death               %9.0f      (target: one per known domain)\n",
                median(requests));
    if (missed)
        std::printf("  (%d deaths were not signalled within 30 s)\n", missed);
    std::printf("\n");
}

}  // namespace xsd::bench
