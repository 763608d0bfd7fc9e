#include "daemon/config/access.h"

#include <algorithm>

#include "protocol/validate.h"

namespace xsd {

bool matches(const Rule& rule, const Caller& caller)
{
    switch (rule.subject) {
    case Rule::Subject::Anyone:
        return true;
    case Rule::Subject::Uid:
    case Rule::Subject::User:
        return caller.uid == rule.id;
    case Rule::Subject::Gid:
    case Rule::Subject::Group:
        return caller.gid == rule.id ||
               std::find(caller.groups.begin(), caller.groups.end(), rule.id) !=
                   caller.groups.end();
    }
    return false;
}

std::optional<std::string_view> coveredSubtree(std::string_view prefix, std::string_view path)
{
    if (prefix == "@")
        return xs::pathKind(path) == xs::PathKind::Special ? std::optional(prefix) : std::nullopt;
    if (prefix == "/")
        return xs::pathKind(path) == xs::PathKind::Absolute ? std::optional(prefix) : std::nullopt;
    if (prefix.find('*') == std::string_view::npos) {
        // Whole components only: "/pub" must not hand out "/pubx".
        if (path.starts_with(prefix) && (path.size() == prefix.size() || path[prefix.size()] == '/'))
            return path.substr(0, prefix.size());
        return std::nullopt;
    }
    // Component by component; "*" takes any one.
    size_t p = 0, q = 0;
    while (p < prefix.size()) {
        if (q >= path.size() || path[q] != '/')
            return std::nullopt;
        const size_t pEnd = std::min(prefix.find('/', p + 1), prefix.size());
        const size_t qEnd = std::min(path.find('/', q + 1), path.size());
        const auto want = prefix.substr(p + 1, pEnd - p - 1);
        const auto have = path.substr(q + 1, qEnd - q - 1);
        if (have.empty() || (want != "*" && want != have))
            return std::nullopt;
        p = pEnd;
        q = qEnd;
    }
    return path.substr(0, q);
}

bool covers(std::string_view prefix, std::string_view path)
{
    return coveredSubtree(prefix, path).has_value();
}

bool allowed(const Config& config, const Caller& caller, Access kind, std::string_view path)
{
    if (path.empty() || xs::pathKind(path) == xs::PathKind::Relative)
        return false;
    for (const Rule& rule : config.rules) {
        // A polkit rule allows nothing by itself: polkit decides (daemon/polkit).
        if (!(rule.allow & static_cast<unsigned>(kind)) || !rule.polkit.empty() ||
            !matches(rule, caller))
            continue;
        for (const std::string& prefix : rule.prefixes)
            if (covers(prefix, path))
                return true;
    }
    return false;
}

bool hasAnyRule(const Config& config, const Caller& caller)
{
    return std::any_of(config.rules.begin(), config.rules.end(),
                       [&](const Rule& rule) { return matches(rule, caller); });
}

std::optional<std::string> accessDenial(const Config& config, const Caller& caller, Access kind,
                                        const std::string* path)
{
    if (!path) {
        if (hasAnyRule(config, caller))
            return std::nullopt;
        return "uid " + std::to_string(caller.uid) + " may not use XenStore: no access rule in " +
               config.source + " names it";
    }
    if (allowed(config, caller, kind, *path))
        return std::nullopt;
    return describeDenial(caller, kind, *path);
}

std::string domainAccessPath(uint32_t domid)
{
    return "/local/domain/" + std::to_string(domid);
}

std::string describeDenial(const Caller& caller, Access kind, std::string_view path)
{
    std::string verb = kind == Access::Admin ? "administer" : std::string(accessName(kind));
    return "uid " + std::to_string(caller.uid) + " may not " + verb + " " + std::string(path);
}

}  // namespace xsd
