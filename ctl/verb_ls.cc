// xenstore-ls: the tree below PATH (default "/"), one node per line, as
// xenstore-ls prints it. Like xenstore-ls it walks with plain calls, no
// transaction, and prints as it goes.
#include <unistd.h>

#include <cstdio>

#include "ctl/json_value.h"
#include "ctl/output.h"
#include "ctl/tree.h"
#include "ctl/verbs.h"

namespace xsd::ctl {

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
        walkTree(store, path, withPerms, [&](const LsNode& node) {
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
        });
    }
    if (inv.json)
        printJson(entries);
    return ExitSuccess;
}

}  // namespace xsd::ctl
