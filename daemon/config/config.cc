#include "daemon/config/config.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <system_error>

#include <nlohmann/json.hpp>

#include "daemon/config/polkit_rules.h"
#include "protocol/transport.h"
#include "protocol/validate.h"
#include "protocol/wire.h"

namespace xsd {

namespace {

using nlohmann::json;

// A file larger than this is not a configuration; refusing it keeps a
// mistaken --config /dev/zero from eating memory.
constexpr size_t MaxConfigBytes = 1 << 20;

// uid_t and gid_t are 32 bits; (uid_t)-1 means "no change" to the kernel and
// is never a real account.
constexpr uint64_t MaxId = 4294967294u;

struct LimitField {
    const char* key;
    unsigned Limits::*member;
    unsigned max;  // sane bounds: beyond these a typo is likelier than intent
};

constexpr LimitField limitFields[] = {
    {"watches_per_caller", &Limits::watchesPerCaller, 65536},
    {"transactions_per_caller", &Limits::transactionsPerCaller, 1024},
    {"pending_calls_per_caller", &Limits::pendingCallsPerCaller, 65536},
    {"transaction_idle_timeout_s", &Limits::transactionIdleTimeoutS, 86400},
    {"queued_watch_events", &Limits::queuedWatchEvents, 16777216},
    {"queued_watch_events_per_subscriber", &Limits::queuedWatchEventsPerSubscriber, 16777216},
    {"pending_calls_total", &Limits::pendingCallsTotal, 1048576},
    {"watches_total", &Limits::watchesTotal, 1048576},
    {"transactions_total", &Limits::transactionsTotal, 65536},
    // Below the 25 s a D-Bus caller waits by default: it hears why.
    {"xenstored_timeout_s", &Limits::xenstoredTimeoutS, 24},
    {"atomic_call_retries", &Limits::atomicCallRetries, 100},
    {"polkit_timeout_s", &Limits::polkitTimeoutS, 3600},
    {"polkit_interactive_timeout_s", &Limits::polkitInteractiveTimeoutS, 3600},
};

constexpr Access allKinds[] = {Access::Read, Access::Write, Access::Watch, Access::Admin};

// A value as the user wrote it, short enough for one line of a log.
std::string shown(const json& value)
{
    std::string s = value.dump(-1, ' ', true, json::error_handler_t::replace);
    if (s.size() > 80)
        s = s.substr(0, 77) + "...";
    return s;
}

// nlohmann quotes the offending input as it is; a log line should not
// carry raw control characters or invalid UTF-8 from a broken file.
std::string printable(std::string_view s)
{
    std::string out;
    for (unsigned char c : s) {
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
        }
    }
    return out;
}

std::string jsonString(std::string_view s)
{
    return shown(json(std::string(s)));
}

using Words = std::vector<std::string_view>;

std::string joinOr(const Words& words)
{
    std::string out;
    size_t i = 0;
    for (auto w : words) {
        if (i > 0)
            out += (i + 1 == words.size()) ? " or " : ", ";
        out += w;
        ++i;
    }
    return out;
}

// Walks the document, knowing where it is, so that every error names its field.
class Parser {
public:
    Parser(const std::string& source, const NameResolver& resolver)
        : source_(source), resolver_(resolver)
    {
    }

    Config parse(std::string_view text)
    {
        json doc;
        try {
            doc = json::parse(text.begin(), text.end());
        } catch (const json::parse_error& e) {
            fail("", "invalid JSON: " + describeParseError(e));
        }
        if (!doc.is_object())
            fail("", "expected a JSON object with \"access\" (and optionally \"xenstore\" and "
                     "\"limits\"), got " + shown(doc));
        rejectUnknownKeys(doc, "", {"xenstore", "access", "limits"});

        Config config;
        config.source = source_;
        if (doc.contains("xenstore"))
            config.xenstore = xenstore(doc["xenstore"]);
        // Required, even though an empty list is allowed: a file that forgot
        // its rules would otherwise lock out everyone, root included.
        if (!doc.contains("access"))
            fail("access", "missing; list the access rules (an empty list denies every caller, "
                           "root included)");
        config.rules = rules(doc["access"]);
        if (doc.contains("limits"))
            config.limits = limits(doc["limits"]);
        return config;
    }

private:
    [[noreturn]] void fail(const std::string& field, const std::string& problem) const
    {
        throw ConfigError(source_, field, problem);
    }

    static std::string describeParseError(const json::parse_error& e)
    {
        // nlohmann words it "[json.exception.parse_error.101] parse error at
        // line 3, column 5: syntax error ..."; keep the part from "line".
        std::string_view what = e.what();
        auto at = what.find("line ");
        return printable(at != std::string_view::npos
                             ? what.substr(at)
                             : "at byte " + std::to_string(e.byte) + ": " + std::string(what));
    }

    void rejectUnknownKeys(const json& object, const std::string& where,
                           const Words& known) const
    {
        for (auto& [key, value] : object.items()) {
            bool ok = false;
            for (auto k : known)
                ok = ok || key == k;
            if (!ok)
                fail(where.empty() ? printable(key) : where + "." + printable(key),
                     "unknown key (expected " + joinOr(known) + ")");
        }
    }

    std::string xenstore(const json& value) const
    {
        if (!value.is_string())
            fail("xenstore", "expected \"auto\", \"unix:PATH\" or \"xenbus:PATH\", got " +
                                 shown(value));
        auto spec = value.get<std::string>();
        std::string why;
        // "auto" is resolved when the daemon connects, not here: the socket
        // may appear after the configuration is read.
        if (spec != "auto" && !xs::Backend::parse(spec, &why))
            fail("xenstore", why);
        return spec;
    }

    std::vector<Rule> rules(const json& value) const
    {
        if (!value.is_array())
            fail("access", "expected a list of rules, got " + shown(value));
        std::vector<Rule> out;
        for (size_t i = 0; i < value.size(); ++i)
            out.push_back(rule(value[i], "access[" + std::to_string(i) + "]"));
        return out;
    }

    Rule rule(const json& value, const std::string& where) const
    {
        if (!value.is_object())
            fail(where, "expected a rule like {\"uid\": 0, \"paths\": [\"/\"], \"allow\": "
                        "[\"read\"]}, got " + shown(value));
        rejectUnknownKeys(value, where,
                          {"uid", "user", "gid", "group", "polkit", "paths", "allow"});

        Rule r;
        if (value.contains("polkit"))
            r.polkit = polkitAction(value["polkit"], where + ".polkit");
        std::vector<std::string> subjects;
        for (const char* key : {"uid", "user", "gid", "group"})
            if (value.contains(key))
                subjects.push_back(key);
        if (subjects.size() > 1)
            fail(where, "names both \"" + subjects[0] + "\" and \"" + subjects[1] +
                            "\"; a rule names exactly one of uid, user, gid or group");
        if (subjects.empty() && r.polkit.empty())
            fail(where, "names none of uid, user, gid, group or polkit; a rule names exactly one "
                        "of uid, user, gid or group, or a polkit action, or both");
        if (subjects.empty()) {
            // Every caller, as far as polkit authorizes it.
            r.subject = Rule::Subject::Anyone;
            r.name = "anyone";
        } else {
            subject(value, subjects[0], where, r);
        }

        r.prefixes = prefixes(value, where + ".paths");
        r.allow = allow(value, where + ".allow");
        return r;
    }

    // The uid, user, gid or group the rule names, as `key`.
    void subject(const json& rule, const std::string& key, const std::string& where, Rule& r) const
    {
        const json& subject = rule[key];
        const std::string field = where + "." + key;
        if (key == "uid" || key == "gid") {
            r.subject = key == "uid" ? Rule::Subject::Uid : Rule::Subject::Gid;
            if (!subject.is_number_unsigned() || subject.get<uint64_t>() > MaxId)
                fail(field, "expected a " + key + " (an integer from 0 to " +
                                std::to_string(MaxId) + "), got " + shown(subject));
            r.id = static_cast<uint32_t>(subject.get<uint64_t>());
            r.name = std::to_string(r.id);
        } else {
            const bool isUser = key == "user";
            r.subject = isUser ? Rule::Subject::User : Rule::Subject::Group;
            // An embedded NUL would make getpwnam look up a shorter name.
            if (!subject.is_string() || subject.get<std::string>().empty() ||
                subject.get<std::string>().find('\0') != std::string::npos)
                fail(field, "expected a " + key + " name, got " + shown(subject));
            r.name = subject.get<std::string>();
            r.id = resolve(isUser, r.name, field);
        }
    }

    std::string polkitAction(const json& value, const std::string& field) const
    {
        if (!value.is_string())
            fail(field, "expected a polkit action like \"org.xenproject.xenstore1.write\", got " +
                            shown(value));
        auto id = value.get<std::string>();
        if (auto why = checkPolkitAction(id))
            fail(field, jsonString(id) + " is not a polkit action: " + *why);
        return id;
    }

    uint32_t resolve(bool isUser, const std::string& name, const std::string& field) const
    {
        const auto& lookup = isUser ? resolver_.user : resolver_.group;
        const char* what = isUser ? "user" : "group";
        std::optional<uint32_t> id;
        try {
            id = lookup(name);
        } catch (const std::exception& e) {
            fail(field, std::string("cannot look up ") + what + " " + jsonString(name) + ": " +
                            e.what());
        }
        if (!id)
            fail(field, std::string("no such ") + what + " " + jsonString(name));
        return *id;
    }

    std::vector<std::string> prefixes(const json& rule, const std::string& field) const
    {
        if (!rule.contains("paths"))
            fail(field, "missing; a rule needs a non-empty list of path prefixes");
        const json& list = rule["paths"];
        if (!list.is_array() || list.empty())
            fail(field, "expected a non-empty list of path prefixes, got " + shown(list));
        std::vector<std::string> out;
        for (size_t i = 0; i < list.size(); ++i)
            out.push_back(prefix(list[i], field + "[" + std::to_string(i) + "]"));
        return out;
    }

    std::string prefix(const json& value, const std::string& field) const
    {
        static const std::string forms =
            "\"/\", an absolute path like \"/local/domain\" or \"/local/domain/*/data\", \"@\", "
            "\"@introduceDomain\" or \"@releaseDomain\"";
        if (!value.is_string())
            fail(field, "expected a path prefix (" + forms + "), got " + shown(value));
        auto p = value.get<std::string>();
        if (p.empty())
            fail(field, "\"\" is empty; a prefix is " + forms);
        if (p == "/" || p == "@" || p == xs::IntroduceDomain || p == xs::ReleaseDomain)
            return p;
        if (xs::pathKind(p) == xs::PathKind::Special)
            fail(field, jsonString(p) + " is not a special path (expected \"@\", "
                                        "\"@introduceDomain\" or \"@releaseDomain\")");
        if (xs::pathKind(p) == xs::PathKind::Relative)
            fail(field, jsonString(p) + " is not absolute; a prefix is " + forms);
        // A component "*" stands for any one component: what is left must be
        // a path XenStore would take.
        std::string concrete = p;
        for (size_t at = concrete.find("/*"); at != std::string::npos;
             at = concrete.find("/*", at + 1))
            if (at + 2 == concrete.size() || concrete[at + 2] == '/')
                concrete[at + 1] = '_';
        if (auto violation = xs::checkPath(concrete))
            fail(field, jsonString(p) + " is not a valid XenStore path" +
                            (concrete == p ? "" : " (with \"*\" for a whole component)") + ": " +
                            *violation);
        return p;
    }

    unsigned allow(const json& rule, const std::string& field) const
    {
        if (!rule.contains("allow"))
            fail(field, "missing; a rule needs a non-empty list of read, write, watch or admin");
        const json& list = rule["allow"];
        if (!list.is_array() || list.empty())
            fail(field, "expected a non-empty list of read, write, watch or admin, got " +
                            shown(list));
        unsigned bits = 0;
        for (size_t i = 0; i < list.size(); ++i) {
            const json& kind = list[i];
            std::optional<Access> found;
            if (kind.is_string())
                for (Access a : allKinds)
                    if (kind.get<std::string>() == accessName(a))
                        found = a;
            if (!found)
                fail(field + "[" + std::to_string(i) + "]",
                     "unknown access kind " + shown(kind) +
                         " (expected read, write, watch or admin)");
            bits |= static_cast<unsigned>(*found);
        }
        return bits;
    }

    Limits limits(const json& value) const
    {
        if (!value.is_object())
            fail("limits", "expected an object of limits, got " + shown(value));
        Words keys;
        for (auto& f : limitFields)
            keys.push_back(f.key);
        rejectUnknownKeys(value, "limits", keys);
        Limits out;
        for (auto& f : limitFields) {
            if (!value.contains(f.key))
                continue;
            const json& v = value[f.key];
            const std::string field = std::string("limits.") + f.key;
            // nlohmann types every non-negative integer as unsigned.
            if (!v.is_number_unsigned() || v.get<uint64_t>() == 0)
                fail(field, "expected a positive integer, got " + shown(v));
            if (v.get<uint64_t>() > f.max)
                fail(field, "expected a positive integer up to " + std::to_string(f.max) +
                                ", got " + shown(v));
            out.*f.member = static_cast<unsigned>(v.get<uint64_t>());
        }
        return out;
    }

    const std::string& source_;
    const NameResolver& resolver_;
};

std::string formatError(const std::string& source, const std::string& field,
                        const std::string& problem)
{
    return source + ": " + (field.empty() ? "" : field + ": ") + problem;
}

// getpwnam_r and getgrnam_r report "no such name" either as success with no
// result or, depending on the NSS module, with one of these.
bool meansNotFound(int err)
{
    return err == 0 || err == ENOENT || err == ESRCH || err == EBADF || err == EPERM;
}

// Runs getpwnam_r or getgrnam_r, growing the buffer until the entry fits.
template <typename Entry, typename Lookup, typename Id>
std::optional<uint32_t> lookupId(const std::string& name, Lookup lookup, Id Entry::*id,
                                 const char* what)
{
    std::vector<char> buf(1024);
    for (;;) {
        Entry entry{};
        Entry* result = nullptr;
        int err = lookup(name.c_str(), &entry, buf.data(), buf.size(), &result);
        if (err == ERANGE && buf.size() < (1u << 20)) {
            buf.resize(buf.size() * 4);
            continue;
        }
        if (result)
            return static_cast<uint32_t>(entry.*id);
        if (meansNotFound(err))
            return std::nullopt;
        throw std::system_error(err, std::generic_category(), what);
    }
}

}  // namespace

std::string_view accessName(Access access)
{
    switch (access) {
    case Access::Read: return "read";
    case Access::Write: return "write";
    case Access::Watch: return "watch";
    case Access::Admin: return "admin";
    }
    return "unknown";
}

ConfigError::ConfigError(const std::string& source, const std::string& field,
                         const std::string& problem)
    : std::runtime_error(formatError(source, field, problem)), field_(field), problem_(problem)
{
}

NameResolver systemResolver()
{
    return {
        [](const std::string& name) {
            return lookupId(name, ::getpwnam_r, &passwd::pw_uid, "getpwnam_r");
        },
        [](const std::string& name) {
            return lookupId(name, ::getgrnam_r, &group::gr_gid, "getgrnam_r");
        },
    };
}

Config parseConfig(std::string_view json, const std::string& source, const NameResolver& resolver)
{
    return Parser(source, resolver).parse(json);
}

Config loadConfig(const std::string& path, bool explicitlyGiven, const NameResolver& resolver)
{
    // O_NONBLOCK: opening a FIFO for reading waits for a writer, and the
    // daemon reloads inside its event loop. Only a regular file is read on.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT && !explicitlyGiven) {
            Config config = defaultConfig();
            config.source = "built-in default (" + path + " does not exist)";
            return config;
        }
        throw ConfigError(path, "", std::string("cannot open: ") + std::strerror(err));
    }
    struct stat st {};
    if (::fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw ConfigError(path, "", "not a regular file; a configuration is read only from one");
    }
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            ::close(fd);
            throw ConfigError(path, "", std::string("cannot read: ") + std::strerror(err));
        }
        if (n == 0)
            break;
        text.append(buf, static_cast<size_t>(n));
        if (text.size() > MaxConfigBytes) {
            ::close(fd);
            throw ConfigError(path, "", "larger than " + std::to_string(MaxConfigBytes) +
                                            " bytes; this is not a configuration file");
        }
    }
    ::close(fd);
    return parseConfig(text, path, resolver);
}

Config defaultConfig()
{
    Config config;
    config.source = "built-in default";
    config.rules.push_back(Rule{Rule::Subject::Uid, 0, "0", {"/", "@"}, AllAccess});
    return config;
}

}  // namespace xsd
