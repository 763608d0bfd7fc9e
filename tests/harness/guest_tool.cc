// xenstore-dbus-guest: the harness's guest domains (guest.h) from a shell,
// for scripts/run-local: a simulated guest that the sandboxed oxenstored
// can be told to introduce, and that can then shut down, die or vanish as
// Xen would make it. See the README's "Domains" section.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "tests/harness/guest.h"
#include "tests/harness/pty_relay.h"

using namespace xsd::test;

namespace {

constexpr const char* Usage =
    "Usage: xenstore-dbus-guest SANDBOX DOMID COMMAND\n"
    "SANDBOX is the oxenstored sandbox (scripts/run-local's .run/xenstored).\n"
    "  create         domain DOMID exists and runs, with an empty store page;\n"
    "                 prints the arguments IntroduceDomain takes: DOMID MFN PORT\n"
    "  shutdown [N]   it shuts down (reason N, default 0), then VIRQ_DOM_EXC\n"
    "  die            it is being destroyed, then VIRQ_DOM_EXC\n"
    "  vanish         it is gone from Xen's list, then VIRQ_DOM_EXC\n"
    "  run            it runs again (after a shutdown), no VIRQ\n"
    "  device         plays the guest's /dev/xen/xenbus over its ring: prints\n"
    "                 the device's path and relays until SIGINT or SIGTERM\n";

int usage()
{
    std::fputs(Usage, stderr);
    return 2;
}

// Relays until told to stop; the relay runs in its own thread.
int serveDevice(const GuestDomain& domain)
{
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop, nullptr);  // before the relay's thread starts
    PtyRelay relay(domain);
    std::printf("%s\n", relay.devicePath().c_str());
    std::fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    relay.close();
    return 0;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 4)
        return usage();
    const std::string sandbox = argv[1], command = argv[3];
    char* end = nullptr;
    unsigned long domid = std::strtoul(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || domid == 0 || domid >= 0x7FF0) {
        std::fprintf(stderr, "xenstore-dbus-guest: '%s' is not a guest's domain id (1..32751)\n",
                     argv[2]);
        return 2;
    }
    try {
        if (command == "create") {
            GuestDomain d(sandbox, domid);
            std::printf("%lu %llu %u\n", domid, static_cast<unsigned long long>(d.mfn()), d.port());
            return 0;
        }
        GuestDomain d(sandbox, domid, GuestDomain::Existing{});
        if (command == "shutdown")
            d.shutdown(argc > 4 ? static_cast<unsigned>(std::atoi(argv[4])) : 0);
        else if (command == "die")
            d.die();
        else if (command == "vanish")
            d.vanish();
        else if (command == "run")
            d.run();
        else if (command == "device")
            return serveDevice(d);
        else
            return usage();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "xenstore-dbus-guest: %s\n", e.what());
        return 1;
    }
    return 0;
}
