// One run of xenstorectl, as the command line asked for it: the verb, its
// arguments and options, the bus — and, made on first use, the connection
// and the daemon's main object, so that --help and usage errors never touch
// the bus.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ctl/bus.h"

namespace xsd::ctl {

struct Invocation {
    std::string verb;
    std::vector<std::string> args;
    // By long name; a flag maps to "".
    std::map<std::string, std::string> options;
    BusChoice bus;
    bool json = false;

    bool has(const std::string& option) const { return options.count(option) != 0; }
    const std::string& option(const std::string& name) const { return options.at(name); }

    // "VERB" or "VERB PATH": what error messages are about.
    std::string context(const std::string& path = {}) const
    {
        return path.empty() ? verb : verb + " " + path;
    }

    sdbus::IConnection& connection();
    XenStoreProxy& xenstore();

private:
    // Declared in this order so the proxy goes before its connection.
    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<XenStoreProxy> xenstore_;
};

}  // namespace xsd::ctl
