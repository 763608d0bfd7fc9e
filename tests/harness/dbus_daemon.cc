#include "tests/harness/dbus_daemon.h"

#include <filesystem>
#include <stdexcept>

#ifndef XSD_POLICY_FILE
#error "XSD_POLICY_FILE must name the project's bus policy file"
#endif
#ifndef XSD_BUS_CONFIG
#error "XSD_BUS_CONFIG must name system-bus.conf.in"
#endif

namespace xsd::test {

std::string DbusDaemon::defaultPolicy()
{
    return XSD_POLICY_FILE;
}

DbusDaemon::DbusDaemon(std::vector<std::string> policyFiles)
{
    const std::string socket = dir_ / "bus";
    std::string config = readFile(XSD_BUS_CONFIG);
    auto replace = [&](const std::string& key, const std::string& value) {
        config.replace(config.find(key), key.size(), value);
    };
    replace("@LISTEN@", "unix:path=" + socket);
    std::string includes;
    for (const auto& f : policyFiles)
        includes += "  <include>" + f + "</include>\n";
    replace("  <include>@POLICY@</include>\n", includes + "  <servicedir>" + serviceDir() + "</servicedir>\n");
    std::filesystem::create_directory(serviceDir());
    writeFile(dir_ / "bus.conf", config);
    // Its own log: as root it complains that it cannot raise its fd limit.
    proc_ = Process::logging({"dbus-daemon", "--config-file=" + (dir_ / "bus.conf"), "--nofork",
                              "--nopidfile", "--nosyslog"},
                             dir_ / "bus.log");
    address_ = "unix:path=" + socket;
    if (!waitFor([&] { return socketAccepts(socket); }, std::chrono::seconds(10)))
        throw std::runtime_error("dbus-daemon did not start (config " + (dir_ / "bus.conf") + ")");
}

DbusDaemon::~DbusDaemon() = default;

}  // namespace xsd::test
