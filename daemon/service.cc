#include "daemon/service.h"

#include <poll.h>

#include "daemon/log.h"
#include "dbus/sd_bus_access.h"
#include "dbus/signal_sender.h"
#include "protocol/validate.h"
#include "version.h"

namespace xsd {

Service::Service(sd_event* loop, sdbus::IConnection& bus, std::string xenstore)
    : AdaptorInterfaces(bus, ObjectPath),
      loop_(loop),
      bus_(bus),
      busDaemon_(sdbus::createProxy(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus")),
      stringArguments_(sdBus(*busDaemon_), INTERFACE_NAME),
      callers_(*busDaemon_),
      link_(loop, std::move(xenstore),
            {[this] { onConnected(); },
             [this](const std::string& reason) { onDisconnected(reason); },
             [this](const std::string& path, const std::string& token) {
                 watches_.onWatchEvent(path, token);
             }}),
      polkit_(loop, bus),
      gate_(callers_, link_, std::make_shared<CallCounter>(), polkit_),
      data_(gate_),
      atomic_(loop, gate_, link_),
      watches_([this](const std::string& subscriber, const std::string& path,
                      const std::string& token) { deliverWatchEvent(subscriber, path, token); }),
      pings_(sdBus(*busDaemon_)),
      outbox_(loop,
              {[this](const std::string& subscriber, const std::string& path,
                      const std::string& token) { return emitWatchEvent(subscriber, path, token); },
               [this] { return busWriting(); },
               [this](const std::string& subscriber) {
                   for (const auto& [path, token] : watches_.watchedBy(subscriber))
                       deliverWatchEvent(subscriber, path, token);
               },
               [this](const std::string& subscriber, std::function<void(bool)> read) {
                   pings_.ping(subscriber, std::move(read));
               }}),
      domains_(gate_, link_, watches_,
               [this](const std::string& subscriber, const char* member, uint32_t domid) {
                   emitDomainSignal(subscriber, member, domid);
               }),
      transactions_(loop, bus, gate_, data_, atomic_, link_),
      snapshots_(link_),
      memory_(loop)
{
    // A caller leaving the bus takes its subscriptions and transactions
    // with it. Only the bus says so: anyone may send a NameOwnerChanged.
    busDaemon_->uponSignal("NameOwnerChanged")
        .onInterface("org.freedesktop.DBus")
        .call([this](const std::string& name, const std::string& /*oldOwner*/,
                     const std::string& newOwner) {
            if (!sentBy(busDaemon_->getCurrentlyProcessedMessage(), BusDriver))
                return;
            if (newOwner.empty() && name.starts_with(':'))
                callerLeft(name);
        });
    busDaemon_->finishRegistration();
    // Transactions open and end asynchronously (started upstream, committed,
    // idle, their owner gone): each time, the counts changed.
    transactions_.onOpenCountChanged([this] { changed(); });
    registerAdaptor();
}

Service::~Service()
{
    sd_event_source_disable_unref(shutdownTimer_);
    unregisterAdaptor();
}

void Service::start()
{
    link_.start();
}

void Service::setConfig(std::shared_ptr<const Config> config)
{
    transactions_.setPerCallerLimit(config->limits.transactionsPerCaller);
    transactions_.setTotalLimit(config->limits.transactionsTotal);
    transactions_.setIdleTimeoutSeconds(config->limits.transactionIdleTimeoutS);
    outbox_.setBacklogLimit(config->limits.queuedWatchEvents);
    outbox_.setPerSubscriberLimit(config->limits.queuedWatchEventsPerSubscriber);
    link_.setReplyTimeout(uint64_t(config->limits.xenstoredTimeoutS) * 1'000'000);
    gate_.setConfig(std::move(config));
}

std::string Service::Version()
{
    return XSD_VERSION;
}

template <class... T>
Answer<T...> Service::answer(sdbus::Result<T...>&& result, const char* method, std::string subject)
{
    const auto* msg = getObject().getCurrentlyProcessedMessage();
    return Answer<T...>(gate_.calls(), msg ? msg->getSender() : std::string(), method,
                        std::move(subject), std::move(result), {},
                        msg && polkit::allowsInteractiveAuthorization(*msg));
}

// --- data methods ------------------------------------------------------------

void Service::Read(sdbus::Result<std::string>&& result, std::string path)
{
    data_.read(answer(std::move(result), "Read", path), path, {});
}

void Service::ReadBytes(sdbus::Result<std::vector<uint8_t>>&& result, std::string path)
{
    data_.readBytes(answer(std::move(result), "ReadBytes", path), path, {});
}

void Service::Write(sdbus::Result<>&& result, std::string path, std::string value)
{
    data_.write(answer(std::move(result), "Write", path), path, value, {});
}

void Service::WriteBytes(sdbus::Result<>&& result, std::string path, std::vector<uint8_t> value)
{
    data_.writeBytes(answer(std::move(result), "WriteBytes", path), path, value, {});
}

void Service::Exists(sdbus::Result<bool>&& result, std::string path)
{
    data_.exists(answer(std::move(result), "Exists", path), path, {});
}

void Service::Directory(sdbus::Result<std::vector<std::string>>&& result, std::string path)
{
    data_.directory(answer(std::move(result), "Directory", path), path, {});
}

void Service::Mkdir(sdbus::Result<>&& result, std::string path)
{
    data_.mkdir(answer(std::move(result), "Mkdir", path), path, {});
}

void Service::Remove(sdbus::Result<>&& result, std::string path)
{
    data_.remove(answer(std::move(result), "Remove", path), path, {});
}

void Service::GetPermissions(sdbus::Result<std::vector<std::string>>&& result, std::string path)
{
    data_.getPermissions(answer(std::move(result), "GetPermissions", path), path, {});
}

void Service::SetPermissions(sdbus::Result<>&& result, std::string path,
                             std::vector<std::string> perms)
{
    data_.setPermissions(answer(std::move(result), "SetPermissions", path), path, perms, {});
}

// --- watches -------------------------------------------------------------

void Service::Watch(sdbus::Result<>&& result, std::string path, std::string token)
{
    auto a = answer(std::move(result), "Watch", path);
    if (auto v = xs::checkWatchPath(path))
        return a.fail(errors::InvalidArgument, a.what() + ": " + *v);
    // The token never reaches xenstored, but it is held to what xenstored
    // would accept, so a program moved from libxenstore finds the same rule.
    if (auto v = xs::checkPayloadSize(path.size() + 1 + token.size() + 1))
        return a.fail(errors::InvalidArgument, a.what() + ": path and token together: " + *v);
    gate_.admit(a, Access::Watch, path, [this, a, path, token](xs::Client& client) {
        const unsigned max = gate_.config().limits.watchesPerCaller;
        // Watches still being placed count too: a caller that sends many
        // Watch calls at once must not get past its limit.
        if (watches_.subscriptionsOf(a.sender()) + watchesStarting_.of(a.sender()) >= max)
            return a.fail(errors::LimitExceeded, a.what() + ": the caller already holds " +
                                                     std::to_string(max) +
                                                     " watches (watches_per_caller)");
        const unsigned maxAll = gate_.config().limits.watchesTotal;
        if (watches_.subscriptionCount() + watchesStarting_.total() >= maxAll)
            return a.fail(errors::LimitExceeded,
                          a.what() + ": the daemon already holds " + std::to_string(maxAll) +
                              " watches for all callers together (watches_total)");
        watchesStarting_.add(a.sender());
        watches_.subscribe(&client, a.sender(), path, token,
                           [this, a, path, token](const std::optional<xs::Error>& error) {
                               watchesStarting_.done(a.sender());
                               if (error)
                                   return a.fail(*error);
                               if (!gate_.caller(a.sender())) {
                                   // It left the bus meanwhile.
                                   watches_.unsubscribe(link_.client(), a.sender(), path, token,
                                                        [](bool) {});
                                   return;
                               }
                               a.ok();
                               changed();
                           });
    });
}

void Service::Unwatch(sdbus::Result<>&& result, std::string path, std::string token)
{
    auto a = answer(std::move(result), "Unwatch", path);
    if (auto v = xs::checkWatchPath(path))
        return a.fail(errors::InvalidArgument, a.what() + ": " + *v);
    // Only the caller's own subscription can go: always allowed.
    gate_.admitOwn(a, [this, a, path, token](xs::Client* client) {
        watches_.unsubscribe(client, a.sender(), path, token, [this, a, token](bool found) {
            if (!found)
                return a.fail(errors::nameForErrno("ENOENT"), a.what() +
                                                                  ": the caller is not watching "
                                                                  "it with token '" +
                                                                  token + "'");
            a.ok();
            changed();
        });
    });
}

void Service::deliverWatchEvent(const std::string& subscriber, const std::string& path,
                                const std::string& token)
{
    if (subscriber == WatchMultiplexer::Own)
        return domains_.onSpecialWatchEvent(path);
    // Events are filtered by the subscriber's rules at delivery: a watch on
    // /a also reports /a/secret, which a rule may withhold.
    const Caller* who = gate_.caller(subscriber);
    if (!who || !gate_.allows(subscriber, *who, Access::Watch, path))
        return;
    outbox_.send(subscriber, path, token);
}

std::optional<std::string> Service::emitWatchEvent(const std::string& subscriber,
                                                   const std::string& path, const std::string& token)
{
    try {
        auto signal = getObject().createSignal(INTERFACE_NAME, "WatchEvent");
        signal << path << token;
        // Unicast: only the subscriber gets it, never a broadcast.
        signal.setDestination(subscriber);
        getObject().emitSignal(signal);
    } catch (const sdbus::Error& e) {
        return e.getMessage();
    }
    return std::nullopt;
}

bool Service::busWriting()
{
    try {
        return (bus_.getEventLoopPollData().events & POLLOUT) != 0;
    } catch (const sdbus::Error&) {
        return false;  // a broken bus takes nothing: the sends will say so
    }
}

// --- transactions and snapshots ---------------------------------------------

void Service::StartTransaction(sdbus::Result<sdbus::ObjectPath>&& result)
{
    auto a = answer(std::move(result), "StartTransaction");
    gate_.admit(a, Access::Read, {}, [this, a](xs::Client& client) { transactions_.start(client, a); });
}

void Service::Snapshot(sdbus::Result<std::string>&& result, std::string path)
{
    auto a = answer(std::move(result), "Snapshot", path);
    if (auto v = xs::checkPath(path))
        return a.fail(errors::InvalidArgument, a.what() + ": " + *v);
    gate_.admit(a, Access::Read, path, [this, a, path](xs::Client&) {
        snapshots_.take(a.sender(), path, [this, a](const xs::Result<std::string>& json) {
            json ? a.ok(json.value()) : a.fail(json.error());
            memory_.afterBurst();
        });
    });
}

// --- atomic calls: a transaction of their own, run and retried here ------------

void Service::ReadMany(sdbus::Result<std::map<std::string, std::string>>&& result,
                       std::vector<std::string> paths)
{
    atomic_.readMany(answer(std::move(result), "ReadMany", describePaths(paths)), paths, {});
}

void Service::ReadManyBytes(sdbus::Result<std::map<std::string, std::vector<uint8_t>>>&& result,
                            std::vector<std::string> paths)
{
    atomic_.readManyBytes(answer(std::move(result), "ReadManyBytes", describePaths(paths)), paths, {});
}

void Service::WriteMany(sdbus::Result<>&& result, std::map<std::string, std::string> values)
{
    atomic_.writeMany(answer(std::move(result), "WriteMany", describePaths(values)), values, {});
}

void Service::WriteManyBytes(sdbus::Result<>&& result,
                             std::map<std::string, std::vector<uint8_t>> values)
{
    atomic_.writeManyBytes(answer(std::move(result), "WriteManyBytes", describePaths(values)), values, {});
}

void Service::RemoveMany(sdbus::Result<>&& result, std::vector<std::string> paths)
{
    atomic_.removeMany(answer(std::move(result), "RemoveMany", describePaths(paths)), paths, {});
}

void Service::CompareAndWrite(sdbus::Result<bool, std::string>&& result, std::string path,
                              std::string expected, std::string value)
{
    atomic_.compareAndWrite(answer(std::move(result), "CompareAndWrite", path), path, expected, value, {});
}

void Service::WriteIfAbsent(sdbus::Result<bool, std::string>&& result, std::string path,
                            std::string value)
{
    atomic_.writeIfAbsent(answer(std::move(result), "WriteIfAbsent", path), path, value, {});
}

// --- domains ---------------------------------------------------------------

void Service::GetDomainPath(sdbus::Result<std::string>&& result, uint32_t domid)
{
    domains_.getDomainPath(answer(std::move(result), "GetDomainPath", std::to_string(domid)), domid);
}

void Service::IsDomainIntroduced(sdbus::Result<bool>&& result, uint32_t domid)
{
    domains_.isDomainIntroduced(answer(std::move(result), "IsDomainIntroduced", std::to_string(domid)),
                                domid);
}

void Service::IntroduceDomain(sdbus::Result<>&& result, uint32_t domid, uint64_t mfn, uint32_t port)
{
    domains_.introduce(answer(std::move(result), "IntroduceDomain", std::to_string(domid)), domid,
                       mfn, port);
}

void Service::ReleaseDomain(sdbus::Result<>&& result, uint32_t domid)
{
    domains_.release(answer(std::move(result), "ReleaseDomain", std::to_string(domid)), domid);
}

void Service::ResumeDomain(sdbus::Result<>&& result, uint32_t domid)
{
    domains_.resume(answer(std::move(result), "ResumeDomain", std::to_string(domid)), domid);
}

void Service::SetTarget(sdbus::Result<>&& result, uint32_t domid, uint32_t target)
{
    domains_.setTarget(answer(std::move(result), "SetTarget", std::to_string(domid)), domid, target);
}

void Service::WatchDomains(sdbus::Result<>&& result)
{
    domains_.watch(answer(std::move(result), "WatchDomains"));
}

void Service::UnwatchDomains(sdbus::Result<>&& result)
{
    domains_.unwatch(answer(std::move(result), "UnwatchDomains"));
}

void Service::ListDomains(sdbus::Result<std::vector<uint32_t>>&& result)
{
    domains_.list(answer(std::move(result), "ListDomains"));
}

void Service::emitDomainSignal(const std::string& subscriber, const char* member, uint32_t domid)
{
    try {
        auto signal = getObject().createSignal(INTERFACE_NAME, member);
        signal << domid;
        signal.setDestination(subscriber);  // unicast, as WatchEvent
        getObject().emitSignal(signal);
    } catch (const sdbus::Error& e) {
        log::warning("cannot send ", member, "(", domid, ") to ", subscriber, ": ", e.getMessage());
    }
}

// --- lifecycle -------------------------------------------------------------

void Service::callerLeft(const std::string& name)
{
    // The transactions it owned report their own end (onOpenCountChanged).
    bool held = watches_.subscriptionsOf(name) > 0;
    watches_.dropSubscriber(link_.client(), name);
    transactions_.ownerLeft(name);
    domains_.callerLeft(name);
    snapshots_.forget(name);
    outbox_.forget(name);
    gate_.forget(name);
    callers_.forget(name);
    gate_.calls()->forget(name);
    if (held)
        changed();
}

void Service::onConnected()
{
    auto* client = link_.client();
    if (link_.backend().kind == xs::Backend::Kind::XenBus) {
        // A guest's relative paths live under its own domain's path; ask
        // which domain we are, as xenstored resolves relative paths.
        client->read("domid", xs::NoTransaction, [this](xs::Result<std::string> r) {
            if (r && !r.value().empty() &&
                r.value().find_first_not_of("0123456789") == std::string::npos)
                gate_.setDomainPath("/local/domain/" + r.value());
            else
                log::warning("cannot tell this domain's id (reading 'domid' failed); relative "
                             "paths are checked against ", gate_.domainPath());
        });
    }
    watches_.onConnected(*client);
    domains_.onConnected(*client);
    // Backend too: "auto" may have found another way to xenstored this time.
    getObject().emitPropertiesChangedSignal(INTERFACE_NAME, {"Connected", "Backend"});
    changed();
}

void Service::onDisconnected(const std::string& reason)
{
    watches_.onDisconnected();
    transactions_.onDisconnected(reason);
    getObject().emitPropertiesChangedSignal(INTERFACE_NAME, {"Connected"});
    changed();
}

void Service::changed()
{
    if (stateChanged_)
        stateChanged_();
}

void Service::shutdown(std::function<void()> done)
{
    auto* client = link_.client();
    transactions_.abortAll();
    watches_.releaseAll(client);
    if (!client)
        return done();
    shutdownDone_ = std::move(done);
    // xenstored answers a connection's requests in order: its answer to one
    // more, harmless request means it has taken the aborts and unwatches
    // sent before it...
    client->read("/", xs::NoTransaction, [this](xs::Result<std::string>) { finishShutdown(); });
    client->flushQueued();
    // ...unless it does not answer within a second.
    auto onTimeout = [](sd_event_source*, uint64_t, void* self) -> int {
        static_cast<Service*>(self)->finishShutdown();
        return 0;
    };
    if (sd_event_add_time_relative(loop_, &shutdownTimer_, CLOCK_MONOTONIC, 1'000'000, 0, onTimeout,
                                   this) < 0)
        finishShutdown();
}

void Service::finishShutdown()
{
    auto done = std::move(shutdownDone_);
    shutdownDone_ = nullptr;
    if (done)
        done();
}

}  // namespace xsd
