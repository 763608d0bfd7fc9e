// The data methods, the same whether a verb calls them on the daemon's main
// object or inside a transaction object: the two interfaces share their
// signatures (API.md), and most verbs run one way or the other depending on
// how many paths they were given. Values are bytes (ReadBytes/WriteBytes),
// because XenStore's are; a failed call becomes a Failure that names what
// failed ("CONTEXT PATH: the daemon's message") and carries its exit status.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/bus.h"

namespace xsd::ctl {

class Store {
public:
    explicit Store(std::string context) : context_(std::move(context)) {}
    virtual ~Store() = default;

    // What failures are about, before the path: usually the verb ("read").
    void setContext(std::string context) { context_ = std::move(context); }

    virtual std::string read(const std::string& path) = 0;
    virtual void write(const std::string& path, std::string_view value) = 0;
    virtual bool exists(const std::string& path) = 0;
    virtual std::vector<std::string> directory(const std::string& path) = 0;
    virtual void mkdir(const std::string& path) = 0;
    virtual void remove(const std::string& path) = 0;
    virtual std::vector<std::string> permissions(const std::string& path) = 0;
    virtual void setPermissions(const std::string& path, const std::vector<std::string>& perms) = 0;

protected:
    template <class F>
    auto guarded(const std::string& path, F&& call)
    {
        return orFailure(context_ + " " + path, std::forward<F>(call));
    }

private:
    std::string context_;
};

// The Store over a generated proxy: XenStoreProxy or TransactionProxy.
template <class Proxy>
class ProxyStore final : public Store {
public:
    ProxyStore(Proxy& proxy, std::string context) : Store(std::move(context)), proxy_(proxy) {}

    std::string read(const std::string& path) override
    {
        return guarded(path, [&] {
            auto bytes = proxy_.ReadBytes(path);
            return std::string(bytes.begin(), bytes.end());
        });
    }
    void write(const std::string& path, std::string_view value) override
    {
        guarded(path, [&] { proxy_.WriteBytes(path, std::vector<uint8_t>(value.begin(), value.end())); });
    }
    bool exists(const std::string& path) override
    {
        return guarded(path, [&] { return proxy_.Exists(path); });
    }
    std::vector<std::string> directory(const std::string& path) override
    {
        return guarded(path, [&] { return proxy_.Directory(path); });
    }
    void mkdir(const std::string& path) override
    {
        guarded(path, [&] { proxy_.Mkdir(path); });
    }
    void remove(const std::string& path) override
    {
        guarded(path, [&] { proxy_.Remove(path); });
    }
    std::vector<std::string> permissions(const std::string& path) override
    {
        return guarded(path, [&] { return proxy_.GetPermissions(path); });
    }
    void setPermissions(const std::string& path, const std::vector<std::string>& perms) override
    {
        guarded(path, [&] { proxy_.SetPermissions(path, perms); });
    }

private:
    Proxy& proxy_;
};

}  // namespace xsd::ctl
