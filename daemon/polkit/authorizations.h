// What polkit has authorized, per caller connection, and asking it for more.
//
// A call that only a rule naming a polkit action could allow is decided by
// polkit: each candidate rule's action is asked in turn (the caller's bus
// name as the subject; the method, the path and the subtree as details;
// interaction only when the call allows it) until one is authorized. A
// "yes" is kept per connection, rule and subtree (the part of the path the
// rule's prefix covers) until the connection leaves the bus or the
// configuration is reloaded, so reading a thousand keys under one rule asks
// polkit once. A "no" is not kept: the next call asks again.
//
// One question per caller at a time: the Gate holds a caller's later calls
// behind one that waits for polkit, so they stay in order.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <sdbus-c++/Error.h>

#include "daemon/config/config.h"
#include "daemon/config/polkit_rules.h"
#include "dbus/caller.h"
#include "dbus/polkit.h"

namespace xsd::polkit {

class Authorizations {
public:
    explicit Authorizations(Authority& authority) : authority_(authority) {}

    // A reload: every kept answer goes; answers still coming are not kept.
    void setConfig(std::shared_ptr<const Config> config);

    // Whether a kept answer lets `sender` go ahead under one of `candidates`.
    bool kept(const std::string& sender, const std::vector<PolkitCandidate>& candidates) const;
    // Whether a kept answer covers `kind` on `path` for `sender` (watch
    // events, checked at delivery).
    bool allows(const std::string& sender, const Caller& who, Access kind,
                std::string_view path) const;

    // The call being decided, as polkit and the caller's message name it.
    struct Call {
        std::string sender;
        uint32_t uid = 0;
        bool interactive = false;  // the message allows interactive authorization
        std::string method;        // "Write"
        Access kind = Access::Read;
        std::string path;          // as checked (absolute or special)
    };
    // nullopt: authorized; else the error to answer with.
    using Decided = std::function<void(const std::optional<sdbus::Error>& denial)>;
    // Asks polkit about `candidates` (not empty) in turn. `decided` runs
    // once, from the event loop — or at once when not even one question
    // could be sent.
    void authorize(Call call, std::vector<PolkitCandidate> candidates, Decided decided);

    // The caller left the bus: its kept answers go, and a question still
    // open for it is withdrawn (`decided` then never runs).
    void forget(const std::string& sender);

    // Connections holding kept answers, and questions open (for tests).
    size_t keptConnections() const { return kept_.size(); }
    size_t openQuestions() const { return asking_.size(); }

    // Subtrees kept per connection at most.
    static constexpr size_t MaxKeptPerConnection = 1024;

private:
    struct Asking;
    void keep(const std::string& sender, const PolkitCandidate& candidate);
    void askNext(const std::shared_ptr<Asking>& asking);
    void finish(const std::shared_ptr<Asking>& asking, const std::optional<sdbus::Error>& denial);
    sdbus::Error denial(const Asking& asking) const;

    Authority& authority_;
    std::shared_ptr<const Config> config_ = std::make_shared<Config>();
    // Per connection: (rule index, subtree) pairs polkit said yes to.
    std::unordered_map<std::string, std::set<std::pair<size_t, std::string>>> kept_;
    // Per connection: the question open for it, to withdraw it.
    std::unordered_map<std::string, uint64_t> asking_;
};

}  // namespace xsd::polkit
