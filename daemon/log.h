// Log lines on stderr with sd-daemon priority prefixes ("<6>started"), so
// journald files each under the right priority; plain text elsewhere.
#pragma once

#include <sstream>
#include <string>

namespace xsd::log {

enum class Priority { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };

void setVerbose(bool verbose);
bool verbose();
void write(Priority priority, const std::string& line);

template <class... Parts>
std::string join(const Parts&... parts)
{
    std::ostringstream out;
    (out << ... << parts);
    return out.str();
}

template <class... Parts> void error(const Parts&... p) { write(Priority::Error, join(p...)); }
template <class... Parts> void warning(const Parts&... p) { write(Priority::Warning, join(p...)); }
template <class... Parts> void info(const Parts&... p) { write(Priority::Info, join(p...)); }
// Only with --verbose: one line per request.
template <class... Parts>
void debug(const Parts&... p)
{
    if (verbose())
        write(Priority::Debug, join(p...));
}

}  // namespace xsd::log
