// The rules that defer to polkit: which of them could allow a call, and on
// which subtree polkit's answer then holds. The asking is daemon/polkit/'s;
// this is only what the configuration says.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/config.h"
#include "dbus/caller.h"

namespace xsd {

// The actions this project installs (org.xenproject.XenStore1.policy), one
// per kind of access: "org.xenproject.xenstore1.read", ….
std::string polkitActionFor(Access kind);

// Why `id` cannot be a polkit action, or nothing. polkit(8): only
// [A-Za-z0-9.-], and namespaced (so at least one dot, none at either end).
std::optional<std::string> checkPolkitAction(std::string_view id);

// A rule that could allow a call once polkit authorizes its action: the
// rule (its index in Config::rules) and the subtree of the call's path that
// its prefix covers, which polkit's answer is kept for.
struct PolkitCandidate {
    size_t rule;
    std::string subtree;
    bool operator==(const PolkitCandidate&) const = default;
};

// The rules naming a polkit action that match `caller`, grant `kind` and
// cover `path`, in the configuration's order; a rule covering the path with
// several prefixes counts once, with its first.
std::vector<PolkitCandidate> polkitCandidates(const Config& config, const Caller& caller,
                                              Access kind, std::string_view path);

}  // namespace xsd
