// Verbs for what the daemon offers beyond xenstore-utils: a consistent
// snapshot of a subtree, the domain queries, and the daemon's own state.
#include <algorithm>

#include "ctl/cli.h"
#include "ctl/json_value.h"
#include "ctl/output.h"
#include "ctl/verbs.h"

namespace xsd::ctl {

namespace {

uint32_t domid(const Invocation& inv)
{
    const std::string& text = inv.args[0];
    auto id = wholeNumber<uint32_t>(text);
    if (!id)
        throw usageError(inv.verb + ": DOMID must be a domain id (a number), not '" + text + "'");
    return *id;
}

}  // namespace

int runSnapshot(Invocation& inv)
{
    std::string path = inv.args.empty() ? "/" : inv.args[0];
    std::string text = orFailure(inv.context(path), [&] { return inv.xenstore().Snapshot(path); });
    // Pretty-printed whether or not --json was given: it is JSON either way.
    // Keys keep the daemon's order.
    Json snapshot;
    try {
        snapshot = Json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw Failure(ExitFailure, inv.context(path) + ": the daemon sent JSON that does not parse: " + e.what());
    }
    printJson(snapshot);
    return ExitSuccess;
}

int runDomainPath(Invocation& inv)
{
    uint32_t id = domid(inv);
    std::string path =
        orFailure(inv.context(inv.args[0]), [&] { return inv.xenstore().GetDomainPath(id); });
    if (inv.json)
        printJson(Json{{"domid", id}, {"path", path}});
    else
        print(path + "\n");
    return ExitSuccess;
}

int runIntroduced(Invocation& inv)
{
    uint32_t id = domid(inv);
    bool introduced = orFailure(inv.context(inv.args[0]),
                                [&] { return inv.xenstore().IsDomainIntroduced(id); });
    if (inv.json)
        printJson(Json{{"domid", id}, {"introduced", introduced}});
    else if (!inv.has("quiet"))
        print(introduced ? "yes\n" : "no\n");
    return introduced ? ExitSuccess : ExitFailure;
}

namespace {

Json variantJson(const sdbus::Variant& v)
{
    if (v.containsValueOfType<bool>())
        return v.get<bool>();
    if (v.containsValueOfType<uint32_t>())
        return v.get<uint32_t>();
    if (v.containsValueOfType<std::string>())
        return v.get<std::string>();
    return Json();
}

std::string variantText(const sdbus::Variant& v)
{
    if (v.containsValueOfType<bool>())
        return v.get<bool>() ? "yes" : "no";
    if (v.containsValueOfType<uint32_t>())
        return std::to_string(v.get<uint32_t>());
    if (v.containsValueOfType<std::string>())
        return v.get<std::string>();
    return "(" + std::string(v.peekValueType()) + ")";
}

}  // namespace

int runStatus(Invocation& inv)
{
    auto properties = orFailure(inv.context(""), [&] { return inv.xenstore().allProperties(); });
    // The contract's order (API.md), then anything a newer daemon adds.
    std::vector<std::string> order{"Connected", "Backend", "WatchCount", "SubscriptionCount",
                                   "TransactionCount", "Version"};
    for (const auto& [name, value] : properties)
        if (std::find(order.begin(), order.end(), name) == order.end())
            order.push_back(name);
    Json json = Json::object();
    for (const auto& name : order) {
        auto it = properties.find(name);
        if (it == properties.end())
            continue;
        if (inv.json)
            json[name] = variantJson(it->second);
        else
            print(name + ": " + variantText(it->second) + "\n");
    }
    if (inv.json)
        printJson(json);
    return ExitSuccess;
}

}  // namespace xsd::ctl
