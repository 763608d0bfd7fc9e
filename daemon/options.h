// The command line of xenstore-dbusd (API.md, "Running").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/config/config.h"

namespace xsd {

struct Options {
    std::string configPath{DefaultConfigPath};
    bool configGiven = false;              // --config was on the command line
    std::string bus = "system";            // system | session | a D-Bus address
    std::optional<std::string> xenstore;   // auto | unix:PATH | xenbus:PATH
    bool verbose = false;
};

struct ParsedOptions {
    std::optional<Options> options;  // nothing: exit with `exitStatus`
    int exitStatus = 0;
};

// Parses argv; prints --help/--version or a usage error itself.
ParsedOptions parseOptions(const std::vector<std::string>& args);

}  // namespace xsd
