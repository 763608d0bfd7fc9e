#include "daemon/options.h"

#include <cstdio>

#include "version.h"

namespace xsd {

namespace {

constexpr const char* Usage =
    "Usage: xenstore-dbusd [OPTION]...\n"
    "Publishes XenStore on D-Bus as org.xenproject.XenStore1.\n"
    "\n"
    "  --config FILE       access rules and limits (JSON; default\n"
    "                      /etc/xenstore-dbus/config.json; none: only root may use it)\n"
    "  --bus BUS           system (default), session, or a D-Bus address\n"
    "                      such as unix:path=/run/test/bus\n"
    "  --xenstore WHERE    auto (default), unix:PATH or xenbus:PATH; auto uses\n"
    "                      $XENSTORED_PATH, else /var/run/xenstored/socket if it\n"
    "                      exists, else /dev/xen/xenbus\n"
    "  --verbose           log one line per request\n"
    "  --help              show this help\n"
    "  --version           show the version\n";

}  // namespace

ParsedOptions parseOptions(const std::vector<std::string>& args)
{
    Options o;
    auto fail = [](const std::string& msg) {
        std::fprintf(stderr, "xenstore-dbusd: %s\nTry 'xenstore-dbusd --help'.\n", msg.c_str());
        return ParsedOptions{std::nullopt, 2};
    };
    for (size_t i = 0; i < args.size(); ++i) {
        std::string arg = args[i], value;
        bool hasValue = false;
        if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
            hasValue = true;
        }
        auto take = [&]() -> bool {
            if (hasValue)
                return true;
            if (i + 1 >= args.size())
                return false;
            value = args[++i];
            return true;
        };
        if (arg == "--help") {
            std::fputs(Usage, stdout);
            return {std::nullopt, 0};
        } else if (arg == "--version") {
            std::printf("xenstore-dbusd %s\n", XSD_VERSION);
            return {std::nullopt, 0};
        } else if (arg == "--verbose") {
            o.verbose = true;
        } else if (arg == "--config") {
            if (!take())
                return fail("--config needs a FILE");
            o.configPath = value;
            o.configGiven = true;
        } else if (arg == "--bus") {
            if (!take() || value.empty())
                return fail("--bus needs system, session or an ADDRESS");
            o.bus = value;
        } else if (arg == "--xenstore") {
            if (!take() || value.empty())
                return fail("--xenstore needs auto, unix:PATH or xenbus:PATH");
            o.xenstore = value;
        } else {
            return fail("unknown argument '" + args[i] + "'");
        }
    }
    return {o, 0};
}

}  // namespace xsd
