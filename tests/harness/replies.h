// Replies to asynchronous calls, as they come: for tests that send many
// calls without waiting (pipelined on one connection, or from many).
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <sdbus-c++/Error.h>

#include "tests/harness/process.h"

namespace xsd::test {

// Replies to asynchronous calls on one raw connection, as they come.
class Replies {
public:
    // `value`: what a successful call answered, where the test keeps it.
    void add(const std::string& tag, const sdbus::Error* error, std::string value = {})
    {
        std::lock_guard lock(mutex_);
        got_.push_back({tag, error ? error->getName() : "", error ? error->getMessage() : "",
                        std::move(value)});
    }
    struct Reply {
        std::string tag, error, message, value;
    };
    std::vector<Reply> all() const
    {
        std::lock_guard lock(mutex_);
        return got_;
    }
    bool waitFor(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const
    {
        return xsd::test::waitFor([&] { return all().size() >= n; }, timeout);
    }
    size_t count(const std::string& error) const
    {
        size_t n = 0;
        for (const auto& r : all())
            n += r.error == error;
        return n;
    }
    size_t countMentioning(const std::string& error, const std::string& text) const
    {
        size_t n = 0;
        for (const auto& r : all())
            n += r.error == error && r.message.find(text) != std::string::npos;
        return n;
    }
    std::optional<Reply> of(const std::string& tag) const
    {
        for (const auto& r : all())
            if (r.tag == tag)
                return r;
        return std::nullopt;
    }

private:
    mutable std::mutex mutex_;
    std::vector<Reply> got_;
};

}  // namespace xsd::test
