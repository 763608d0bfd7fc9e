// How the client lives on one connection, against a peer that plays
// xenstored: replies matched by req_id in any order, watch events between
// replies, requests queued beyond the in-flight bound, and every way the
// connection can end — each one completing every request still waiting.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/socket.h>

#include "fake_xenstored.h"
#include "protocol/client.h"
#include "tests/harness/event_loop.h"

using namespace xs;
using namespace std::string_literals;
using xsd::test::EventLoop;

namespace {

class ClientConnection : public ::testing::Test {
protected:
    void open(size_t maxInFlight = 1024)
    {
        Client::Handlers h;
        h.watchEvent = [this](const std::string& path, const std::string& token) {
            log.push_back("event " + path + " " + token);
        };
        h.disconnected = [this](const std::string& reason) {
            ++disconnects;
            disconnectReason = reason;
        };
        client = std::make_unique<Client>(loop.get(), peer.takeClientFd(), h, maxInFlight);
    }

    // A read whose completion is logged as "read <path> <value|error>".
    void read(const std::string& path)
    {
        client->read(path, 0, [this, path](Result<std::string> r) {
            log.push_back("read " + path + " " + (r ? r.value() : "error"));
            if (!r)
                errors.push_back(r.error());
        });
    }

    Message takeRequest()
    {
        EXPECT_TRUE(loop.runUntil([&] { return !peer.received.empty(); }));
        if (peer.received.empty())
            return {};
        Message m = peer.received.front();
        peer.received.pop_front();
        return m;
    }

    EventLoop loop;
    test::FakeXenstored peer{loop.get()};
    std::unique_ptr<Client> client;
    std::vector<std::string> log;
    std::vector<Error> errors;
    int disconnects = 0;
    std::string disconnectReason;
};

void expectConnectionErrors(const std::vector<Error>& errors, size_t count)
{
    ASSERT_EQ(errors.size(), count);
    for (const auto& e : errors) {
        EXPECT_EQ(e.kind, Error::Kind::Connection) << e.message;
        EXPECT_EQ(e.errnoName, "") << e.message;
        EXPECT_FALSE(e.message.empty());
    }
}

}  // namespace

TEST_F(ClientConnection, RepliesMatchedByReqIdInAnyOrder)
{
    open();
    read("/one");
    read("/two");
    read("/three");
    Message a = takeRequest(), b = takeRequest(), c = takeRequest();
    EXPECT_EQ(a.payload, "/one\0"s);
    EXPECT_EQ(b.payload, "/two\0"s);
    EXPECT_EQ(c.payload, "/three\0"s);
    EXPECT_NE(a.header.reqId, b.header.reqId);
    EXPECT_NE(b.header.reqId, c.header.reqId);
    EXPECT_NE(a.header.reqId, c.header.reqId);
    // Answered last first, all in one write, plus one answer to a request
    // nobody made, which must be ignored.
    std::string burst = encodeMessage({MessageType::Read, c.header.reqId, 0, 0}, "3") +
                        encodeMessage({MessageType::Read, 0xdead, 0, 0}, "stray") +
                        encodeMessage({MessageType::Read, a.header.reqId, 0, 0}, "1") +
                        encodeMessage({MessageType::Read, b.header.reqId, 0, 0}, "2");
    peer.sendRaw(burst);
    ASSERT_TRUE(loop.runUntil([&] { return log.size() == 3; }));
    EXPECT_EQ(log, (std::vector<std::string>{"read /three 3", "read /one 1", "read /two 2"}));
    EXPECT_EQ(client->pending(), 0u);
    EXPECT_TRUE(client->connected());
}

TEST_F(ClientConnection, WatchEventBetweenReplies)
{
    open();
    read("/r1");
    read("/r2");
    Message r1 = takeRequest(), r2 = takeRequest();
    std::string burst = encodeMessage({MessageType::Read, r1.header.reqId, 0, 0}, "a") +
                        encodeMessage({MessageType::WatchEvent, 0, 0, 0}, "/w/x\0tok\0"s) +
                        encodeMessage({MessageType::Read, r2.header.reqId, 0, 0}, "b");
    // Split mid-event, so the event straddles two reads.
    peer.sendRaw(burst.substr(0, HeaderSize + 1 + HeaderSize + 3));
    loop.runFor(std::chrono::milliseconds(20));
    peer.sendRaw(burst.substr(HeaderSize + 1 + HeaderSize + 3));
    ASSERT_TRUE(loop.runUntil([&] { return log.size() == 3; }));
    EXPECT_EQ(log, (std::vector<std::string>{"read /r1 a", "event /w/x tok", "read /r2 b"}));
}

TEST_F(ClientConnection, MoreThanMaxInFlightWaitInOrder)
{
    open(2);
    for (auto p : {"/q1", "/q2", "/q3", "/q4", "/q5"})
        read(p);
    EXPECT_EQ(client->pending(), 5u);
    loop.runFor(std::chrono::milliseconds(20));
    ASSERT_EQ(peer.received.size(), 2u) << "only two may be in flight";
    Message first = takeRequest();
    peer.reply(first, "v1");
    ASSERT_TRUE(loop.runUntil([&] { return peer.received.size() == 2; }));
    EXPECT_EQ(peer.received.back().payload, "/q3\0"s) << "queued requests go out in order";
    EXPECT_EQ(client->pending(), 4u);

    // The two in flight and the two still queued all fail with the connection.
    peer.close();
    ASSERT_TRUE(loop.runUntil([&] { return disconnects == 1; }));
    expectConnectionErrors(errors, 4);
    EXPECT_EQ(client->pending(), 0u);
}

TEST_F(ClientConnection, PeerClosingFailsEveryPendingRequest)
{
    open();
    std::vector<Error> failed;
    auto keep = [&](auto r) {
        ASSERT_FALSE(r);
        failed.push_back(r.error());
    };
    client->read("/a", 0, keep);
    client->write("/a", "v", 0, keep);
    client->directory("/", 0, keep);
    client->watch("/w", "t", keep);
    client->transactionStart(keep);
    client->transactionEnd(3, true, keep);
    client->getDomainPath(0, keep);
    EXPECT_EQ(client->pending(), 7u);
    ASSERT_TRUE(loop.runUntil([&] { return peer.requestsSeen == 7; }));

    peer.close();
    ASSERT_TRUE(loop.runUntil([&] { return disconnects > 0; }, std::chrono::seconds(1)));
    expectConnectionErrors(failed, 7);
    EXPECT_EQ(disconnects, 1);
    EXPECT_EQ(disconnectReason, "xenstored closed the connection");
    EXPECT_NE(failed[0].message.find("xenstored closed the connection"), std::string::npos);
    EXPECT_FALSE(client->connected());
    EXPECT_EQ(client->pending(), 0u);

    // Dead for good: a new request fails at once, and nothing runs twice.
    bool late = false;
    client->read("/a", 0, [&](auto r) {
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().kind, Error::Kind::Connection);
        late = true;
    });
    EXPECT_TRUE(late);
    loop.runFor(std::chrono::milliseconds(20));
    EXPECT_EQ(disconnects, 1);
}

TEST_F(ClientConnection, WritingToAHungUpPeerIsAnErrorNotSigpipe)
{
    // The peer is gone but the loop has not run yet, so the client does not
    // know: its write hits a closed socket. That must fail the request, not
    // kill the whole process with SIGPIPE.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    struct sigaction old {};
    sigaction(SIGPIPE, &dfl, &old);
    open();
    peer.close();
    read("/after-hangup");
    loop.runUntil([&] { return disconnects == 1; }, std::chrono::seconds(1));
    sigaction(SIGPIPE, &old, nullptr);
    expectConnectionErrors(errors, 1);
    EXPECT_EQ(disconnects, 1);
    EXPECT_FALSE(client->connected());
}

TEST_F(ClientConnection, CorruptStreamEndsTheConnection)
{
    open();
    read("/a");
    read("/b");
    ASSERT_TRUE(loop.runUntil([&] { return peer.requestsSeen == 2; }));
    std::string bogus(HeaderSize, '\0');
    bogus[0] = 99;  // no such message type
    peer.sendRaw(bogus);
    ASSERT_TRUE(loop.runUntil([&] { return disconnects == 1; }));
    expectConnectionErrors(errors, 2);
    EXPECT_NE(disconnectReason.find("unknown XenStore message type 99"), std::string::npos)
        << disconnectReason;
    EXPECT_NE(errors[0].message.find("corrupt stream"), std::string::npos) << errors[0].message;
}

TEST_F(ClientConnection, CompletionMayDestroyTheClient)
{
    // A completion that drops the Client (as a daemon does on disconnect)
    // must not have the client touch itself afterwards.
    open();
    int completions = 0;
    client->read("/a", 0, [&](auto) {
        ++completions;
        client.reset();
    });
    client->read("/b", 0, [&](auto) { ++completions; });
    ASSERT_TRUE(loop.runUntil([&] { return peer.requestsSeen == 2; }));
    peer.close();
    loop.runFor(std::chrono::milliseconds(50));
    EXPECT_FALSE(client);
    EXPECT_GE(completions, 1);
    EXPECT_LE(completions, 2);
}

// The XenBus device takes each write() as (part of) one message and drops
// whatever follows the end of that message in the same write. A transport
// that keeps write boundaries (SOCK_SEQPACKET) shows whether the client ever
// puts two messages in one write — the moment it could is when it has to
// wait for the device and several requests pile up.
TEST(ClientWrites, OneMessagePerWrite)
{
    EventLoop loop;
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    int small = 1;  // the kernel's minimum: a handful of messages fit
    ASSERT_EQ(setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    Client client(loop.get(), fds[0], {});
    constexpr int N = 40;
    for (int i = 0; i < N; ++i)
        client.write("/k" + std::to_string(i), std::string(100, 'v'), 0, [](auto) {});

    int frames = 0, records = 0;
    auto drain = [&] {
        char buf[65536];
        ssize_t n;
        while ((n = recv(fds[1], buf, sizeof buf, 0)) > 0) {
            ++records;
            FrameDecoder d;
            d.feed({buf, static_cast<size_t>(n)});
            Message m;
            ASSERT_EQ(d.next(m), FrameDecoder::Status::Frame) << "record " << records;
            EXPECT_EQ(m.payload, "/k" + std::to_string(frames) + '\0' + std::string(100, 'v'));
            ++frames;
            EXPECT_EQ(d.buffered(), 0u) << "record " << records << " holds more than one message";
        }
    };
    drain();
    ASSERT_LT(frames, N) << "the socket took everything at once; the test proves nothing";
    ASSERT_TRUE(loop.runUntil([&] {
        drain();
        return frames == N || !client.connected();
    }));
    EXPECT_TRUE(client.connected());
    EXPECT_EQ(frames, N);
    EXPECT_EQ(records, N);
    ::close(fds[1]);
}

// Reads of one node that wait together to be written out share one READ;
// a read made after any other request (a write, a watch) never joins one
// made before it, and reads in a transaction never share.
TEST_F(ClientConnection, ConcurrentReadsOfOneNodeShareOneRead)
{
    open();
    read("/same");
    read("/same");
    read("/other");
    read("/same");
    client->write("/same", "new", NoTransaction, [](auto) {});
    read("/same");
    client->read("/same", 7, [this](Result<std::string> r) {
        log.push_back("tx read " + (r ? r.value() : r.error().errnoName));
    });
    Message r1 = takeRequest(), r2 = takeRequest(), w = takeRequest(), r3 = takeRequest(),
            r4 = takeRequest();
    EXPECT_EQ(r1.payload, "/same\0"s);
    EXPECT_EQ(r2.payload, "/other\0"s);
    EXPECT_EQ(w.header.type, MessageType::Write);
    EXPECT_EQ(r3.payload, "/same\0"s);  // after the write: a READ of its own
    EXPECT_EQ(r4.header.txId, 7u);      // in a transaction: its own too
    loop.runFor(std::chrono::milliseconds(20));
    EXPECT_TRUE(peer.received.empty()) << "more requests than expected";
    EXPECT_EQ(peer.requestsSeen, 5u);

    peer.reply(r1, "old");
    peer.reply(r2, "o");
    peer.reply(w, "OK\0"s);
    peer.reply(r3, "new");
    peer.replyError(r4, "ENOENT");
    ASSERT_TRUE(loop.runUntil([&] { return log.size() == 6; }));
    EXPECT_EQ(log, (std::vector<std::string>{"read /same old", "read /same old", "read /same old",
                                             "read /other o", "read /same new", "tx read ENOENT"}));
    EXPECT_EQ(client->pending(), 0u);
}

TEST_F(ClientConnection, ReadsAfterTheWriteOutDoNotJoinEarlierOnes)
{
    open();
    read("/k");
    loop.runOnce();  // the READ is written out
    read("/k");      // may not be answered by a READ sent before it was made
    Message a = takeRequest(), b = takeRequest();
    EXPECT_EQ(a.payload, "/k\0"s);
    EXPECT_EQ(b.payload, "/k\0"s);
    EXPECT_NE(a.header.reqId, b.header.reqId);
}

TEST_F(ClientConnection, SharedReadFailsForEveryReaderWhenTheConnectionDrops)
{
    open();
    read("/gone");
    read("/gone");
    takeRequest();
    peer.close();
    ASSERT_TRUE(loop.runUntil([&] { return errors.size() == 2; }));
    expectConnectionErrors(errors, 2);
}

TEST_F(ClientConnection, SilentPeerFailsTheConnectionAfterTheReplyTimeout)
{
    open(2);
    client->setReplyTimeout(200'000);
    for (auto p : {"/s1", "/s2", "/s3"})
        read(p);
    // One answered in time does not count against it; the others wait.
    Message first = takeRequest();
    peer.reply(first, "v1");
    ASSERT_TRUE(loop.runUntil([&] { return log.size() == 1; }));
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(loop.runUntil([&] { return disconnects == 1; }, std::chrono::seconds(2)));
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150));
    EXPECT_EQ(disconnectReason, "xenstored did not answer for 200 ms");
    // The one in flight and the one queued behind it.
    expectConnectionErrors(errors, 2);
    EXPECT_NE(errors[0].message.find("did not answer"), std::string::npos) << errors[0].message;
    EXPECT_FALSE(client->connected());
}

TEST_F(ClientConnection, APeerThatKeepsAnsweringIsNeverTimedOut)
{
    open();
    client->setReplyTimeout(100'000);
    // Longer than the timeout in all, each request answered well within it.
    for (int i = 0; i < 8; ++i) {
        read("/k" + std::to_string(i));
        Message m = takeRequest();
        loop.runFor(std::chrono::milliseconds(40));
        peer.reply(m, "v");
        ASSERT_TRUE(loop.runUntil([&] { return log.size() == size_t(i + 1); }));
    }
    loop.runFor(std::chrono::milliseconds(250));  // idle: nothing is waiting
    EXPECT_EQ(disconnects, 0);
    EXPECT_TRUE(client->connected());
    EXPECT_TRUE(errors.empty());
}
