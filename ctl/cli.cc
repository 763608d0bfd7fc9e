#include "ctl/cli.h"

#include <getopt.h>

#include <cstdio>
#include <cstring>

#include "ctl/failure.h"
#include "version.h"

namespace xsd::ctl {

namespace {

const std::vector<OptionSpec>& commonOptions()
{
    static const std::vector<OptionSpec> options{
        {"address", 0, "ADDRESS", "talk to the daemon on the bus at this D-Bus address"},
        {"user", 0, nullptr, "use the user's session bus"},
        {"system", 0, nullptr, "use the system bus (the default)"},
        {"json", 0, nullptr, "print data as JSON (every verb that prints data)"},
        {"help", 'h', nullptr, "show this help and exit"},
        {"version", 0, nullptr, "show the version and exit"},
    };
    return options;
}

constexpr const char* ExitStatusHelp =
    "Exit status:\n"
    "   0  success\n"
    "   1  no such path (org.xenproject.XenStore1.Error.NoEntry); a test that came\n"
    "      out false (exists, introduced); any other failure\n"
    "   2  wrong usage: unknown verb or option, wrong arguments, bad script line\n"
    "  69  daemon unavailable: org.xenproject.XenStore1 is not on the bus, the bus\n"
    "      cannot be reached, or the daemon is not connected to xenstored\n"
    "      (Error.NotConnected)\n"
    "  75  a transaction still conflicted with outside changes after its retries\n"
    "  77  access denied: the daemon's access rules (Error.AccessDenied),\n"
    "      XenStore's permissions (Error.PermissionDenied) or the bus policy\n";

// Long options for getopt_long from specs; short ones into `shorts`.
// Option values are indices into `specs` (offset, so they never collide
// with short option characters).
constexpr int LongBase = 1000;

std::vector<option> longOptions(const std::vector<OptionSpec>& specs, std::string& shorts)
{
    std::vector<option> out;
    for (size_t i = 0; i < specs.size(); ++i) {
        const auto& s = specs[i];
        out.push_back({s.name, s.argName ? required_argument : no_argument, nullptr,
                       LongBase + static_cast<int>(i)});
        if (s.key) {
            shorts += s.key;
            if (s.argName)
                shorts += ':';
        }
    }
    out.push_back({nullptr, 0, nullptr, 0});
    return out;
}

const OptionSpec* byKey(const std::vector<OptionSpec>& specs, int c)
{
    if (c >= LongBase && c < LongBase + static_cast<int>(specs.size()))
        return &specs[static_cast<size_t>(c - LongBase)];
    for (const auto& s : specs)
        if (s.key && s.key == c)
            return &s;
    return nullptr;
}

// Runs getopt_long over argv; calls take(spec, value) per option. `prefix`
// is for messages ("" or "VERB: "); `stopAtVerb` keeps option parsing from
// reaching past the verb (the leading '+').
template <class Take>
void scan(int argc, char** argv, const std::vector<OptionSpec>& specs, bool stopAtVerb,
          const std::string& prefix, Take take)
{
    std::string shorts = stopAtVerb ? "+:" : ":";
    auto longs = longOptions(specs, shorts);
    opterr = 0;
    optind = 0;  // GNU: start over, re-reading POSIXLY_CORRECT and the '+'
    for (;;) {
        int c = getopt_long(argc, argv, shorts.c_str(), longs.data(), nullptr);
        if (c == -1)
            break;
        if (c == '?' || c == ':') {
            std::string what = optopt && optopt < LongBase ? std::string("-") + static_cast<char>(optopt)
                                                           : std::string(argv[optind - 1]);
            std::string see = "; see 'xenstorectl " + prefix.substr(0, prefix.find(':')) +
                              (prefix.empty() ? "" : " ") + "--help'";
            if (c == ':')
                throw usageError(prefix + "option '" + what + "' needs an argument" + see);
            throw usageError(prefix + "unknown option '" + what + "'" + see);
        }
        const OptionSpec* spec = byKey(specs, c);
        if (!spec)
            throw usageError(prefix + "unknown option");
        take(*spec, optarg ? std::string(optarg) : std::string());
    }
}

// Applies a common option; false if it is not one.
bool common(const OptionSpec& spec, const std::string& value, Invocation& inv, bool& help,
            bool& version)
{
    std::string name = spec.name;
    if (name == "address")
        inv.bus = {BusChoice::Kind::Address, value};
    else if (name == "user")
        inv.bus = {BusChoice::Kind::User, {}};
    else if (name == "system")
        inv.bus = {BusChoice::Kind::System, {}};
    else if (name == "json")
        inv.json = true;
    else if (name == "help")
        help = true;
    else if (name == "version")
        version = true;
    else
        return false;
    return true;
}

const VerbSpec* findVerb(const std::vector<VerbSpec>& verbs, const std::string& name)
{
    for (const auto& v : verbs)
        if (name == v.name)
            return &v;
    return nullptr;
}

std::string optionLines(const std::vector<OptionSpec>& specs)
{
    std::string out;
    for (const auto& s : specs) {
        std::string left = s.key ? std::string("  -") + s.key + ", " : std::string("      ");
        left += std::string("--") + s.name;
        if (s.argName)
            left += std::string(" ") + s.argName;
        if (left.size() < 26)
            left.resize(26, ' ');
        else
            left += "\n" + std::string(26, ' ');
        out += left + s.help + "\n";
    }
    return out;
}

}  // namespace

std::string programHelp(const std::vector<VerbSpec>& verbs)
{
    std::string out =
        "Usage: xenstorectl [OPTIONS] VERB [VERB OPTIONS] [ARGS…]\n"
        "\n"
        "XenStore's command-line tools over D-Bus. xenstorectl talks to xenstore-dbusd\n"
        "(bus name org.xenproject.XenStore1) and never to xenstored itself, so it needs\n"
        "no root: the daemon's access rules decide what the caller may do. Output\n"
        "formats and flags are xenstore-utils' (xenstore-read, -write, -ls, …).\n"
        "\n"
        "Verbs:\n";
    for (const auto& v : verbs) {
        std::string left = std::string("  ") + v.name;
        if (left.size() < 16)
            left.resize(16, ' ');
        else
            left += "\n" + std::string(16, ' ');
        out += left + v.summary + "\n";
    }
    out += "\nOptions (before or after the verb):\n" + optionLines(commonOptions()) + "\n" +
           ExitStatusHelp +
           "\n"
           "Errors are printed as \"xenstorectl: VERB PATH: message\", with the daemon's\n"
           "message. 'xenstorectl VERB --help' describes each verb.\n";
    return out;
}

std::string verbHelp(const VerbSpec& verb)
{
    std::string out = std::string("Usage: xenstorectl [OPTIONS] ") + verb.name + " " + verb.synopsis +
                      "\n\n" + verb.description + "\n";
    if (!verb.options.empty())
        out += "\nOptions:\n" + optionLines(verb.options);
    out += "\nCommon options:\n" + optionLines(commonOptions()) + "\n" + ExitStatusHelp;
    return out;
}

Parsed parseCommandLine(int argc, char** argv, const std::vector<VerbSpec>& verbs)
{
    Parsed parsed;
    Invocation inv;
    bool help = false, version = false;

    // Common options before the verb.
    scan(argc, argv, commonOptions(), true, "", [&](const OptionSpec& spec, const std::string& value) {
        common(spec, value, inv, help, version);
    });
    int verbIndex = optind;
    if (version) {
        std::printf("xenstorectl %s\n", XSD_VERSION);
        return parsed;
    }
    if (verbIndex >= argc) {
        if (help) {
            std::fputs(programHelp(verbs).c_str(), stdout);
            return parsed;
        }
        throw usageError("no verb given; see 'xenstorectl --help'");
    }
    std::string name = argv[verbIndex];
    // `help [VERB]`, as many *ctl tools have it.
    if (name == "help") {
        const VerbSpec* about = verbIndex + 1 < argc ? findVerb(verbs, argv[verbIndex + 1]) : nullptr;
        if (verbIndex + 1 < argc && !about)
            throw usageError(std::string("unknown verb '") + argv[verbIndex + 1] +
                             "'; see 'xenstorectl --help'");
        std::fputs((about ? verbHelp(*about) : programHelp(verbs)).c_str(), stdout);
        return parsed;
    }
    const VerbSpec* verb = findVerb(verbs, name);
    if (!verb)
        throw usageError("unknown verb '" + name + "'; see 'xenstorectl --help'");
    if (help) {
        std::fputs(verbHelp(*verb).c_str(), stdout);
        return parsed;
    }

    // The verb's options, and the common ones again, anywhere after it.
    std::vector<OptionSpec> specs = verb->options;
    specs.insert(specs.end(), commonOptions().begin(), commonOptions().end());
    inv.verb = verb->name;
    int subArgc = argc - verbIndex;
    char** subArgv = argv + verbIndex;
    scan(subArgc, subArgv, specs, false, inv.verb + ": ",
         [&](const OptionSpec& spec, const std::string& value) {
             if (!common(spec, value, inv, help, version))
                 inv.options[spec.name] = value;
         });
    if (help) {
        std::fputs(verbHelp(*verb).c_str(), stdout);
        return parsed;
    }
    if (version) {
        std::printf("xenstorectl %s\n", XSD_VERSION);
        return parsed;
    }
    for (int i = optind; i < subArgc; ++i)
        inv.args.emplace_back(subArgv[i]);
    if (inv.args.size() < verb->minArgs || inv.args.size() > verb->maxArgs)
        throw usageError(inv.verb + ": wrong number of arguments; usage: xenstorectl " + inv.verb +
                         " " + verb->synopsis + "; see 'xenstorectl " + inv.verb + " --help'");
    if (inv.bus.kind == BusChoice::Kind::Address && inv.bus.address.empty())
        throw usageError(inv.verb + ": --address wants a D-Bus address");
    parsed.verb = verb;
    parsed.invocation = std::move(inv);
    return parsed;
}

}  // namespace xsd::ctl
