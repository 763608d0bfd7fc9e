// `transaction`: the steps on standard input (see script.h) as one XenStore
// transaction, retried from the first step when Commit reports a conflict,
// and the values read by the attempt that committed printed as `read`
// prints them.
//
// Standard input is read lazily on the first attempt, each step run as soon
// as its line arrives: a script can be fed by a process that reacts to what
// has happened so far — and a test can provoke a conflict at a known point.
// Retries replay the remembered lines.
#include <cstdio>
#include <cstdlib>

#include "ctl/escape.h"
#include "ctl/json_value.h"
#include "ctl/output.h"
#include "ctl/script.h"
#include "ctl/transaction.h"
#include "ctl/verbs.h"

namespace xsd::ctl {

namespace {

void run(Store& store, const Step& step, PathValues& reads)
{
    store.setContext("transaction: line " + std::to_string(step.line) + ": " + stepName(step.kind));
    switch (step.kind) {
    case Step::Kind::Read:
        reads.emplace_back(step.path, store.read(step.path));
        break;
    case Step::Kind::Write:
        store.write(step.path, step.value);
        break;
    case Step::Kind::Remove:
        store.remove(step.path);
        break;
    case Step::Kind::Mkdir:
        store.mkdir(step.path);
        break;
    }
}

// Lines of standard input, one at a time, as they arrive.
class LineReader {
public:
    ~LineReader() { std::free(buffer_); }
    std::optional<std::string> next()
    {
        ssize_t n = getline(&buffer_, &size_, stdin);
        if (n < 0)
            return std::nullopt;
        std::string line(buffer_, static_cast<size_t>(n));
        if (!line.empty() && line.back() == '\n')
            line.pop_back();
        return line;
    }

private:
    char* buffer_ = nullptr;
    size_t size_ = 0;
};

}  // namespace

int runTransaction(Invocation& inv)
{
    unsigned retries = retriesOption(inv);
    bool raw = inv.has("raw");
    std::vector<Step> steps;
    LineReader input;
    bool inputDone = false;
    unsigned lineNumber = 0;
    PathValues reads;

    unsigned attempts = 0;
    try {
        attempts = transact(inv, retries, [&](Store& store, unsigned) {
            reads.clear();
            for (const auto& step : steps)
                run(store, step, reads);
            while (!inputDone) {
                auto line = input.next();
                if (!line) {
                    inputDone = true;
                    break;
                }
                if (auto step = parseStep(*line, ++lineNumber, raw)) {
                    steps.push_back(std::move(*step));
                    run(store, steps.back(), reads);
                }
            }
        });
    } catch (const Failure& f) {
        if (inv.json && f.status() == ExitTempFail)
            printJson(Json{{"committed", false}, {"attempts", retries + 1}});
        throw;
    }

    if (inv.json)
        printJson(Json{{"committed", true}, {"attempts", attempts}, {"reads", valuesJson(reads)}});
    else
        printValues(inv, reads);
    return ExitSuccess;
}

}  // namespace xsd::ctl
