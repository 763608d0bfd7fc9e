// Log lines on stderr with sd-daemon priority prefixes ("<6>started"), so
// journald files each under the right priority; plain text elsewhere.
//
// Writing a line never waits: under systemd stderr is a stream socket to
// journald, and a journald that falls behind (or is stopped) must not stall
// every call to the daemon, nor may a caller that makes the daemon log
// (refused calls, --verbose) make it wait. A line that does not fit now
// waits, whole and in order, in a bounded queue written out from the event
// loop; past the bound lines are dropped and counted, and a line saying how
// many goes out once the queue has drained.
#pragma once

#include <systemd/sd-event.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <sstream>
#include <string>

namespace xsd::log {

enum class Priority { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };

void setVerbose(bool verbose);
bool verbose();
void write(Priority priority, const std::string& line);

// From now on the lines stderr does not take at once are written out by
// `loop` when it does (until then they wait in the queue).
void attach(sd_event* loop);
// At exit: writes out what is queued, waiting at most `bound` in all, and
// lets go of the loop.
void finish(std::chrono::milliseconds bound);
// For a signal handler (async-signal-safe): one attempt to write `line`
// (with its newline) that never waits; the line is lost if it does not fit.
void writeFromSignalHandler(const char* line, size_t size) noexcept;

// A descriptor that log lines go to without waiting, and the queue of
// those it did not take yet. The daemon has one, on stderr.
class Sink {
public:
    static constexpr size_t DefaultBound = 64 * 1024;

    // `fd` stays the caller's; a pipe or terminal is reopened (see log.cc).
    explicit Sink(int fd, size_t bound = DefaultBound);
    ~Sink();
    Sink(const Sink&) = delete;
    Sink& operator=(const Sink&) = delete;

    // `line` ends with its newline.
    void write(std::string line);
    void attach(sd_event* loop);
    void finish(std::chrono::milliseconds bound);
    void writeFromSignalHandler(const char* line, size_t size) noexcept;

    size_t queuedBytes() const { return queuedBytes_; }
    uint64_t dropped() const { return dropped_; }
    // Whether writes may find the descriptor full (a socket, pipe or
    // terminal); false for a file, which takes every line at once.
    bool mayBeFull() const { return nonBlocking_; }

private:
    // How much of [data, data+size) the descriptor took now; -1 when it is
    // broken (the line is lost: there is no one to tell).
    ssize_t put(const char* data, size_t size) noexcept;
    // Writes the queue out as far as the descriptor takes it, the drop line
    // when it has drained; (dis)arms the IO source.
    void writeOut();
    static int onWritable(sd_event_source*, int fd, uint32_t revents, void* data);

    int fd_;
    int ownFd_ = -1;  // the reopened pipe or terminal, if any
    bool socket_ = false;
    bool nonBlocking_ = false;
    size_t bound_;
    std::deque<std::string> queue_;  // the front may be a line's rest
    size_t queuedBytes_ = 0;
    uint64_t dropped_ = 0;
    sd_event_source* source_ = nullptr;
};

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
