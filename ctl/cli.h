// The command line: common options, a verb, the verb's own options (GNU
// style, before or after the arguments, as xenstore-* take them) and its
// arguments — and the help texts, built from the same table so that --help
// cannot drift from what is parsed.
#pragma once

#include <charconv>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "ctl/invocation.h"

namespace xsd::ctl {

struct OptionSpec {
    const char* name;     // long name, and the key in Invocation::options
    char key;             // short option, or 0 for long only
    const char* argName;  // nullptr for a flag
    const char* help;
};

struct VerbSpec {
    const char* name;
    const char* synopsis;     // after the verb: "[-p] [-R] PATH…"
    const char* summary;      // one line, for the verb list
    const char* description;  // paragraphs for `VERB --help`
    std::vector<OptionSpec> options;
    size_t minArgs = 0;
    size_t maxArgs = std::numeric_limits<size_t>::max();
    int (*run)(Invocation&) = nullptr;
};

// What the command line asks for: a verb to run, or nothing more to do
// (help or version printed: exit with success).
struct Parsed {
    std::optional<Invocation> invocation;
    const VerbSpec* verb = nullptr;
};

// A number that is the whole of text (std::from_chars: no sign for an
// unsigned T, no blanks, no "+"); nothing when it does not parse, is out of
// T's range or is followed by anything.
template <class T>
std::optional<T> wholeNumber(std::string_view text)
{
    T value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

// Throws a Failure (exit status 2) for a command line that does not parse.
Parsed parseCommandLine(int argc, char** argv, const std::vector<VerbSpec>& verbs);

std::string programHelp(const std::vector<VerbSpec>& verbs);
std::string verbHelp(const VerbSpec& verb);

}  // namespace xsd::ctl
