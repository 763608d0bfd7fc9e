// The little language `xenstorectl transaction` reads on standard input,
// one step per line:
//
//     read PATH
//     write PATH VALUE     VALUE is the rest of the line after one blank,
//                          with xenstore-write's escapes (\n, \x41, \101…)
//     rm PATH
//     mkdir PATH
//
// Blank lines and lines starting with '#' are skipped.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace xsd::ctl {

struct Step {
    enum class Kind { Read, Write, Remove, Mkdir };
    Kind kind;
    std::string path;
    std::string value;  // Write only, already unescaped (unless raw)
    unsigned line = 0;
};

// The step on this line; nullopt for a blank or comment line. A line that is
// not a step is a Failure with exit status 2 naming the line. `raw` takes
// write values as they are (-R), without unescaping.
std::optional<Step> parseStep(std::string_view text, unsigned line, bool raw);

const char* stepName(Step::Kind kind);

}  // namespace xsd::ctl
