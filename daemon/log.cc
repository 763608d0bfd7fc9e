#include "daemon/log.h"

#include <cstdio>

namespace xsd::log {

namespace {
bool verboseOn = false;
}

void setVerbose(bool v) { verboseOn = v; }
bool verbose() { return verboseOn; }

void write(Priority priority, const std::string& line)
{
    // One fprintf per line: a line is never interleaved with another.
    std::fprintf(stderr, "<%d>%s\n", static_cast<int>(priority), line.c_str());
}

}  // namespace xsd::log
