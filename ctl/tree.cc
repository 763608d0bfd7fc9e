#include "ctl/tree.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <climits>

#include "ctl/escape.h"

namespace xsd::ctl {

namespace {

// strlen(" = \"...\""): xenstore-ls keeps room for it when cutting a name.
constexpr long TagLength = 8;

constexpr const char* NoEntry = "org.xenproject.XenStore1.Error.NoEntry";

// printf("%.*s", precision, s): a negative precision means no limit.
std::string_view upTo(std::string_view s, long precision)
{
    if (precision < 0)
        return s;
    return s.substr(0, std::min<size_t>(s.size(), static_cast<size_t>(precision)));
}

}  // namespace

LsLayout LsLayout::forOutput(bool fullPaths, bool perms, int fd)
{
    LsLayout layout;
    layout.perms = perms;
    if (fullPaths) {
        layout.fullPaths = true;
        layout.maxWidth = INT_MAX / 2;
        layout.desiredWidth = 0;
    }
    winsize ws{};
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0)
        layout.maxWidth = ws.ws_col - 2;
    return layout;
}

std::string childPath(std::string_view parent, std::string_view name)
{
    std::string out(parent);
    if (out.empty() || out.back() != '/')
        out += '/';
    out += name;
    return out;
}

bool toParent(std::string& path)
{
    auto slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0)
        return false;
    path.resize(slash);
    return true;
}

std::string lsLine(const LsLayout& layout, int depth, std::string_view name,
                   std::string_view fullPath, const std::optional<std::string>& value)
{
    // `width` is xenstore-ls's linewid: the columns it believes it used. With
    // -f it does not count the path, which is why -f lines are cut later.
    std::string out;
    long width = 0;
    if (layout.fullPaths) {
        out += fullPath;
    } else {
        out.append(static_cast<size_t>(std::max(depth, 0)), ' ');
        width = depth;
        auto shown = upTo(name, layout.maxWidth - TagLength - width);
        out += shown;
        width += static_cast<long>(shown.size());
    }
    if (!value) {
        out += ":\n";
        return out;
    }
    std::string escaped = escapeValue(*value);
    // The test uses the raw length, not the escaped one, as xenstore-ls does;
    // a negative width (a 0- or 1-column terminal) never cuts.
    long rawLength = static_cast<long>(value->size());
    if (layout.maxWidth >= 0 && layout.maxWidth < width + rawLength + TagLength) {
        out += " = \"";
        out += upTo(escaped, layout.maxWidth - TagLength - width);
        out += "\\...\"";
        return out;
    }
    out += " = \"" + escaped + "\"";
    width += static_cast<long>(escaped.size()) + 5;
    if (layout.perms) {
        out += ' ';
        for (++width; width < std::min(layout.desiredWidth, layout.maxWidth); ++width)
            out += (width & 1) ? '.' : ' ';
    }
    return out;
}

std::string lsPermissions(const std::vector<std::string>& perms)
{
    std::string out = "  (";
    for (size_t i = 0; i < perms.size(); ++i) {
        if (i)
            out += ',';
        out += perms[i];
    }
    return out + ")";
}

namespace {

// -p's part of a node: its permissions, or why they could not be read
// (xenstore-ls says so and prints on).
void readPermissions(Store& store, LsNode& node)
{
    try {
        node.perms = store.permissions(node.path);
    } catch (const Failure& f) {
        if (f.status() == ExitUnavailable)
            throw;
        node.permsError = f.what();
    }
}

void walk(Store& store, const std::string& path, int depth, bool withPerms,
          const std::function<void(const LsNode&)>& visit)
{
    std::vector<std::string> names;
    try {
        names = store.directory(path);
    } catch (const Failure& f) {
        // A node that disappears while we recurse is not an error.
        if (depth > 0 && f.errorName() == NoEntry)
            return;
        throw;
    }
    for (const auto& name : names) {
        LsNode node{depth, name, childPath(path, name), std::nullopt, std::nullopt, {}};
        try {
            node.value = store.read(node.path);
        } catch (const Failure& f) {
            if (f.status() == ExitUnavailable)
                throw;
        }
        if (withPerms)
            readPermissions(store, node);
        visit(node);
        walk(store, node.path, depth + 1, withPerms, visit);
    }
}

// The nodes of a snapshot in the order the walk visits them.
void snapshotNodes(const Json& snapshotNode, const std::string& path, int depth,
                   std::vector<LsNode>& out)
{
    auto children = snapshotNode.find("children");
    if (children == snapshotNode.end() || !children->is_object())
        return;
    for (const auto& [name, child] : children->items()) {
        LsNode node{depth, name, childPath(path, name), std::nullopt, std::nullopt, {}};
        if (auto value = child.find("value"); value != child.end())
            node.value = valueBytes(*value);
        // A copy: `out` grows, and moves its nodes, below.
        const std::string childAt = node.path;
        out.push_back(std::move(node));
        snapshotNodes(child, childAt, depth + 1, out);
    }
}

}  // namespace

void walkTree(Store& store, const std::string& path, bool withPerms,
              const std::function<void(const LsNode&)>& visit)
{
    walk(store, path, 0, withPerms, visit);
}

void walkSnapshot(const Json& snapshot, const std::string& path, Store& store, bool withPerms,
                  const std::function<void(const LsNode&)>& visit)
{
    std::vector<LsNode> nodes;
    snapshotNodes(snapshot, path, 0, nodes);
    std::vector<Store::Permissions> perms;
    if (withPerms) {
        std::vector<std::string> paths;
        paths.reserve(nodes.size());
        for (const auto& node : nodes)
            paths.push_back(node.path);
        perms = store.permissionsOfEach(paths);
    }
    for (size_t i = 0; i < nodes.size(); ++i) {
        if (withPerms) {
            if (auto* f = std::get_if<Failure>(&perms[i])) {
                // As the walk does: no daemon ends it here, after the nodes
                // before; any other failure is said and printed past.
                if (f->status() == ExitUnavailable)
                    throw *f;
                nodes[i].permsError = f->what();
            } else {
                nodes[i].perms = std::move(std::get<std::vector<std::string>>(perms[i]));
            }
        }
        visit(nodes[i]);
    }
}

}  // namespace xsd::ctl
