#include "daemon/log.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace xsd::log {

Sink::Sink(int fd, size_t bound) : fd_(fd), bound_(bound)
{
    struct stat st {};
    if (fstat(fd, &st) < 0)
        return;
    if (S_ISSOCK(st.st_mode)) {
        // journald's stream socket: send() can be told not to wait, call by
        // call, leaving the file description (shared with whoever else
        // holds it) as it is.
        socket_ = nonBlocking_ = true;
        return;
    }
    if (S_ISFIFO(st.st_mode) || (S_ISCHR(st.st_mode) && isatty(fd))) {
        // A pipe or a terminal has no per-call "do not wait". O_NONBLOCK on
        // fd 2 itself would change the file description it shares with the
        // shell that started us (and with its stdin, for a terminal: the
        // shell's reads would then fail). Opening /proc/self/fd/N makes a
        // description of our own on the same pipe or terminal, which may be
        // non-blocking alone. Where that is refused (no reader left, no
        // /proc), lines are written as before and may wait.
        const std::string self = "/proc/self/fd/" + std::to_string(fd);
        ownFd_ = open(self.c_str(), O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        nonBlocking_ = ownFd_ >= 0;
    }
    // Anything else (a file, /dev/null) takes every line at once.
}

Sink::~Sink()
{
    sd_event_source_disable_unref(source_);
    if (ownFd_ >= 0)
        close(ownFd_);
}

ssize_t Sink::put(const char* data, size_t size) noexcept
{
    for (;;) {
        ssize_t n = socket_ ? send(fd_, data, size, MSG_DONTWAIT | MSG_NOSIGNAL)
                            : ::write(ownFd_ >= 0 ? ownFd_ : fd_, data, size);
        if (n >= 0)
            return n;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

void Sink::write(std::string line)
{
    if (queue_.empty()) {
        ssize_t n = put(line.data(), line.size());
        if (n < 0 || static_cast<size_t>(n) == line.size())
            return;
        // The rest of a line begun goes first, whatever the bound: the
        // reader must never see half a line followed by another.
        line.erase(0, static_cast<size_t>(n));
        queuedBytes_ += line.size();
        queue_.push_back(std::move(line));
        writeOut();
        return;
    }
    // Once one line is dropped, every line is until the queue has drained,
    // so the line that counts them stands where they are missing.
    if (dropped_ > 0 || queuedBytes_ + line.size() > bound_) {
        ++dropped_;
        return;
    }
    queuedBytes_ += line.size();
    queue_.push_back(std::move(line));
    writeOut();
}

void Sink::writeOut()
{
    for (;;) {
        if (queue_.empty()) {
            if (dropped_ == 0)
                break;
            std::string note = "<4>" + std::to_string(dropped_) +
                               (dropped_ == 1 ? " log line" : " log lines") +
                               " dropped: the log did not keep up\n";
            dropped_ = 0;
            queuedBytes_ += note.size();
            queue_.push_back(std::move(note));
        }
        std::string& head = queue_.front();
        ssize_t n = put(head.data(), head.size());
        if (n >= 0 && static_cast<size_t>(n) < head.size()) {
            head.erase(0, static_cast<size_t>(n));
            queuedBytes_ -= static_cast<size_t>(n);
            break;
        }
        // Written, or lost to a broken log (no one to tell).
        queuedBytes_ -= head.size();
        queue_.pop_front();
    }
    if (source_)
        sd_event_source_set_enabled(source_, queue_.empty() ? SD_EVENT_OFF : SD_EVENT_ON);
}

int Sink::onWritable(sd_event_source*, int, uint32_t, void* data)
{
    static_cast<Sink*>(data)->writeOut();
    return 0;
}

void Sink::attach(sd_event* loop)
{
    if (source_ || !nonBlocking_)
        return;
    if (sd_event_add_io(loop, &source_, ownFd_ >= 0 ? ownFd_ : fd_, EPOLLOUT, &Sink::onWritable,
                        this) < 0) {
        source_ = nullptr;  // lines that wait go out with the next that fits
        return;
    }
    sd_event_source_set_description(source_, "log");
    writeOut();  // what start-up could not write, and (dis)arm
}

void Sink::finish(std::chrono::milliseconds bound)
{
    const auto deadline = std::chrono::steady_clock::now() + bound;
    writeOut();
    while (!queue_.empty()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            break;
        pollfd p{ownFd_ >= 0 ? ownFd_ : fd_, POLLOUT, 0};
        if (poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR)
            break;
        writeOut();
    }
    source_ = sd_event_source_disable_unref(source_);
}

void Sink::writeFromSignalHandler(const char* line, size_t size) noexcept
{
    // Only when nothing waits: the handler may have interrupted a line
    // half written.
    if (queuedBytes_ == 0)
        put(line, size);
}

namespace {
bool verboseOn = false;
// Made before main(), so a signal handler never finds it half made.
Sink stderrSink(STDERR_FILENO);
}  // namespace

void setVerbose(bool v) { verboseOn = v; }
bool verbose() { return verboseOn; }

void write(Priority priority, const std::string& line)
{
    // One write per line: a line is never interleaved with another.
    stderrSink.write("<" + std::to_string(static_cast<int>(priority)) + ">" + line + "\n");
}

void attach(sd_event* loop) { stderrSink.attach(loop); }
void finish(std::chrono::milliseconds bound) { stderrSink.finish(bound); }
void writeFromSignalHandler(const char* line, size_t size) noexcept
{
    stderrSink.writeFromSignalHandler(line, size);
}

}  // namespace xsd::log
