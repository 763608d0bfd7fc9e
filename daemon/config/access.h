// Who may do what: the decision the daemon takes for every call, and for
// every watch event before it is delivered, from the caller's identity as
// the bus reports it and the configuration's rules. XenStore's own
// permissions are per domain and cannot tell one dom0 user from another;
// this is what can.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/config/config.h"
#include "dbus/caller.h"

namespace xsd {

// True when some rule that matches the caller (by uid, or by primary or
// supplementary gid) and names no polkit action grants `kind` on a prefix of
// `path`. Prefixes are whole components: "/a" covers "/a" and "/a/b" but
// not "/ab"; a component "*" stands for any one component
// ("/local/domain/*/data" covers "/local/domain/5/data/x"); "/" covers every
// absolute path; "@" covers the special paths @introduceDomain and
// @releaseDomain. `path` must be absolute or special: a relative path is
// denied, so the daemon resolves it against its own domain path first.
bool allowed(const Config& config, const Caller& caller, Access kind, std::string_view path);

// Whether `rule` names `caller` (a rule that names only a polkit action
// names everyone).
bool matches(const Rule& rule, const Caller& caller);

// Whether `prefix` (as a rule writes it) covers `path`.
bool covers(std::string_view prefix, std::string_view path);
// The part of `path` that `prefix` covers ("/local/domain/*/data" of
// "/local/domain/5/data/x" is "/local/domain/5/data"), or nothing.
std::optional<std::string_view> coveredSubtree(std::string_view prefix, std::string_view path);

// The path the domain methods are checked on: the domain's home,
// "/local/domain/<domid>". So `read` on "/local/domain" lets a caller ask
// GetDomainPath and IsDomainIntroduced of any domain, and `admin` on
// "/local/domain/5" lets it introduce, release, resume or retarget domain 5
// and no other.
std::string domainAccessPath(uint32_t domid);

// Whether any rule names the caller at all, whatever it grants: what a call
// that touches no path yet (StartTransaction) can be checked against, so that
// a caller the configuration does not mention is refused everything. A rule
// that names only a polkit action names everyone: each call inside the
// transaction still asks polkit.
bool hasAnyRule(const Config& config, const Caller& caller);

// The whole check as the daemon's gate asks it: nothing when allowed, else
// the AccessDenied message. A null `path` asks hasAnyRule().
std::optional<std::string> accessDenial(const Config& config, const Caller& caller, Access kind,
                                        const std::string* path);

// The message of an Error.AccessDenied, e.g. "uid 65534 may not write
// /local/domain/0/name".
std::string describeDenial(const Caller& caller, Access kind, std::string_view path);

}  // namespace xsd
