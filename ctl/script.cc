#include "ctl/script.h"

#include "ctl/escape.h"
#include "ctl/failure.h"

namespace xsd::ctl {

namespace {

bool blank(char c)
{
    return c == ' ' || c == '\t';
}

// The next blank-separated word of text from i; advances i past it.
std::string_view word(std::string_view text, size_t& i)
{
    while (i < text.size() && blank(text[i]))
        ++i;
    size_t start = i;
    while (i < text.size() && !blank(text[i]))
        ++i;
    return text.substr(start, i - start);
}

}  // namespace

const char* stepName(Step::Kind kind)
{
    switch (kind) {
    case Step::Kind::Read: return "read";
    case Step::Kind::Write: return "write";
    case Step::Kind::Remove: return "rm";
    case Step::Kind::Mkdir: return "mkdir";
    }
    return "?";
}

std::optional<Step> parseStep(std::string_view text, unsigned line, bool raw)
{
    if (!text.empty() && text.back() == '\r')
        text.remove_suffix(1);
    size_t i = 0;
    std::string_view command = word(text, i);
    if (command.empty() || command.front() == '#')
        return std::nullopt;
    auto fail = [&](const std::string& why) {
        return usageError("transaction: line " + std::to_string(line) + ": " + why);
    };
    Step step;
    step.line = line;
    if (command == "read")
        step.kind = Step::Kind::Read;
    else if (command == "write")
        step.kind = Step::Kind::Write;
    else if (command == "rm")
        step.kind = Step::Kind::Remove;
    else if (command == "mkdir")
        step.kind = Step::Kind::Mkdir;
    else
        throw fail("unknown command '" + std::string(command) + "' (read, write, rm or mkdir)");
    step.path = word(text, i);
    if (step.path.empty())
        throw fail(std::string(command) + " wants a PATH");
    if (step.kind == Step::Kind::Write) {
        // The value is everything after the one blank that ends PATH, so it
        // may hold (and start with) blanks; a missing value is "".
        std::string_view value = i < text.size() ? text.substr(i + 1) : std::string_view();
        step.value = raw ? std::string(value) : unescapeValue(value);
        return step;
    }
    if (!word(text, i).empty())
        throw fail(std::string(command) + " takes only a PATH");
    return step;
}

}  // namespace xsd::ctl
