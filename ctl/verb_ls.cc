// xenstore-ls: the tree below PATH (default "/"), one node per line, as
// xenstore-ls prints it. xenstore-ls asks xenstored for each node's
// children and value in turn; here one Snapshot call brings every name and
// value of the subtree (read in one transaction, so they also existed
// together), and -p asks for each node's permissions, with up to 32
// GetPermissions calls in flight rather than one round trip after another.
#include <unistd.h>

#include <cstdio>
#include <optional>

#include "ctl/json_value.h"
#include "ctl/output.h"
#include "ctl/tree.h"
#include "ctl/verbs.h"

namespace xsd::ctl {

namespace {

// The subtree at `path` in one call, or nothing when the daemon cannot give
// it: no such node, a subtree larger than one answer, a value xenstored
// would not let it read. Then the walk with one call per node lists what
// it can, or fails, in xenstore-ls's way and words.
std::optional<Json> snapshotOf(XenStoreProxy& xenstore, const std::string& path)
{
    try {
        return Json::parse(xenstore.Snapshot(path));
    } catch (const sdbus::Error&) {
    } catch (const nlohmann::json::exception&) {
    }
    return std::nullopt;
}

}  // namespace

int runLs(Invocation& inv)
{
    std::vector<std::string> paths = inv.args;
    if (paths.empty())
        paths.push_back("/");
    bool withPerms = inv.has("perms");
    LsLayout layout = LsLayout::forOutput(inv.has("flat"), withPerms, STDOUT_FILENO);
    ProxyStore store(inv.xenstore(), inv.verb);
    Json entries = Json::array();

    for (const auto& path : paths) {
        auto visit = [&](const LsNode& node) {
            if (!node.permsError.empty())
                // As xenstore-ls: say so and go on.
                std::fprintf(stderr, "xenstorectl: %s\n", node.permsError.c_str());
            if (inv.json) {
                Json entry{{"path", node.path}, {"value", node.value ? valueJson(*node.value) : Json()}};
                if (withPerms)
                    entry["perms"] = node.perms ? Json(*node.perms) : Json();
                entries.push_back(std::move(entry));
                return;
            }
            std::string line = lsLine(layout, node.depth, node.name, node.path, node.value);
            if (node.perms)
                line += lsPermissions(*node.perms);
            print(line + "\n");
        };
        if (auto snapshot = snapshotOf(inv.xenstore(), path))
            walkSnapshot(*snapshot, path, store, withPerms, visit);
        else
            walkTree(store, path, withPerms, visit);
    }
    if (inv.json)
        printJson(entries);
    return ExitSuccess;
}

}  // namespace xsd::ctl
