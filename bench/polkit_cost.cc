// xenstore-dbus-polkit-bench: what a call that polkit decides costs, against
// the same call allowed by a uid rule, measured in the same run.
//
//   first call:   a new connection's first Read. Both pay for the daemon
//                 learning who the caller is; under a polkit rule the daemon
//                 also asks polkitd (CheckAuthorization: polkitd looks the
//                 caller up on the bus and runs its JavaScript rules).
//   later calls:  Reads on a connection polkit has said yes to: the kept
//                 answer, against the uid rule.
//   polkitd:      its CPU time per CheckAuthorization.
//
// It starts its own oxenstored, dbus-daemon, xenstore-dbusd and a real
// polkitd (the test harness's, in a mount namespace of its own), so it must
// run as root and needs nothing running. Usage:
//   xenstore-dbus-polkit-bench [--rounds R] [--connections K] [--calls N]
// (each round: K new connections of each kind, then N calls of each kind on
// one connection; the kinds take turns)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "tests/harness/polkitd.h"
#include "tests/harness/stack.h"

#ifndef XSD_POLKIT_POLICY
#error "XSD_POLKIT_POLICY must name org.xenproject.XenStore1.policy"
#endif

using namespace xsd::test;
using Clock = std::chrono::steady_clock;

namespace {

const char* const Config = R"({
  "access": [
    {"uid": 0, "paths": ["/uid"], "allow": ["read"]},
    {"polkit": "org.xenproject.xenstore1.read", "paths": ["/pk/*"], "allow": ["read"]}
  ]
})";

// As a site would write it: one test on the action, one on the subtree.
const char* const Rules = R"(
polkit.addRule(function(action, subject) {
    if (action.id == "org.xenproject.xenstore1.read" &&
        action.lookup("subtree") == "/pk/r")
        return polkit.Result.YES;
});
)";

struct Percentiles {
    double median = 0, p90 = 0;
};

Percentiles percentiles(std::vector<double> us)
{
    std::sort(us.begin(), us.end());
    return {us[us.size() / 2], us[us.size() * 9 / 10]};
}

// A connection of its own, calls made without an event-loop thread.
class Connection {
public:
    explicit Connection(const std::string& address)
        : conn_(sdbus::createSessionBusConnectionWithAddress(address)),
          proxy_(sdbus::createProxy(*conn_, BusName, ObjectPath))
    {
    }
    // One Read, timed, in µs; exits on an error (the setup is wrong).
    double read(const std::string& path)
    {
        std::string v;
        const auto t0 = Clock::now();
        try {
            proxy_->callMethod("Read").onInterface(Interface).withArguments(path).storeResultsTo(v);
        } catch (const sdbus::Error& e) {
            std::fprintf(stderr, "Read %s: %s: %s\n", path.c_str(), e.getName().c_str(),
                         e.getMessage().c_str());
            std::exit(1);
        }
        return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    }

private:
    std::unique_ptr<sdbus::IConnection> conn_;
    std::unique_ptr<sdbus::IProxy> proxy_;
};

void row(const char* name, const Percentiles& p)
{
    std::printf("  %-34s %9.1f %9.1f\n", name, p.median, p.p90);
}

}  // namespace

int main(int argc, char** argv)
{
    int rounds = 5, connections = 100, calls = 2000;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--rounds" && i + 1 < argc)
            rounds = std::max(1, std::atoi(argv[++i]));
        else if (arg == "--connections" && i + 1 < argc)
            connections = std::max(1, std::atoi(argv[++i]));
        else if (arg == "--calls" && i + 1 < argc)
            calls = std::max(1, std::atoi(argv[++i]));
        else {
            std::fprintf(stderr, "usage: %s [--rounds R] [--connections K] [--calls N]\n", argv[0]);
            return 2;
        }
    }

    Stack::Options options;
    options.config = Config;
    options.verbose = false;
    options.busPolicies.push_back(Polkitd::busPolicy());
    Stack stack(options);
    Polkitd polkitd(stack.address(), {XSD_POLKIT_POLICY}, Rules);
    stack.xenstored().write("/uid/k", "v");
    stack.xenstored().write("/pk/r/k", "v");

    std::vector<double> firstUid, firstPolkit, keptUid, keptPolkit;
    double polkitdCpu = 0;
    Connection uidConn(stack.address()), polkitConn(stack.address());
    uidConn.read("/uid/k");
    polkitConn.read("/pk/r/k");  // polkit's yes, kept from here on
    for (int r = 0; r < rounds; ++r) {
        for (int k = 0; k < connections; ++k) {
            firstUid.push_back(Connection(stack.address()).read("/uid/k"));
            Connection fresh(stack.address());
            const double before = cpuSeconds(polkitd.pid());
            firstPolkit.push_back(fresh.read("/pk/r/k"));
            polkitdCpu += cpuSeconds(polkitd.pid()) - before;
        }
        for (int n = 0; n < calls; ++n)
            keptUid.push_back(uidConn.read("/uid/k"));
        for (int n = 0; n < calls; ++n)
            keptPolkit.push_back(polkitConn.read("/pk/r/k"));
    }

    const auto fu = percentiles(firstUid), fp = percentiles(firstPolkit);
    const auto ku = percentiles(keptUid), kp = percentiles(keptPolkit);
    std::printf("polkit's cost to a Read, against a uid rule (%d rounds)    median µs    p90 µs\n",
                rounds);
    std::printf("first call on a new connection (%d of each)\n", rounds * connections);
    row("uid rule", fu);
    row("polkit rule: CheckAuthorization", fp);
    std::printf("  %-34s %9.2f %9.2f\n", "polkit / uid", fp.median / fu.median, fp.p90 / fu.p90);
    std::printf("later calls on one connection (%d of each)\n", rounds * calls);
    row("uid rule", ku);
    row("polkit rule: the kept yes", kp);
    std::printf("  %-34s %9.2f %9.2f\n", "polkit / uid", kp.median / ku.median, kp.p90 / ku.p90);
    std::printf("polkitd CPU per CheckAuthorization: %.0f µs (clock-tick resolution, summed)\n",
                polkitdCpu * 1e6 / (rounds * connections));
    return 0;
}
