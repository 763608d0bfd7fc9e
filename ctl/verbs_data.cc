// The verbs that mirror xenstore-read, -write, -exists, -list and -rm (and
// mkdir, which xenstore-utils lacks). Like those tools, a verb given
// several paths does its work in one transaction — all or nothing, and the
// reads from one consistent state — and a verb given one path makes one
// plain call.
#include <utility>

#include "ctl/escape.h"
#include "ctl/json_value.h"
#include "ctl/output.h"
#include "ctl/transaction.h"
#include "ctl/tree.h"
#include "ctl/verbs.h"

namespace xsd::ctl {

void printValues(const Invocation& inv, const PathValues& values)
{
    bool prefix = inv.has("prefix"), raw = inv.has("raw");
    for (const auto& [path, value] : values) {
        if (prefix)
            print(path + ": ");
        if (raw) {
            // xenstore-read -R: the bytes, no newline.
            print(value);
        } else {
            print(escapeValue(value));
            print("\n");
        }
    }
}

Json valuesJson(const PathValues& values)
{
    Json out = Json::array();
    for (const auto& [path, value] : values)
        out.push_back({{"path", path}, {"value", valueJson(value)}});
    return out;
}

int runRead(Invocation& inv)
{
    PathValues values;
    try {
        perform(inv, inv.args.size() > 1, [&](Store& store) {
            values.clear();
            for (const auto& path : inv.args)
                values.emplace_back(path, store.read(path));
        });
    } catch (const Failure&) {
        // xenstore-read prints what it read before the failure; a partial
        // JSON document would only mislead.
        if (!inv.json)
            printValues(inv, values);
        throw;
    }
    if (inv.json)
        printJson(valuesJson(values));
    else
        printValues(inv, values);
    return ExitSuccess;
}

int runWrite(Invocation& inv)
{
    if (inv.args.size() % 2)
        throw usageError("write: wants PATH VALUE pairs; usage: xenstorectl write PATH VALUE [PATH VALUE…]");
    PathValues pairs;
    for (size_t i = 0; i < inv.args.size(); i += 2)
        pairs.emplace_back(inv.args[i], inv.has("raw") ? inv.args[i + 1] : unescapeValue(inv.args[i + 1]));
    perform(inv, pairs.size() > 1, [&](Store& store) {
        for (const auto& [path, value] : pairs)
            store.write(path, value);
    });
    return ExitSuccess;
}

int runExists(Invocation& inv)
{
    // Plain calls: a test of existence has nothing to keep consistent, and
    // xenstore-exists stops at the first missing path just the same.
    ProxyStore store(inv.xenstore(), inv.verb);
    Json report = Json::array();
    bool all = true;
    for (const auto& path : inv.args) {
        bool exists = store.exists(path);
        all = all && exists;
        report.push_back({{"path", path}, {"exists", exists}});
        if (!exists && !inv.json)
            break;
    }
    if (inv.json)
        printJson(report);
    return all ? ExitSuccess : ExitFailure;
}

int runList(Invocation& inv)
{
    std::vector<std::string> lines;
    perform(inv, inv.args.size() > 1, [&](Store& store) {
        lines.clear();
        for (const auto& path : inv.args) {
            // "/" lists as "/name", not xenstore-list 4.17's "//name" (a path
            // XenStore itself rejects); later Xen prints "/name" too.
            std::string prefix = path == "/" ? "/" : path + "/";
            for (const auto& name : store.directory(path))
                lines.push_back(inv.has("prefix") ? prefix + name : name);
        }
    });
    if (inv.json) {
        printJson(Json(lines));
        return ExitSuccess;
    }
    for (const auto& line : lines)
        print(line + "\n");
    return ExitSuccess;
}

namespace {

// xenstore-rm -t: after removing a path, remove its parent too if that is
// now empty (no value, no children), and so on up.
void removeTidily(Store& store, std::string path)
{
    store.remove(path);
    while (toParent(path)) {
        try {
            if (!store.read(path).empty() || !store.directory(path).empty())
                return;
        } catch (const Failure& f) {
            if (f.status() == ExitUnavailable)
                throw;
            return;  // gone or unreadable: nothing to tidy
        }
        store.remove(path);
    }
}

}  // namespace

int runRm(Invocation& inv)
{
    bool tidy = inv.has("tidy");
    perform(inv, inv.args.size() > 1 || tidy, [&](Store& store) {
        for (const auto& path : inv.args)
            tidy ? removeTidily(store, path) : store.remove(path);
    });
    return ExitSuccess;
}

int runMkdir(Invocation& inv)
{
    perform(inv, inv.args.size() > 1, [&](Store& store) {
        for (const auto& path : inv.args)
            store.mkdir(path);
    });
    return ExitSuccess;
}

}  // namespace xsd::ctl
