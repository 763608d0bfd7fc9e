// Reading oxenstored's access log as a sequence of requests: which
// connection (and transaction: "A13.5" is transaction 5 of connection 13)
// did what, in what order. Lets a test check what the daemon really sent
// and when XenStore fired events relative to a commit.
#pragma once

#include <sstream>
#include <string>
#include <vector>

namespace xsd::test {

struct LogEntry {
    std::string id;    // "A13" or "A13.5"
    std::string rest;  // "write     /a/b 1", "w event   /a/b xsd:1", "commit"
};

inline std::vector<LogEntry> parseAccessLog(const std::string& log)
{
    std::vector<LogEntry> out;
    std::istringstream in(log);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string time, id;
        fields >> time >> id;
        std::string rest;
        std::getline(fields, rest);
        auto start = rest.find_first_not_of(' ');
        out.push_back({id, start == std::string::npos ? "" : rest.substr(start)});
    }
    return out;
}

// Index of the first entry at or after `from` whose text starts with `op`
// and contains `text` (and, if given, has connection/transaction `id`);
// -1 if none.
inline int findEntry(const std::vector<LogEntry>& log, const std::string& op, const std::string& text,
                     const std::string& id = {}, size_t from = 0)
{
    for (size_t i = from; i < log.size(); ++i)
        if (log[i].rest.rfind(op, 0) == 0 && log[i].rest.find(text) != std::string::npos &&
            (id.empty() || log[i].id == id))
            return static_cast<int>(i);
    return -1;
}

}  // namespace xsd::test
