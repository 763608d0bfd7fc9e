// org.xenproject.XenStore1 at /org/xenproject/XenStore1: the daemon's whole
// state in one context object, one short function per method.
//
// Every method is asynchronous: it checks its arguments, passes the Gate
// (identity, access rules, limits, connection), sends its XenStore request
// and returns; the answer goes out when xenstored replies. So any number of
// callers' requests are in flight on the one connection at once.
#pragma once

#include <systemd/sd-event.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "daemon/answer.h"
#include "daemon/atomic_calls.h"
#include "daemon/data_methods.h"
#include "daemon/domains.h"
#include "daemon/gate.h"
#include "daemon/memory_release.h"
#include "daemon/pending_per_caller.h"
#include "daemon/snapshot.h"
#include "daemon/transactions.h"
#include "daemon/peer_pings.h"
#include "daemon/watch_event_outbox.h"
#include "daemon/watches.h"
#include "daemon/xenstore_link.h"
#include "dbus/callers.h"
#include "dbus/org.xenproject.XenStore1.adaptor.h"
#include "dbus/string_argument_check.h"

namespace xsd {

inline constexpr const char* BusName = "org.xenproject.XenStore1";
inline constexpr const char* ObjectPath = "/org/xenproject/XenStore1";

class Service final : public sdbus::AdaptorInterfaces<org::xenproject::XenStore1_adaptor> {
public:
    // `xenstore`: auto | unix:PATH | xenbus:PATH (see XenStoreLink).
    Service(sd_event* loop, sdbus::IConnection& bus, std::string xenstore);
    ~Service();

    // Starts connecting to xenstored (and keeps reconnecting).
    void start();
    // Stopping: aborts open transactions and removes the upstream watches;
    // `done` runs once xenstored has the requests (or cannot get them).
    void shutdown(std::function<void()> done);

    // The access rules and limits; a reload replaces them for every later
    // call and event.
    void setConfig(std::shared_ptr<const Config> config);
    // Runs whenever something STATUS= reports changed.
    void onStateChanged(std::function<void()> f) { stateChanged_ = std::move(f); }

    // Sends the XenStore requests queued so far now, in one write.
    void flushXenStore()
    {
        if (auto* c = link_.client())
            c->flushQueued();
    }

    bool connected() const { return link_.connected(); }
    const xs::Backend& backend() const { return link_.backend(); }
    size_t watchCount() const { return watches_.watchCount(); }
    size_t subscriptionCount() const { return watches_.subscriptionCount(); }
    size_t transactionCount() const { return transactions_.openCount(); }

private:
    // org.xenproject.XenStore1
    void Read(sdbus::Result<std::string>&& result, std::string path) override;
    void ReadBytes(sdbus::Result<std::vector<uint8_t>>&& result, std::string path) override;
    void Write(sdbus::Result<>&& result, std::string path, std::string value) override;
    void WriteBytes(sdbus::Result<>&& result, std::string path, std::vector<uint8_t> value) override;
    void Exists(sdbus::Result<bool>&& result, std::string path) override;
    void Directory(sdbus::Result<std::vector<std::string>>&& result, std::string path) override;
    void Mkdir(sdbus::Result<>&& result, std::string path) override;
    void Remove(sdbus::Result<>&& result, std::string path) override;
    void GetPermissions(sdbus::Result<std::vector<std::string>>&& result, std::string path) override;
    void SetPermissions(sdbus::Result<>&& result, std::string path,
                        std::vector<std::string> perms) override;
    void Watch(sdbus::Result<>&& result, std::string path, std::string token) override;
    void Unwatch(sdbus::Result<>&& result, std::string path, std::string token) override;
    void StartTransaction(sdbus::Result<sdbus::ObjectPath>&& result) override;
    void Snapshot(sdbus::Result<std::string>&& result, std::string path) override;
    void ReadMany(sdbus::Result<std::map<std::string, std::string>>&& result,
                  std::vector<std::string> paths) override;
    void ReadManyBytes(sdbus::Result<std::map<std::string, std::vector<uint8_t>>>&& result,
                       std::vector<std::string> paths) override;
    void WriteMany(sdbus::Result<>&& result, std::map<std::string, std::string> values) override;
    void WriteManyBytes(sdbus::Result<>&& result,
                        std::map<std::string, std::vector<uint8_t>> values) override;
    void RemoveMany(sdbus::Result<>&& result, std::vector<std::string> paths) override;
    void CompareAndWrite(sdbus::Result<bool, std::string>&& result, std::string path,
                         std::string expected, std::string value) override;
    void WriteIfAbsent(sdbus::Result<bool, std::string>&& result, std::string path,
                       std::string value) override;
    void GetDomainPath(sdbus::Result<std::string>&& result, uint32_t domid) override;
    void IsDomainIntroduced(sdbus::Result<bool>&& result, uint32_t domid) override;
    void IntroduceDomain(sdbus::Result<>&& result, uint32_t domid, uint64_t mfn,
                         uint32_t port) override;
    void ReleaseDomain(sdbus::Result<>&& result, uint32_t domid) override;
    void ResumeDomain(sdbus::Result<>&& result, uint32_t domid) override;
    void SetTarget(sdbus::Result<>&& result, uint32_t domid, uint32_t target) override;
    void WatchDomains(sdbus::Result<>&& result) override;
    void UnwatchDomains(sdbus::Result<>&& result) override;
    void ListDomains(sdbus::Result<std::vector<uint32_t>>&& result) override;

    bool Connected() override { return link_.connected(); }
    std::string Backend() override { return link_.backend().describe(); }
    uint32_t WatchCount() override { return static_cast<uint32_t>(watches_.watchCount()); }
    uint32_t SubscriptionCount() override
    {
        return static_cast<uint32_t>(watches_.subscriptionCount());
    }
    uint32_t TransactionCount() override
    {
        return static_cast<uint32_t>(transactions_.openCount());
    }
    std::string Version() override;

    template <class... T>
    Answer<T...> answer(sdbus::Result<T...>&& result, const char* method, std::string subject = {});

    void deliverWatchEvent(const std::string& subscriber, const std::string& path,
                           const std::string& token);
    // nullopt when sd-bus took it; else why not.
    std::optional<std::string> emitWatchEvent(const std::string& subscriber,
                                              const std::string& path, const std::string& token);
    // Whether sd-bus still has messages to write out.
    bool busWriting();
    // DomainIntroduced or DomainReleased, to one subscriber.
    void emitDomainSignal(const std::string& subscriber, const char* member, uint32_t domid);
    void callerLeft(const std::string& name);
    void onConnected();
    void onDisconnected(const std::string& reason);
    void changed();
    void finishShutdown();

    sd_event* loop_;
    sdbus::IConnection& bus_;
    std::unique_ptr<sdbus::IProxy> busDaemon_;  // org.freedesktop.DBus
    StringArgumentCheck stringArguments_;
    CallerRegistry callers_;
    XenStoreLink link_;
    polkit::Authority polkit_;
    Gate gate_;
    DataMethods data_;
    AtomicCalls atomic_;
    WatchMultiplexer watches_;
    // Watch calls admitted but not yet subscribed (XenStore still placing
    // the watch), per caller: they count against watches_per_caller too.
    PendingPerCaller watchesStarting_;
    // Whether a subscriber reads what it is sent (for the outbox).
    PeerPings pings_;
    WatchEventOutbox outbox_;
    Domains domains_;
    TransactionRegistry transactions_;
    SnapshotQueue snapshots_;
    MemoryRelease memory_;  // after each Snapshot: what the walk took goes back
    std::function<void()> stateChanged_;
    std::function<void()> shutdownDone_;
    sd_event_source* shutdownTimer_ = nullptr;
};

}  // namespace xsd
