#include "tests/harness/polkitd.h"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace xsd::test {

namespace {

// Where polkitd 122 reads them; each gets a directory of the sandbox.
const char* const ActionsDir = "/usr/share/polkit-1/actions";
const char* const RulesDir = "/etc/polkit-1/rules.d";
const char* const VendorRulesDir = "/usr/share/polkit-1/rules.d";

int countOf(const std::string& text, const std::string& needle)
{
    int n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
        ++n;
    return n;
}

}  // namespace

std::string Polkitd::busPolicy()
{
    return "/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf";
}

std::string Polkitd::binary()
{
    return "/usr/lib/polkit-1/polkitd";
}

Polkitd::Polkitd(std::string busAddress, std::vector<std::string> actions, const std::string& rules)
    : busAddress_(std::move(busAddress))
{
    // polkitd reads them as the polkitd user: everything readable by all.
    for (const char* sub : {"actions", "rules", "vendor-rules"})
        mkdir((dir_ / sub).c_str(), 0755);
    for (const auto& file : actions)
        writeFile(dir_ / ("actions/" + std::filesystem::path(file).filename().string()),
                  readFile(file));
    writeRules(rules);
    start();
}

Polkitd::~Polkitd() = default;

void Polkitd::writeRules(const std::string& rules)
{
    // Whole or not at all: polkitd may read the directory at any moment.
    const std::string tmp = dir_ / "rules/.50-test.rules.new";
    writeFile(tmp, rules);
    chmod(tmp.c_str(), 0644);
    std::filesystem::rename(tmp, dir_ / "rules/50-test.rules");
}

void Polkitd::start()
{
    const std::string script = std::string("mount --bind \"$1\" ") + ActionsDir +
                               " && mount --bind \"$2\" " + RulesDir +
                               " && mount --bind \"$3\" " + VendorRulesDir + " && exec \"$4\"";
    proc_ = Process::logging({"unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                              script, "polkitd-sandbox", dir_ / "actions", dir_ / "rules",
                              dir_ / "vendor-rules", binary()},
                             dir_ / "polkitd.log", {{"DBUS_SYSTEM_BUS_ADDRESS", busAddress_}});
    const bool owned = waitFor(
        [&] {
            if (!proc_.running())
                return true;
            auto r = run({"busctl", "--address=" + busAddress_, "call", "org.freedesktop.DBus",
                          "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner", "s",
                          "org.freedesktop.PolicyKit1"});
            return r.status == 0 && r.out == "b true\n";
        },
        std::chrono::seconds(20));
    if (!owned || !proc_.running())
        throw std::runtime_error("polkitd did not take its name on the bus; its log:\n" + log());
}

void Polkitd::kill(int sig)
{
    proc_.stop(sig);
}

void Polkitd::setRules(const std::string& rules)
{
    const int before = rulesLoaded();
    writeRules(rules);
    if (!waitFor([&] { return rulesLoaded() > before; }, std::chrono::seconds(20)))
        throw std::runtime_error("polkitd did not reload its rules; its log:\n" + log());
}

std::string Polkitd::log() const
{
    return readFile(dir_ / "polkitd.log");
}

int Polkitd::rulesLoaded() const
{
    return countOf(log(), "Finished loading, compiling and executing");
}

}  // namespace xsd::test
