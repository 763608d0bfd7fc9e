// xenstore-watch: subscribe to each PATH (the token is the path, as
// xenstore-watch uses it) and print one line per WatchEvent, flushed at
// once so that a pipeline sees each event as it happens. Like XenStore, the
// daemon fires each new watch once straight away; those events count
// towards -n, as they do for xenstore-watch.
//
// This is the one verb that waits for signals, so it drives its bus
// connection itself: poll(2) on the connection, a signalfd for SIGINT and
// SIGTERM, and standard output (to notice a reader that went away).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>

#include "ctl/cli.h"
#include "ctl/json_value.h"
#include "ctl/verbs.h"
#include "dbus/signal_sender.h"

namespace xsd::ctl {

namespace {

struct Event {
    std::string path, token;
};

long eventLimit(const Invocation& inv)
{
    if (!inv.has("number"))
        return -1;
    const std::string& text = inv.option("number");
    auto n = wholeNumber<long>(text);
    if (!n || *n < 0)
        throw usageError("watch: -n wants a number of events, not '" + text + "'");
    return *n;
}

// False when nobody reads standard output any more.
bool printLine(const std::string& line)
{
    return std::fwrite(line.data(), 1, line.size(), stdout) == line.size() && std::fflush(stdout) == 0;
}

class SignalFd {
public:
    SignalFd()
    {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigprocmask(SIG_BLOCK, &set, nullptr);
        fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    }
    ~SignalFd()
    {
        if (fd_ >= 0)
            close(fd_);
    }
    int fd() const { return fd_; }

private:
    int fd_ = -1;
};

}  // namespace

int runWatch(Invocation& inv)
{
    long limit = eventLimit(inv);
    bool several = inv.args.size() > 1;
    // A closed pipe shows as a failed write (EPIPE), which ends the watch
    // quietly, rather than as a signal that kills us mid-line.
    signal(SIGPIPE, SIG_IGN);
    SignalFd signals;

    auto& connection = inv.connection();
    auto& xenstore = inv.xenstore();
    std::deque<Event> events;
    xenstore.onEvent = [&](const std::string& path, const std::string& token) {
        events.push_back({path, token});
    };
    // Leaving the bus ends the daemon's side of every subscription: say so
    // instead of waiting for events that will never come. Only the bus says
    // who owns the name (anyone may send a NameOwnerChanged), and only the
    // owner that took the Watch calls sends their events.
    bool daemonLeft = false;
    auto nameWatch = connection.addMatch(
        std::string("type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                    "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='") +
            BusName + "'",
        [&](sdbus::Message& message) {
            if (!sentBy(&message, BusDriver))
                return;
            std::string name, oldOwner, newOwner;
            message >> name >> oldOwner >> newOwner;
            if (newOwner != xenstore.daemon)
                daemonLeft = true;
        });

    // The calls first: they may start the daemon (D-Bus activation). Signals
    // that arrive meanwhile wait, unread, until the owner is known.
    for (const auto& path : inv.args)
        orFailure(inv.context(path), [&] { xenstore.Watch(path, path); });
    xenstore.daemon = orFailure(inv.context(), [&] { return xenstore.owner(); });

    // Standard output may be closed (then there is nobody to tell anything).
    int out = fcntl(STDOUT_FILENO, F_GETFD) < 0 ? -1 : STDOUT_FILENO;
    bool hangup = false;
    long seen = 0;
    for (;;) {
        while (!events.empty() && (limit < 0 || seen < limit)) {
            Event e = std::move(events.front());
            events.pop_front();
            std::string line;
            if (inv.json)
                line = Json{{"path", e.path}, {"token", e.token}}.dump() + "\n";
            else
                line = several ? e.path + " " + e.token + "\n" : e.path + "\n";
            if (!printLine(line))
                return ExitSuccess;
            ++seen;
        }
        if (limit >= 0 && seen >= limit)
            return ExitSuccess;
        if (daemonLeft)
            throw Failure(ExitUnavailable, "watch: xenstore-dbusd left the bus; its watches are gone");
        if (orFailure(inv.context(), [&] { return connection.processPendingRequest(); }))
            continue;
        // The bus hung up and sd-bus has nothing more to hand us.
        if (hangup)
            throw Failure(ExitUnavailable, "watch: the bus connection was closed");
        auto poll_ = connection.getEventLoopPollData();
        pollfd fds[3] = {
            {poll_.fd, poll_.events, 0},
            {signals.fd(), POLLIN, 0},
            // events 0: only POLLERR/POLLHUP, i.e. the reader of a pipe left.
            {out, 0, 0},
        };
        if (::poll(fds, 3, poll_.getPollTimeout()) < 0 && errno != EINTR)
            throw Failure(ExitFailure, "watch: poll failed: " + std::string(std::strerror(errno)));
        if (fds[1].revents & POLLIN)
            return ExitSuccess;  // SIGINT/SIGTERM: the user is done watching
        if (fds[2].revents & (POLLERR | POLLHUP))
            return ExitSuccess;
        hangup = fds[0].revents & (POLLERR | POLLHUP | POLLNVAL);
    }
}

}  // namespace xsd::ctl
