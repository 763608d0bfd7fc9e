// A log nobody reads: the daemon wrote each log line to stderr with a
// blocking fprintf, so once journald fell behind (or was stopped, or the
// pipe of a daemon run by hand was not read) every call to the daemon waited
// on it, and a caller could bring that about by making the daemon log
// (--verbose, refused calls). Now lines that do not fit wait in a bounded
// queue, then are dropped and counted.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "tests/harness/stack.h"

using namespace xsd::test;
using namespace std::chrono_literals;

namespace {

enum class Channel { Socket, Pipe };

// Reads what `fd` has until a line matches `re` or `timeout` passes.
std::string readUntil(int fd, const std::regex& re, std::chrono::milliseconds timeout)
{
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!std::regex_search(got, re) && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        char buf[65536];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        got.append(buf, static_cast<size_t>(n));
    }
    return got;
}

class UnreadLog : public ::testing::TestWithParam<Channel> {};

}  // namespace

// With stderr a socket (as journald's) or a pipe that the test never reads,
// and --verbose so that every call logs a line, 4,000 calls are each
// answered within 2 s (the old daemon stopped answering after a few hundred
// and never answered again); then the test reads, and finds the lines whole
// and the line that counts those dropped.
TEST_P(UnreadLog, CallsAreAnsweredAndTheDroppedLinesCounted)
{
    int ends[2];
    if (GetParam() == Channel::Socket)
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends), 0);
    else
        ASSERT_EQ(pipe2(ends, O_CLOEXEC), 0);
    Stack::Options o;  // --verbose; the built-in rules: root may do anything
    o.daemonStderr = ends[1];
    Stack stack(o);
    close(ends[1]);
    // A long path makes long lines: 4,000 of them are more than a pipe
    // and the daemon's queue hold together.
    const std::string key = "/logged/" + std::string(200, 'k');
    stack.xenstored().write(key, "v");

    auto conn = stack.connection();
    auto proxy = sdbus::createProxy(*conn, BusName, ObjectPath);
    proxy->finishRegistration();
    constexpr int Calls = 4000;
    for (int i = 0; i < Calls; ++i) {
        std::string value;
        try {
            proxy->callMethod("Read").onInterface(Interface).withArguments(key).withTimeout(2s)
                .storeResultsTo(value);
        } catch (const sdbus::Error& e) {
            FAIL() << "call " << i << " of " << Calls << ": " << e.getName() << ": " << e.getMessage();
        }
        ASSERT_EQ(value, "v");
    }
    ASSERT_TRUE(stack.daemon().running());

    const std::regex dropLine(R"(\n<4>([0-9]+) log lines dropped: the log did not keep up\n)");
    std::string log = readUntil(ends[0], dropLine, 20s);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(log, m, dropLine)) << log.size() << " bytes read, ending:\n"
                                                     << log.substr(log.size() - std::min<size_t>(log.size(), 2000));
    EXPECT_GT(std::stoul(m[1]), 0u);
    // Every line whole, with its priority: none cut short by another.
    std::istringstream lines(log.substr(0, static_cast<size_t>(m.position(0) + m.length(0))));
    std::string line;
    const std::regex whole(R"(<[3-7]>[^<]*)");
    size_t n = 0;
    for (; std::getline(lines, line); ++n)
        ASSERT_TRUE(std::regex_match(line, whole)) << "line " << n << ": " << line;
    EXPECT_GT(n, 100u);

    // And the log, read again, takes lines as they come.
    proxy->callMethod("Read").onInterface(Interface).withArguments("/after-the-drop").withTimeout(2s)
        .dontExpectReply();
    const std::regex after(R"(/after-the-drop)");
    EXPECT_TRUE(std::regex_search(readUntil(ends[0], after, 10s), after));
    close(ends[0]);
}

INSTANTIATE_TEST_SUITE_P(Stderr, UnreadLog, ::testing::Values(Channel::Socket, Channel::Pipe),
                         [](const auto& info) {
                             return info.param == Channel::Socket ? std::string("Socket")
                                                                  : std::string("Pipe");
                         });
