#include "daemon/config/polkit_rules.h"

#include "daemon/config/access.h"
#include "protocol/validate.h"

namespace xsd {

std::string polkitActionFor(Access kind)
{
    return "org.xenproject.xenstore1." + std::string(accessName(kind));
}

std::optional<std::string> checkPolkitAction(std::string_view id)
{
    if (id.empty())
        return "it is empty";
    if (id.size() > 255)
        return "longer than 255 characters";
    for (unsigned char c : id)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-'))
            return "only letters, digits, '.' and '-' may appear in one";
    if (id.find('.') == std::string_view::npos || id.front() == '.' || id.back() == '.' ||
        id.find("..") != std::string_view::npos)
        return "an action is namespaced, like org.xenproject.xenstore1.write";
    return std::nullopt;
}

std::vector<PolkitCandidate> polkitCandidates(const Config& config, const Caller& caller,
                                              Access kind, std::string_view path)
{
    std::vector<PolkitCandidate> out;
    if (path.empty() || xs::pathKind(path) == xs::PathKind::Relative)
        return out;
    for (size_t i = 0; i < config.rules.size(); ++i) {
        const Rule& rule = config.rules[i];
        if (rule.polkit.empty() || !(rule.allow & static_cast<unsigned>(kind)) ||
            !matches(rule, caller))
            continue;
        for (const std::string& prefix : rule.prefixes)
            if (auto subtree = coveredSubtree(prefix, path)) {
                out.push_back({i, std::string(*subtree)});
                break;
            }
    }
    return out;
}

}  // namespace xsd
