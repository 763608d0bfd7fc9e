// xenstore-chmod: set a node's permissions; -u also on each ancestor (up to,
// not including, the root), -r also on every descendant. With either flag
// the whole change is one transaction, as xenstore-chmod makes it.
#include <cctype>

#include "ctl/transaction.h"
#include "ctl/tree.h"
#include "ctl/verbs.h"

namespace xsd::ctl {

namespace {

// xenstore-chmod's notation: n (none), r, w, b (both) and a domid; the first
// entry is the owner. xenstore-chmod reads the domid with atoi, so "r" is
// r0 and "rfoo" is silently r0 too; here only digits (or nothing) pass.
std::string permission(const std::string& text)
{
    if (text.empty() || std::string_view("nrwb").find(text[0]) == std::string_view::npos)
        throw usageError("chmod: invalid permission '" + text +
                         "': must be n, r, w or b followed by a domain id (e.g. r5)");
    std::string digits = text.substr(1);
    for (char c : digits)
        if (!std::isdigit(static_cast<unsigned char>(c)))
            throw usageError("chmod: invalid permission '" + text + "': the domain id must be a number");
    size_t first = digits.find_first_not_of('0');
    return text.substr(0, 1) + (first == std::string::npos ? "0" : digits.substr(first));
}

void setRecursively(Store& store, const std::string& path, const std::vector<std::string>& perms)
{
    store.setPermissions(path, perms);
    for (const auto& name : store.directory(path))
        setRecursively(store, childPath(path, name), perms);
}

}  // namespace

int runChmod(Invocation& inv)
{
    const std::string& path = inv.args[0];
    std::vector<std::string> perms;
    for (size_t i = 1; i < inv.args.size(); ++i)
        perms.push_back(permission(inv.args[i]));
    bool upward = inv.has("upto"), recursive = inv.has("recurse");

    auto body = [&](Store& store) {
        if (recursive)
            setRecursively(store, path, perms);
        else
            store.setPermissions(path, perms);
        if (upward) {
            // Each ancestor, nearest first, stopping short of "/" (and, for a
            // relative path, at its first component).
            std::string up = path;
            while (toParent(up))
                store.setPermissions(up, perms);
        }
    };
    perform(inv, upward || recursive, body);
    return ExitSuccess;
}

}  // namespace xsd::ctl
