// xenstore-dbusd: main → run → loop.
#include <signal.h>
#include <unistd.h>
#include <systemd/sd-event.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "daemon/config/config.h"
#include "daemon/log.h"
#include "daemon/no_unix_fds.h"
#include "daemon/options.h"
#include "daemon/service.h"
#include "daemon/timer.h"
#include "dbus/bus_event_source.h"
#include "systemd/notify.h"
#include "systemd/status.h"
#include "version.h"

namespace xsd {

namespace {

std::unique_ptr<sdbus::IConnection> connectBus(const std::string& bus)
{
    if (bus == "system")
        return sdbus::createSystemBusConnection();
    if (bus == "session")
        return sdbus::createSessionBusConnection();
    return sdbus::createSessionBusConnectionWithAddress(bus);
}

// Signals before the event loop takes them. The daemon holds nothing yet
// that must be let go of (it reaches xenstored only once the loop runs), so
// SIGTERM and SIGINT end it at once. SIGHUP is blocked from the start: one
// that comes meanwhile waits for the loop, which reloads then.
class EarlySignals {
public:
    EarlySignals()
    {
        struct sigaction sa {};
        sa.sa_handler = &EarlySignals::onStop;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, nullptr);
        sigaction(SIGINT, &sa, nullptr);
        sigset_t hup;
        sigemptyset(&hup);
        sigaddset(&hup, SIGHUP);
        sigprocmask(SIG_BLOCK, &hup, nullptr);
    }
    // The loop's signal sources are in place, the signals blocked.
    void handOver()
    {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
    }

private:
    static void onStop(int)
    {
        static const char line[] = "<6>stopping on a signal before the bus connection was up\n";
        log::writeFromSignalHandler(line, sizeof line - 1);
        _exit(0);
    }
};

// Everything main owns, torn down in order: the bus source before the
// service, the service before the bus connection, the loop last.
struct Daemon {
    Options options;
    sd_event* loop = nullptr;
    std::unique_ptr<sdbus::IConnection> bus;
    std::unique_ptr<Service> service;
    std::unique_ptr<BusEventSource> busSource;
    sd_event_source* statusTimer = nullptr;
    uint64_t lastStatusUsec = 0;
    bool ready = false;
    bool stopping = false;
    std::string statusNote;  // e.g. why the last reload was refused

    ~Daemon()
    {
        sd_event_source_disable_unref(statusTimer);
        busSource.reset();
        service.reset();
        bus.reset();
        sd_event_unref(loop);
    }

    std::string statusLine() const
    {
        return formatStatus({service->connected(), service->backend().describe(),
                             static_cast<unsigned>(service->watchCount()),
                             static_cast<unsigned>(service->subscriptionCount()),
                             static_cast<unsigned>(service->transactionCount()), statusNote});
    }

    // READY=1 the first time xenstored is connected (the name is ours
    // before the loop starts), then STATUS= coalesced to at most two a
    // second, since a busy daemon changes its counts all the time.
    void statusChanged()
    {
        if (!std::getenv("NOTIFY_SOCKET") || stopping)
            return;
        // READY=1 at once, not coalesced: the calls that waited for
        // xenstored's first answer are answered right after this, and a
        // caller that then asks systemd must find the unit active.
        if (!ready && service->connected()) {
            ready = true;
            lastStatusUsec = monotonicNow(loop);
            notify::ready(statusLine());
            return;
        }
        if (statusTimer && sd_event_source_get_enabled(statusTimer, nullptr) > 0)
            return;
        uint64_t when = std::max(monotonicNow(loop), lastStatusUsec + 500'000);
        armOneShot(loop, statusTimer, when, &Daemon::onStatusTimer, this, "status");
    }

    static int onStatusTimer(sd_event_source*, uint64_t now, void* data)
    {
        auto* d = static_cast<Daemon*>(data);
        d->lastStatusUsec = now;
        notify::status(d->statusLine());
        return 0;
    }

    static int onStop(sd_event_source*, const signalfd_siginfo* si, void* data)
    {
        auto* d = static_cast<Daemon*>(data);
        if (d->stopping)
            return 0;
        d->stopping = true;
        log::info("stopping on signal ", si->ssi_signo,
                  ": aborting open transactions and removing XenStore watches");
        notify::stopping();
        d->service->shutdown([d] { sd_event_exit(d->loop, 0); });
        return 0;
    }

    static int onReload(sd_event_source*, const signalfd_siginfo*, void* data)
    {
        auto* d = static_cast<Daemon*>(data);
        if (d->stopping)
            return 0;
        // RELOADING=1 … READY=1 only around a reload of a service that is up:
        // before the first READY=1 (xenstored not reached yet), a READY=1
        // here would tell the service manager it is up when it is not.
        const bool wasReady = d->ready;
        if (wasReady)
            notify::reloading();
        try {
            auto config = loadConfig(d->options.configPath, d->options.configGiven);
            if (config.xenstore != "auto" && !d->options.xenstore &&
                config.xenstore != d->service->backend().describe())
                log::warning("the new configuration names xenstore ", config.xenstore,
                             "; the daemon keeps ", d->service->backend().describe(),
                             " until it is restarted");
            log::info("reloaded the configuration from ", config.source);
            d->service->setConfig(std::make_shared<const Config>(std::move(config)));
            d->statusNote.clear();
        } catch (const ConfigError& e) {
            log::error("configuration not reloaded, keeping the previous one: ", e.what());
            d->statusNote = "configuration not reloaded: " + std::string(e.what());
        }
        if (wasReady)
            notify::ready(d->statusLine());
        else
            d->statusChanged();
        return 0;
    }
};

int run(const Options& options)
{
    // Connecting to the bus and taking the name wait on dbus-daemon, which
    // may never answer (stopped, or some other program's socket): until the
    // loop can take signals, they act at once.
    EarlySignals early;
    Config config;
    try {
        config = loadConfig(options.configPath, options.configGiven);
    } catch (const ConfigError& e) {
        log::error("refusing to start: ", e.what());
        return 1;
    }
    std::string why;
    const std::string xenstore = options.xenstore.value_or(config.xenstore);
    auto backend = xs::Backend::parse(xenstore, &why);
    if (!backend) {
        log::error("refusing to start: --xenstore: ", why);
        return 2;
    }

    Daemon d;
    d.options = options;
    if (sd_event_default(&d.loop) < 0) {
        log::error("cannot create the event loop");
        return 1;
    }
    // Log lines stderr does not take at once are written out by the loop.
    log::attach(d.loop);
    // A peer that goes away must not kill us with SIGPIPE.
    signal(SIGPIPE, SIG_IGN);

    try {
        d.bus = connectBus(options.bus);
        if (busesWithoutUnixFds() == 0) {
            log::error("refusing to start: the bus connection would take file descriptors "
                       "attached to calls (see no_unix_fds.h)");
            return 1;
        }
        d.service = std::make_unique<Service>(d.loop, *d.bus, xenstore);
        d.service->setConfig(std::make_shared<const Config>(config));
        d.service->onStateChanged([&d] { d.statusChanged(); });
        d.busSource = std::make_unique<BusEventSource>(
            d.loop, *d.bus,
            [&d](const std::string& e) {
                log::error("the D-Bus connection failed: ", e);
                sd_event_exit(d.loop, 1);
            },
            // The XenStore requests a batch of calls made go out together.
            [&d] { d.service->flushXenStore(); });
        // The loop takes the signals before the name is ours: once a
        // client can see the daemon, SIGTERM stops it as a stop should
        // (STOPPING=1), not through the early handler's exit.
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, nullptr);
        sd_event_add_signal(d.loop, nullptr, SIGTERM, &Daemon::onStop, &d);
        sd_event_add_signal(d.loop, nullptr, SIGINT, &Daemon::onStop, &d);
        sd_event_add_signal(d.loop, nullptr, SIGHUP, &Daemon::onReload, &d);
        early.handOver();
        // The object exists before the name does: the first call finds it.
        d.bus->requestName(BusName);
    } catch (const sdbus::Error& e) {
        log::error("cannot publish ", BusName, " on the ", options.bus, " bus: ", e.getMessage());
        return 1;
    }
    if (notify::enableWatchdog(d.loop) < 0)
        log::warning("cannot set up the watchdog");
    log::info("xenstore-dbusd ", XSD_VERSION, " serving ", BusName, " on the ", options.bus,
              " bus; XenStore at ",
              // auto is resolved at each attempt: "connected to …" says where.
              xenstore == "auto" ? std::string("auto") : backend->describe(),
              "; access rules from ", config.source);
    d.service->start();
    d.statusChanged();
    int r = sd_event_loop(d.loop);
    log::info("stopped");
    return r < 0 ? 1 : r;
}

}  // namespace
}  // namespace xsd

int main(int argc, char** argv)
{
    auto parsed = xsd::parseOptions(std::vector<std::string>(argv + 1, argv + argc));
    if (!parsed.options)
        return parsed.exitStatus;
    xsd::log::setVerbose(parsed.options->verbose);
    int status = xsd::run(*parsed.options);
    // A stopped journald must not keep the daemon from exiting either.
    xsd::log::finish(std::chrono::seconds(1));
    return status;
}
