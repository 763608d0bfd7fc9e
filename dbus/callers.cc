#include "dbus/callers.h"

#include <fstream>
#include <map>
#include <sstream>

#include <sdbus-c++/Error.h>
#include <sdbus-c++/Types.h>

namespace xsd {

namespace {

// The numbers after "Name:\t" on one line of /proc/PID/status.
std::vector<uint32_t> statusField(const std::string& status, const std::string& name)
{
    std::vector<uint32_t> out;
    auto at = status.find("\n" + name + ":");
    if (at == std::string::npos)
        return out;
    auto end = status.find('\n', at + 1);
    std::istringstream line(status.substr(at + name.size() + 2, end - at - name.size() - 2));
    unsigned long v;
    while (line >> v)
        out.push_back(static_cast<uint32_t>(v));
    return out;
}

}  // namespace

bool CallerRegistry::readProcessGroups(uint32_t pid, uint32_t uid, Caller& out)
{
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    if (!f)
        return false;
    std::stringstream ss;
    ss << "\n" << f.rdbuf();
    const std::string status = ss.str();
    // Uid and Gid lines: real, effective, saved, filesystem. The bus knows
    // the effective uid from the socket; a process whose effective uid
    // differs now (or a reused pid) tells us nothing about this caller.
    auto uids = statusField(status, "Uid");
    auto gids = statusField(status, "Gid");
    if (uids.size() < 2 || gids.size() < 2 || uids[1] != uid)
        return false;
    out.gid = gids[1];
    out.groups = statusField(status, "Groups");
    return true;
}

void CallerRegistry::resolve(const std::string& uniqueName, Resolved done)
{
    if (auto it = known_.find(uniqueName); it != known_.end())
        return done(&it->second, {});
    auto& queue = waiting_[uniqueName];
    queue.push_back(std::move(done));
    if (queue.size() > 1)
        return;  // already asked
    auto finish = [this, uniqueName](const Caller* caller, const std::string& error) {
        auto node = waiting_.extract(uniqueName);
        if (node.empty())
            return;
        for (auto& d : node.mapped())
            d(caller, error);
    };
    try {
        bus_.callMethodAsync("GetConnectionCredentials")
            .onInterface("org.freedesktop.DBus")
            .withArguments(uniqueName)
            .uponReplyInvoke([this, uniqueName, finish](const sdbus::Error* err,
                                                        std::map<std::string, sdbus::Variant> creds) {
                if (err)
                    return finish(nullptr, "cannot identify " + uniqueName + ": " + err->getMessage());
                Caller c;
                bool haveUid = false;
                try {
                    if (auto it = creds.find("UnixUserID"); it != creds.end()) {
                        c.uid = it->second.get<uint32_t>();
                        haveUid = true;
                    }
                    if (auto it = creds.find("ProcessID"); it != creds.end())
                        c.pid = it->second.get<uint32_t>();
                    if (auto it = creds.find("UnixGroupIDs"); it != creds.end()) {
                        // Newer buses say the groups themselves: primary and
                        // supplementary together, in numerical order (which
                        // one is primary is not said). A group rule matches
                        // any of them, so all go to `groups`; the primary is
                        // unknown rather than guessed.
                        c.gid = UINT32_MAX;
                        c.groups = it->second.get<std::vector<uint32_t>>();
                    } else if (c.pid == 0 || !readProcessGroups(c.pid, c.uid, c)) {
                        // Without groups, the caller gets only what its uid
                        // allows: a group rule never matches a guess.
                        c.gid = UINT32_MAX;
                        c.groups.clear();
                    }
                } catch (const sdbus::Error&) {
                    haveUid = false;
                }
                if (!haveUid)
                    return finish(nullptr, "the bus did not tell the uid of " + uniqueName);
                auto [it, _] = known_.insert_or_assign(uniqueName, std::move(c));
                finish(&it->second, {});
            });
    } catch (const sdbus::Error& e) {
        finish(nullptr, "cannot ask the bus who " + uniqueName + " is: " + e.getMessage());
    }
}

void CallerRegistry::forget(const std::string& uniqueName)
{
    known_.erase(uniqueName);
}

const Caller* CallerRegistry::find(const std::string& uniqueName) const
{
    auto it = known_.find(uniqueName);
    return it == known_.end() ? nullptr : &it->second;
}

}  // namespace xsd
