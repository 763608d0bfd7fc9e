// The daemon's configuration: which XenStore to reach, who may do what on
// which paths, and the per-caller limits. The file format is API.md's
// "Access" section; this is the only place that reads it, so every mistake in
// a file is reported here, naming the field and the value at fault, before
// the daemon starts (or, on SIGHUP, before the old configuration is replaced).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "paths.h"

namespace xsd {

// Kinds of access a rule grants, as bits so that a rule holds a set of them.
enum class Access : unsigned { Read = 1, Write = 2, Watch = 4, Admin = 8 };
inline constexpr unsigned AllAccess = 1 | 2 | 4 | 8;

// "read", "write", "watch", "admin": the configuration's own words.
std::string_view accessName(Access access);

struct Limits {
    unsigned watchesPerCaller = 256;
    unsigned transactionsPerCaller = 8;
    unsigned pendingCallsPerCaller = 64;
    unsigned transactionIdleTimeoutS = 60;
    // Not per caller: watch events the daemon holds while the bus is behind.
    unsigned queuedWatchEvents = 262144;
    // Of those, for one subscriber (that reads slowly, or not at all).
    unsigned queuedWatchEventsPerSubscriber = 16384;
    // Not per caller: calls in flight for all callers together, those of
    // callers that left the bus included, until each is answered.
    unsigned pendingCallsTotal = 4096;
    // Not per caller: subscriptions of all callers together (each holds a
    // path and token of up to 4 KB), and transaction objects (ended ones
    // waiting for their owner included). One user may open hundreds of
    // connections, each with its own per-caller allowance.
    unsigned watchesTotal = 16384;
    unsigned transactionsTotal = 1024;
    // How long xenstored may leave a request unanswered before the daemon
    // treats it as gone and reconnects (callers wait 25 s by default).
    unsigned xenstoredTimeoutS = 10;
    // How often an atomic call (WriteMany, CompareAndWrite, …) runs again
    // after xenstored refused its commit as conflicting (EAGAIN).
    unsigned atomicCallRetries = 5;
    // How long a call may wait for polkit's answer before it is refused:
    // asked without interaction, and with it (a person typing a password).
    unsigned polkitTimeoutS = 10;
    unsigned polkitInteractiveTimeoutS = 120;
};

struct Rule {
    // Anyone: a rule that names only a polkit action, for every caller.
    enum class Subject { Uid, User, Gid, Group, Anyone };
    Subject subject = Subject::Uid;
    uint32_t id = 0;                    // the uid or gid, names resolved at load time
    std::string name;                   // as written ("0", "backup"), for messages
    std::vector<std::string> prefixes;  // "/", "/local/domain", "/local/domain/*/data", "@", …
    unsigned allow = 0;                 // Access bits
    // A polkit action ("org.xenproject.xenstore1.write"): the rule allows
    // only what polkit authorizes this action for. Empty: no polkit.
    std::string polkit = {};
};

struct Config {
    std::string xenstore = "auto";  // auto | unix:PATH | xenbus:PATH, as written
    std::vector<Rule> rules;
    Limits limits;
    std::string source;  // the file it came from, or a note that it is the built-in default
};

// A configuration that cannot be used. what() is "SOURCE: FIELD: PROBLEM",
// e.g. `/etc/xenstore-dbus/config.json: access[1].allow[2]: unknown access
// kind "exec" (expected read, write, watch or admin)`.
class ConfigError : public std::runtime_error {
public:
    ConfigError(const std::string& source, const std::string& field, const std::string& problem);
    const std::string& field() const { return field_; }  // "" when the whole file is at fault
    const std::string& problem() const { return problem_; }

private:
    std::string field_;
    std::string problem_;
};

// Maps user and group names to ids. Each function returns nothing for a name
// that does not exist; a lookup that fails for another reason (an NSS source
// unreachable) throws std::system_error. Injectable so that tests need no
// real accounts.
struct NameResolver {
    std::function<std::optional<uint32_t>(const std::string& user)> user;
    std::function<std::optional<uint32_t>(const std::string& group)> group;
};
// getpwnam_r / getgrnam_r.
NameResolver systemResolver();

// The default file the daemon reads when --config is not given:
// SYSCONFDIR/xenstore-dbus/config.json, /etc/… with --prefix=/usr.
inline constexpr std::string_view DefaultConfigPath = XSD_DEFAULT_CONFIG;

// Parses a whole configuration; `source` names it in messages. Throws
// ConfigError.
Config parseConfig(std::string_view json, const std::string& source,
                   const NameResolver& resolver = systemResolver());

// Reads and parses `path`. A missing file is the built-in default unless the
// file was named explicitly (--config), when it is an error; an unreadable or
// invalid file is always an error. Throws ConfigError.
Config loadConfig(const std::string& path, bool explicitlyGiven,
                  const NameResolver& resolver = systemResolver());

// With no file, only uid 0 may do anything: every kind of access on "/" and "@".
Config defaultConfig();

}  // namespace xsd
