// The log's sink alone, on real sockets and pipes that the test fills by
// not reading them: lines never wait, the queue is bounded, what is dropped
// is counted where it went missing.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>

#include "daemon/log.h"

using xsd::log::Sink;
using namespace std::chrono_literals;

namespace {

// Both ends of a socket pair or a pipe; [1] is written.
struct Channel {
    explicit Channel(bool socket)
    {
        if (socket)
            EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd), 0);
        else
            EXPECT_EQ(pipe2(fd, O_CLOEXEC), 0);
    }
    ~Channel()
    {
        for (int f : fd)
            if (f >= 0)
                close(f);
    }
    // Everything written so far.
    std::string drain()
    {
        std::string got;
        char buf[65536];
        pollfd p{fd[0], POLLIN, 0};
        while (poll(&p, 1, 0) > 0) {
            ssize_t n = read(fd[0], buf, sizeof buf);
            if (n <= 0)
                break;
            got.append(buf, static_cast<size_t>(n));
        }
        return got;
    }
    int fd[2] = {-1, -1};
};

std::string line(int i) { return "<7>line " + std::to_string(i) + " " + std::string(80, 'x') + "\n"; }

// Writes lines until the sink holds some back; returns how many it wrote.
int fill(Sink& sink)
{
    int i = 0;
    while (sink.queuedBytes() == 0 && i < 1'000'000)
        sink.write(line(i++));
    return i;
}

class LogSink : public ::testing::TestWithParam<bool> {};

}  // namespace

TEST_P(LogSink, AFullDescriptorQueuesThenDropsAndCountsWithoutWaiting)
{
    Channel c(GetParam());
    Sink sink(c.fd[1], 4096);
    ASSERT_TRUE(sink.mayBeFull());
    const auto start = std::chrono::steady_clock::now();
    int written = fill(sink);
    // Up to the bound, then dropped: nothing here waits for the reader.
    for (int i = 0; i < 200; ++i)
        sink.write(line(written + i));
    EXPECT_LE(sink.queuedBytes(), 4096u + line(0).size());
    EXPECT_GT(sink.dropped(), 100u);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    const uint64_t dropped = sink.dropped();

    // The reader reads; the rest goes out with the count, once drained.
    std::string got;
    for (int round = 0; round < 100 && got.find("dropped") == std::string::npos; ++round) {
        got += c.drain();
        sink.finish(100ms);
        got += c.drain();
    }
    const std::string note =
        "<4>" + std::to_string(dropped) + " log lines dropped: the log did not keep up\n";
    ASSERT_NE(got.find(note), std::string::npos) << got.substr(got.size() - std::min<size_t>(got.size(), 500));
    std::istringstream lines(got);
    for (std::string l; std::getline(lines, l);)
        ASSERT_TRUE(l + "\n" == note || (l.starts_with("<7>line ") && l.ends_with(std::string(80, 'x'))))
            << "a line cut short: " << l;
    EXPECT_EQ(got.substr(got.size() - note.size()), note) << "the count stands where lines went missing";
    EXPECT_EQ(sink.queuedBytes(), 0u);
    EXPECT_EQ(sink.dropped(), 0u);

    // Then lines go straight out again.
    sink.write(line(-1));
    EXPECT_EQ(c.drain(), line(-1));
}

TEST_P(LogSink, LinesComeOutWholeAndInOrder)
{
    Channel c(GetParam());
    Sink sink(c.fd[1], 1 << 20);
    // Lines longer than a pipe's atomic write, so some are taken in part.
    std::string expected;
    std::string got;
    for (int i = 0; i < 2000; ++i) {
        std::string l = "<6>" + std::to_string(i) + std::string(5000, 'y') + "\n";
        expected += l;
        sink.write(l);
        if (i % 5 == 0)
            got += c.drain();
    }
    for (int round = 0; round < 1000 && sink.queuedBytes() > 0; ++round) {
        got += c.drain();
        sink.finish(10ms);
    }
    got += c.drain();
    EXPECT_EQ(sink.dropped(), 0u);
    EXPECT_EQ(got, expected);
}

TEST_P(LogSink, FinishWaitsNoLongerThanItsBound)
{
    Channel c(GetParam());
    Sink sink(c.fd[1], 4096);
    fill(sink);
    const auto start = std::chrono::steady_clock::now();
    sink.finish(200ms);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, 150ms);
    EXPECT_LT(took, 5s);
    EXPECT_GT(sink.queuedBytes(), 0u);
}

// A pipe is written through a description of the sink's own: the one it
// was given (shared with whoever started the daemon) stays blocking.
TEST(LogSinkPipe, TheSharedDescriptionStaysBlocking)
{
    Channel c(false);
    Sink sink(c.fd[1]);
    fill(sink);
    EXPECT_EQ(fcntl(c.fd[1], F_GETFL) & O_NONBLOCK, 0);
}

TEST(LogSinkFile, AFileTakesEveryLine)
{
    char path[] = "/tmp/log-sink-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    unlink(path);
    Sink sink(fd, 16);
    EXPECT_FALSE(sink.mayBeFull());
    off_t bytes = 0;
    for (int i = 0; i < 1000; ++i) {
        sink.write(line(i));
        bytes += static_cast<off_t>(line(i).size());
    }
    EXPECT_EQ(sink.queuedBytes(), 0u);
    EXPECT_EQ(sink.dropped(), 0u);
    EXPECT_EQ(lseek(fd, 0, SEEK_END), bytes);
    close(fd);
}

INSTANTIATE_TEST_SUITE_P(Channels, LogSink, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Socket" : "Pipe"; });
