// xenstore-ls: the walk of a subtree and the line it prints per node,
// byte for byte as xenstore-utils 4.17 prints them — including how names
// and values are cut at the terminal's width, and the dotted leader before
// -p's permissions.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/json_value.h"
#include "ctl/store.h"

namespace xsd::ctl {

struct LsLayout {
    // Lines are cut to this width: 80, or the terminal's width less 2 when
    // standard output is a terminal (even with -f, as xenstore-ls does).
    int maxWidth = 80;
    // -p pads a line with ". . ." up to this column.
    int desiredWidth = 60;
    bool fullPaths = false;  // -f: full paths, no indentation, no cutting
    bool perms = false;      // -p

    // As xenstore-ls sets itself up for output on `fd`.
    static LsLayout forOutput(bool fullPaths, bool perms, int fd);
};

// One node's line up to where -p's permissions go (no newline): the
// indented name (or full path), then ` = "value"` with the value escaped
// as xenstore-read does — or ":\n" when the value could not be read.
std::string lsLine(const LsLayout& layout, int depth, std::string_view name,
                   std::string_view fullPath, const std::optional<std::string>& value);

// "  (n0,r5)": what -p appends.
std::string lsPermissions(const std::vector<std::string>& perms);

// A child's full path, as xenstore-ls composes it.
std::string childPath(std::string_view parent, std::string_view name);

// Cuts path at its last '/', making it its parent's path. False, with path
// left as it is, when there is no '/' past the first character: at "/" or
// "/a" (it never goes up to the root), or at a relative path's first
// component.
bool toParent(std::string& path);

struct LsNode {
    int depth;
    std::string name;
    std::string path;
    std::optional<std::string> value;              // nullopt: could not be read
    std::optional<std::vector<std::string>> perms;  // when asked for and readable
    std::string permsError;                        // why they could not be read
};

// Depth first, children in the order Directory gives them, each node before
// its children — as xenstore-ls walks. The top path's own node is not
// visited. A node that vanishes during the walk is skipped; a value or
// permissions that cannot be read are reported in the node (xenstore-ls
// prints on); failures of the top Directory, and an unreachable daemon,
// are Failures.
void walkTree(Store& store, const std::string& path, bool withPerms,
              const std::function<void(const LsNode&)>& visit);

// The same visits from the daemon's Snapshot of `path` (its JSON, parsed
// with keys in order): every name and value came in that one call, in the
// order xenstored lists them; only -p's permissions are asked of `store`,
// one call per node.
void walkSnapshot(const Json& snapshot, const std::string& path, Store& store, bool withPerms,
                  const std::function<void(const LsNode&)>& visit);

}  // namespace xsd::ctl
