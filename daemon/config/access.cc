#include "daemon/config/access.h"

#include <algorithm>

#include "protocol/validate.h"

namespace xsd {

namespace {

bool matches(const Rule& rule, const Caller& caller)
{
    switch (rule.subject) {
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

}  // namespace

bool covers(std::string_view prefix, std::string_view path)
{
    if (prefix == "@")
        return xs::pathKind(path) == xs::PathKind::Special;
    if (prefix == "/")
        return xs::pathKind(path) == xs::PathKind::Absolute;
    if (!path.starts_with(prefix))
        return false;
    // Whole components only: "/pub" must not hand out "/pubx".
    return path.size() == prefix.size() || path[prefix.size()] == '/';
}

bool allowed(const Config& config, const Caller& caller, Access kind, std::string_view path)
{
    if (path.empty() || xs::pathKind(path) == xs::PathKind::Relative)
        return false;
    for (const Rule& rule : config.rules) {
        if (!(rule.allow & static_cast<unsigned>(kind)) || !matches(rule, caller))
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
