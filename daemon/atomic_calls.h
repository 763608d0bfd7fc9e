// Atomic calls: several paths, or a read and the write that depends on it,
// in one XenStore transaction that the daemon runs for the caller — ReadMany,
// WriteMany, RemoveMany, CompareAndWrite, WriteIfAbsent. A transaction
// belongs to the bus connection that started it, so busctl, shell scripts
// and stateless services cannot hold one; libxenstore and pyxs leave the
// retry on EAGAIN to every caller. Here the retry runs next to xenstored,
// and the caller makes one call.
//
// Every path is checked and passes the Gate, one after another as one-path
// calls do, before anything is sent. Then, outside a transaction object:
// TRANSACTION_START, the call's requests (pipelined), TRANSACTION_END; when
// xenstored refuses the commit as conflicting, the whole call runs again
// after a short random pause on the loop, at most atomic_call_retries times.
// Inside a transaction object the same requests join that transaction, with
// no retries: its Commit says whether it all held.
#pragma once

#include <systemd/sd-event.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "daemon/answer.h"
#include "daemon/data_methods.h"
#include "daemon/gate.h"
#include "daemon/xenstore_link.h"

namespace xsd {

// The bounds of one call, checked before anything is sent (the interface
// XML names them). A guest's transaction holds at most 1024 requests
// (oxenstored's quota-maxrequests): 1000 paths keep CompareAndWrite-sized
// extras within it.
inline constexpr size_t MaxPathsPerAtomicCall = 1000;
inline constexpr size_t MaxBytesPerAtomicCall = 1 << 20;  // paths and values together
// What all atomic calls under way may hold together, so that many large
// calls at once (a caller's 64, or thousands from many callers while
// xenstored is slow) cannot make the daemon hold gigabytes. Past it a call
// gets LimitExceeded at once.
inline constexpr size_t MaxBytesHeldByAtomicCalls = 32 << 20;

// "/a, /b, /c and 47 more": what a call is about, for messages and logs.
// `path` gives an element's path (a map's entries are pairs).
template <class Range, class Path>
std::string describePaths(const Range& paths, Path path)
{
    std::string text;
    size_t shown = 0;
    for (const auto& element : paths) {
        if (shown == 3)
            break;
        text += (shown++ ? ", " : "") + path(element);
    }
    if (paths.size() > shown)
        text += " and " + std::to_string(paths.size() - shown) + " more";
    return text;
}
inline std::string describePaths(const std::vector<std::string>& paths)
{
    return describePaths(paths, [](const std::string& p) { return p; });
}
template <class V>
std::string describePaths(const std::map<std::string, V>& values)
{
    return describePaths(values, [](const auto& entry) { return entry.first; });
}

class AtomicCalls {
public:
    using Texts = std::map<std::string, std::string>;
    using Bytes = std::map<std::string, std::vector<uint8_t>>;

    // The retry limit is read from the Gate's configuration at each retry,
    // so a reload applies to calls under way.
    AtomicCalls(sd_event* loop, Gate& gate, XenStoreLink& link);
    ~AtomicCalls();
    AtomicCalls(const AtomicCalls&) = delete;
    AtomicCalls& operator=(const AtomicCalls&) = delete;

    void readMany(const Answer<Texts>& a, const std::vector<std::string>& paths, const Scope& s);
    void readManyBytes(const Answer<Bytes>& a, const std::vector<std::string>& paths,
                       const Scope& s);
    void writeMany(const Answer<>& a, const Texts& values, const Scope& s);
    void writeManyBytes(const Answer<>& a, const Bytes& values, const Scope& s);
    void removeMany(const Answer<>& a, const std::vector<std::string>& paths, const Scope& s);
    void compareAndWrite(const Answer<bool, std::string>& a, const std::string& path,
                         const std::string& expected, const std::string& value, const Scope& s);
    void writeIfAbsent(const Answer<bool, std::string>& a, const std::string& path,
                       const std::string& value, const Scope& s);

    // How one attempt ended, once xenstored answered its requests: the
    // transaction is committed or aborted and then `answer` runs, or the
    // call fails (`conflict`: because xenstored said EAGAIN).
    struct Outcome {
        bool commit = false;
        std::function<void()> answer;
        std::optional<sdbus::Error> failure;
        bool conflict = false;
    };
    // Sends one attempt's requests in transaction `tx` and calls `decide`
    // once, with how it ended.
    using Body = std::function<void(xs::Client&, xs::TxId, std::function<void(Outcome)> decide)>;

private:
    class Run;
    struct Admission;
    using Paths = std::shared_ptr<const std::vector<std::string>>;

    // Every path with every one of `accesses` through the Gate, in order,
    // each after the one before it passed; then the transaction object's
    // own check; then `body` runs.
    // `bytes`: what the call holds, counted against MaxBytesHeldByAtomicCalls
    // until it is answered.
    template <class... T>
    void admit(const Answer<T...>& a, size_t bytes, size_t paths,
               std::function<const std::string&(size_t)> pathAt, std::vector<Access> accesses,
               const Scope& s, Body body);
    template <class... T>
    void admitNext(const Answer<T...>& a, const std::shared_ptr<Admission>& admission);
    template <class... T>
    void run(const Answer<T...>& a, xs::Client& client, xs::TxId tx, Body body,
             std::shared_ptr<const void> held);
    // A claim on `bytes` of MaxBytesHeldByAtomicCalls, given back when the
    // last copy goes; null when the bytes are not there to be had.
    std::shared_ptr<const void> hold(size_t bytes);

    // `bytes`: the paths' size, for the bounds.
    static std::optional<sdbus::Error> checkedPaths(const std::string& what,
                                                    const std::vector<std::string>& given,
                                                    Paths& out, size_t& bytes);
    void readThenWrite(const Answer<bool, std::string>& a, const std::string& path,
                       const std::string& value, size_t bytes, const Scope& s,
                       std::function<std::optional<Outcome>(xs::Result<std::string>&)> judge);
    template <class Values>
    void writeValues(const Answer<>& a, const Values& values, const Scope& s);
    template <class Values>
    void readValues(const Answer<Values>& a, const std::vector<std::string>& paths, const Scope& s);

    // Run's pause before its next attempt.
    void pause(const std::shared_ptr<Run>& run, unsigned attempt);
    static int onPaused(sd_event_source* source, uint64_t usec, void* userdata);

    sd_event* loop_;
    Gate& gate_;
    XenStoreLink& link_;
    std::minstd_rand random_;
    // Runs waiting out their pause: kept here, not by their timers, so that
    // whatever is pausing when the daemon stops goes with it.
    std::unordered_set<std::shared_ptr<Run>> pausing_;
    // Bytes the calls under way hold, shared with each call's claim: a
    // claim may go after this object does, with the xenstored connection's
    // requests at shutdown.
    std::shared_ptr<size_t> held_ = std::make_shared<size_t>(0);
};

}  // namespace xsd
