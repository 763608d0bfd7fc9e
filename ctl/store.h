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
#include <type_traits>
#include <variant>
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
    // The permissions of each path, or the Failure permissions() would have
    // thrown for it: ls -p asks for every node's.
    using Permissions = std::variant<std::vector<std::string>, Failure>;
    virtual std::vector<Permissions> permissionsOfEach(const std::vector<std::string>& paths)
    {
        std::vector<Permissions> out;
        for (const auto& path : paths) {
            try {
                out.emplace_back(permissions(path));
            } catch (const Failure& f) {
                out.emplace_back(f);
            }
        }
        return out;
    }
    virtual void setPermissions(const std::string& path, const std::vector<std::string>& perms) = 0;

protected:
    const std::string& context() const { return context_; }

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
    std::vector<Permissions> permissionsOfEach(const std::vector<std::string>& paths) override
    {
        if constexpr (!std::is_same_v<Proxy, XenStoreProxy>) {
            return Store::permissionsOfEach(paths);
        } else {
            // Many in flight: within the daemon's 64 calls a caller may have
            // under way (pending_calls_per_caller), with room to spare.
            auto answers = proxy_.permissionsOfEach(paths, 32);
            std::vector<Permissions> out;
            out.reserve(answers.size());
            for (size_t i = 0; i < answers.size(); ++i) {
                if (auto* e = std::get_if<sdbus::Error>(&answers[i]))
                    out.emplace_back(failureFor(context() + " " + paths[i], *e));
                else
                    out.emplace_back(std::move(std::get<std::vector<std::string>>(answers[i])));
            }
            return out;
        }
    }
    void setPermissions(const std::string& path, const std::vector<std::string>& perms) override
    {
        guarded(path, [&] { proxy_.SetPermissions(path, perms); });
    }

private:
    Proxy& proxy_;
};

}  // namespace xsd::ctl
