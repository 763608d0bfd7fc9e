// Reaching the daemon: which bus (the system bus by default, the user's
// session bus, or any address), the proxies generated from the interface
// XML, and what a D-Bus error means for xenstorectl's exit status.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "ctl/failure.h"
#include "dbus/org.xenproject.XenStore1.Transaction.proxy.h"
#include "dbus/org.xenproject.XenStore1.proxy.h"

namespace xsd::ctl {

inline constexpr const char* BusName = "org.xenproject.XenStore1";
inline constexpr const char* ObjectPath = "/org/xenproject/XenStore1";

struct BusChoice {
    enum class Kind { System, User, Address };
    Kind kind = Kind::System;
    std::string address;  // Kind::Address only
};

// The connection, or a Failure with exit status 69 when the bus cannot be
// reached.
std::unique_ptr<sdbus::IConnection> connect(const BusChoice& bus);

// The daemon's main object. The connection is not driven by a thread of its
// own: calls block, and only `watch` runs a loop (and so receives signals).
class XenStoreProxy final
    : public sdbus::ProxyInterfaces<org::xenproject::XenStore1_proxy> {
public:
    explicit XenStoreProxy(sdbus::IConnection& connection);
    ~XenStoreProxy();

    // org.freedesktop.DBus.Properties.GetAll for the main interface: one
    // call for all of `status`.
    std::map<std::string, sdbus::Variant> allProperties();

    // Called for each WatchEvent sent by `daemon`, the unique name that owns
    // org.xenproject.XenStore1: anyone may send this client a signal that
    // claims to be a WatchEvent, so events from other senders (and all
    // events while `daemon` is empty) are not believed.
    std::function<void(const std::string& path, const std::string& token)> onEvent;
    std::string daemon;

    // The unique name that owns org.xenproject.XenStore1 now.
    std::string owner();

    // GetPermissions of each of `paths`, up to `window` calls in flight at
    // once rather than a round trip each; the answers in the order asked,
    // each the permissions or the call's error.
    using PermissionsAnswer = std::variant<std::vector<std::string>, sdbus::Error>;
    std::vector<PermissionsAnswer> permissionsOfEach(const std::vector<std::string>& paths,
                                                     size_t window);

private:
    void onWatchEvent(const std::string& path, const std::string& token) override;
    // No verb subscribes to domains (WatchDomains), so none are sent here.
    void onDomainIntroduced(const uint32_t&) override {}
    void onDomainReleased(const uint32_t&) override {}
};

// One open transaction object, as StartTransaction returned it.
class TransactionProxy final
    : public sdbus::ProxyInterfaces<org::xenproject::XenStore1::Transaction_proxy> {
public:
    TransactionProxy(sdbus::IConnection& connection, const std::string& objectPath);
    ~TransactionProxy();
};

// The exit status for a failed call: 1 for no such path and most errors,
// 77 for any refusal, 69 when the daemon (or the bus) is not there.
int exitStatusFor(const sdbus::Error& error);

// "CONTEXT: message", the daemon's own message when it sent one; for errors
// of the bus itself, a sentence that says the daemon could not be reached.
Failure failureFor(const std::string& context, const sdbus::Error& error);

// Makes a call to the daemon; its D-Bus error becomes that Failure.
template <class F>
auto orFailure(const std::string& context, F&& call) -> decltype(call())
{
    try {
        return call();
    } catch (const sdbus::Error& e) {
        throw failureFor(context, e);
    }
}

}  // namespace xsd::ctl
