// Calls of one kind still under way, counted per caller: Watch calls whose
// watch is being placed, StartTransaction calls waiting for xenstored, calls
// waiting for the bus to say who their caller is. Limits count them with
// what the caller already holds, so calls sent all at once cannot pass a
// limit. A caller's entry goes with its last such call: these calls are
// rare, unlike those CallCounter (answer.h) counts, which keeps a caller's
// entry at zero so that a busy caller costs no allocation per call.
#pragma once

#include <string>
#include <unordered_map>

namespace xsd {

class PendingPerCaller {
public:
    unsigned of(const std::string& caller) const
    {
        auto it = count_.find(caller);
        return it == count_.end() ? 0 : it->second;
    }
    size_t total() const { return total_; }
    void add(const std::string& caller)
    {
        ++count_[caller];
        ++total_;
    }
    void done(const std::string& caller)
    {
        if (auto it = count_.find(caller); it != count_.end()) {
            --total_;
            if (--it->second == 0)
                count_.erase(it);
        }
    }

private:
    std::unordered_map<std::string, unsigned> count_;
    size_t total_ = 0;
};

}  // namespace xsd
