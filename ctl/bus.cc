#include "ctl/bus.h"

#include <poll.h>
#include <time.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "dbus/signal_sender.h"

namespace xsd::ctl {

namespace {

constexpr std::string_view DaemonErrors = "org.xenproject.XenStore1.Error.";
constexpr std::string_view BusErrors = "org.freedesktop.DBus.Error.";

// Errors that mean "there is no daemon to talk to": nobody owns the name (and
// activation, where configured, failed), the bus went away, or the daemon
// stopped answering. sd-bus reports a failed connect or a broken socket as
// System.Error.<errno>.
bool isUnreachable(std::string_view name)
{
    static constexpr std::array bus{
        "ServiceUnknown", "NameHasNoOwner", "NoServer", "Disconnected",
        "NoReply",        "Timeout",        "TimedOut", "NoNetwork",
        "AddressInUse",   "FileNotFound",   "BadAddress",
    };
    if (name.starts_with(BusErrors)) {
        auto rest = name.substr(BusErrors.size());
        if (rest.starts_with("Spawn."))
            return true;
        for (std::string_view n : bus)
            if (rest == n)
                return true;
        return false;
    }
    static constexpr std::array system{
        "System.Error.ECONNREFUSED", "System.Error.ENOENT",    "System.Error.ECONNRESET",
        "System.Error.ENOTCONN",     "System.Error.EPIPE",     "System.Error.ETIMEDOUT",
        "System.Error.EHOSTUNREACH", "System.Error.ENOTSOCK",  "System.Error.ESHUTDOWN",
    };
    for (std::string_view n : system)
        if (name == n)
            return true;
    return false;
}

}  // namespace

std::unique_ptr<sdbus::IConnection> connect(const BusChoice& bus)
{
    const char* which = bus.kind == BusChoice::Kind::System ? "the system bus"
                        : bus.kind == BusChoice::Kind::User ? "the session bus"
                                                            : nullptr;
    try {
        switch (bus.kind) {
        case BusChoice::Kind::System:
            return sdbus::createSystemBusConnection();
        case BusChoice::Kind::User:
            return sdbus::createSessionBusConnection();
        case BusChoice::Kind::Address:
            return sdbus::createSessionBusConnectionWithAddress(bus.address);
        }
    } catch (const sdbus::Error& e) {
        throw Failure(ExitUnavailable,
                      std::string("cannot connect to ") + (which ? which : bus.address.c_str()) +
                          ": " + e.getMessage(),
                      e.getName());
    }
    throw Failure(ExitUnavailable, "no bus chosen");
}

XenStoreProxy::XenStoreProxy(sdbus::IConnection& connection)
    : ProxyInterfaces(connection, BusName, ObjectPath)
{
    registerProxy();
}

XenStoreProxy::~XenStoreProxy()
{
    unregisterProxy();
}

auto XenStoreProxy::permissionsOfEach(const std::vector<std::string>& paths, size_t window)
    -> std::vector<PermissionsAnswer>
{
    // Shared with the reply handlers: a call still pending when the bus
    // goes may be answered after this returns, and must find them there.
    struct Progress {
        std::vector<std::optional<PermissionsAnswer>> answers;
        size_t answered = 0;
    };
    auto progress = std::make_shared<Progress>();
    progress->answers.resize(paths.size());
    auto& answers = progress->answers;
    const size_t& answered = progress->answered;
    size_t sent = 0;
    auto& connection = getProxy().getConnection();
    while (answered < paths.size()) {
        for (; sent < paths.size() && sent - answered < window; ++sent)
            getProxy()
                .callMethodAsync("GetPermissions")
                .onInterface(INTERFACE_NAME)
                .withArguments(paths[sent])
                .uponReplyInvoke([progress, i = sent](const sdbus::Error* e, std::vector<std::string> perms) {
                    if (progress->answers[i])
                        return;  // the bus went first, and said so
                    progress->answers[i].emplace(e ? PermissionsAnswer(*e)
                                                   : PermissionsAnswer(std::move(perms)));
                    ++progress->answered;
                });
        // Take what has come in (replies, and signals for no one); wait for
        // more when nothing has. sd-bus answers a call that times out with
        // an error, at the deadline it gives here.
        try {
            if (connection.processPendingRequest())
                continue;
        } catch (const sdbus::Error& e) {
            // The bus is gone: so is every answer still to come.
            for (auto& a : answers)
                if (!a)
                    a.emplace(e);
            break;
        }
        const auto wait = connection.getEventLoopPollData();
        int ms = -1;
        if (wait.timeout_usec != UINT64_MAX) {
            timespec now{};
            clock_gettime(CLOCK_MONOTONIC, &now);
            const uint64_t nowUsec = uint64_t(now.tv_sec) * 1'000'000 + uint64_t(now.tv_nsec) / 1000;
            ms = wait.timeout_usec > nowUsec ? int((wait.timeout_usec - nowUsec + 999) / 1000) : 0;
        }
        pollfd fd{wait.fd, wait.events, 0};
        ::poll(&fd, 1, ms);
    }
    std::vector<PermissionsAnswer> out;
    out.reserve(paths.size());
    for (auto& a : answers)
        out.push_back(std::move(*a));
    return out;
}

std::map<std::string, sdbus::Variant> XenStoreProxy::allProperties()
{
    std::map<std::string, sdbus::Variant> all;
    getProxy()
        .callMethod("GetAll")
        .onInterface("org.freedesktop.DBus.Properties")
        .withArguments(std::string(INTERFACE_NAME))
        .storeResultsTo(all);
    return all;
}

std::string XenStoreProxy::owner()
{
    auto bus = sdbus::createProxy(getProxy().getConnection(), std::string(BusDriver),
                                  "/org/freedesktop/DBus");
    std::string name;
    bus->callMethod("GetNameOwner")
        .onInterface(std::string(BusDriver))
        .withArguments(std::string(BusName))
        .storeResultsTo(name);
    return name;
}

void XenStoreProxy::onWatchEvent(const std::string& path, const std::string& token)
{
    if (onEvent && sentBy(getProxy().getCurrentlyProcessedMessage(), daemon))
        onEvent(path, token);
}

TransactionProxy::TransactionProxy(sdbus::IConnection& connection, const std::string& objectPath)
    : ProxyInterfaces(connection, BusName, objectPath)
{
    registerProxy();
}

TransactionProxy::~TransactionProxy()
{
    unregisterProxy();
}

int exitStatusFor(const sdbus::Error& error)
{
    std::string_view name = error.getName();
    if (name.starts_with(DaemonErrors)) {
        auto rest = name.substr(DaemonErrors.size());
        if (rest == "AccessDenied" || rest == "PermissionDenied")
            return ExitNoPermission;
        if (rest == "NotConnected")
            return ExitUnavailable;
        return ExitFailure;
    }
    // The bus policy refused the call before the daemon saw it.
    if (name == "org.freedesktop.DBus.Error.AccessDenied")
        return ExitNoPermission;
    if (isUnreachable(name))
        return ExitUnavailable;
    return ExitFailure;
}

Failure failureFor(const std::string& context, const sdbus::Error& error)
{
    std::string_view name = error.getName();
    std::string message = error.getMessage();
    if (!name.starts_with(DaemonErrors) && isUnreachable(name))
        message = std::string("cannot reach xenstore-dbusd (") + BusName + "): " + message;
    else if (message.empty())
        message = error.getName();
    return Failure(exitStatusFor(error), context + ": " + message, error.getName());
}

}  // namespace xsd::ctl
