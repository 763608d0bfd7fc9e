// What each client operation puts on the wire and how it reads the reply,
// byte for byte, against a peer that plays xenstored. This is also the only
// place INTRODUCE is exercised end to end: the test oxenstored crashes on it
// (see client_domain_test.cc).
#include <gtest/gtest.h>

#include "fake_xenstored.h"
#include "protocol/client.h"
#include "tests/harness/event_loop.h"

using namespace xs;
using namespace std::string_literals;
using xsd::test::EventLoop;

namespace {

class ClientRequests : public ::testing::Test {
protected:
    void SetUp() override
    {
        client = std::make_unique<Client>(loop.get(), peer.takeClientFd(), Client::Handlers{});
    }

    // Starts an operation, checks the one request it sends, answers it with
    // `reply` (an ERROR when replyType is Error) and returns the result.
    template <class T>
    Result<T> exchange(std::function<void(Client::Done<T>)> start, MessageType type, uint32_t tx,
                       const std::string& payload, const std::string& reply,
                       MessageType replyType = MessageType::Invalid)
    {
        std::optional<Result<T>> out;
        start([&](Result<T> r) { out.emplace(std::move(r)); });
        EXPECT_TRUE(loop.runUntil([&] { return !peer.received.empty(); }))
            << messageTypeName(type) << " was not sent";
        if (peer.received.empty())
            return Error{Error::Kind::Connection, "", "not sent", "not sent"};
        Message req = peer.received.front();
        peer.received.pop_front();
        EXPECT_EQ(req.header.type, type) << messageTypeName(req.header.type);
        EXPECT_EQ(req.header.txId, tx) << messageTypeName(type);
        EXPECT_EQ(req.payload, payload) << messageTypeName(type);
        if (replyType == MessageType::Error)
            peer.send({MessageType::Error, req.header.reqId, req.header.txId, 0}, reply);
        else
            peer.reply(req, reply);
        EXPECT_TRUE(loop.runUntil([&] { return out.has_value(); }));
        if (!out)
            return Error{Error::Kind::Connection, "", "no completion", "no completion"};
        return std::move(*out);
    }

    // An operation refused before sending: completes at once, Invalid.
    template <class T>
    Error refused(std::function<void(Client::Done<T>)> start)
    {
        std::optional<Result<T>> out;
        start([&](Result<T> r) { out.emplace(std::move(r)); });
        EXPECT_TRUE(out.has_value()) << "an invalid request must complete before the call returns";
        if (!out || out->ok())
            return {Error::Kind::XenStore, "", "accepted", "accepted"};
        return out->error();
    }

    EventLoop loop;
    test::FakeXenstored peer{loop.get()};
    std::unique_ptr<Client> client;
};

}  // namespace

TEST_F(ClientRequests, DataOperations)
{
    auto read = exchange<std::string>([&](auto d) { client->read("/a/b", 0, d); },
                                      MessageType::Read, 0, "/a/b\0"s, "bin\0ary"s);
    ASSERT_TRUE(read);
    EXPECT_EQ(read.value(), "bin\0ary"s);  // a value is bytes; its NULs are its own

    // The value follows the path's NUL and has none of its own at the end.
    EXPECT_TRUE(exchange<Unit>([&](auto d) { client->write("/a/b", "v\0x"s, 7, d); },
                               MessageType::Write, 7, "/a/b\0v\0x"s, "OK\0"s));
    EXPECT_TRUE(exchange<Unit>([&](auto d) { client->write("rel/x", "", 0, d); },
                               MessageType::Write, 0, "rel/x\0"s, "OK\0"s));
    EXPECT_TRUE(exchange<Unit>([&](auto d) { client->mkdir("/m", 0, d); }, MessageType::Mkdir, 0,
                               "/m\0"s, "OK\0"s));
    EXPECT_TRUE(exchange<Unit>([&](auto d) { client->rm("/m", 3, d); }, MessageType::Rm, 3,
                               "/m\0"s, "OK\0"s));

    auto dir = exchange<std::vector<std::string>>(
        [&](auto d) { client->directory("/d", 0, d); }, MessageType::Directory, 0, "/d\0"s,
        "x\0y\0"s);
    ASSERT_TRUE(dir);
    EXPECT_EQ(dir.value(), (std::vector<std::string>{"x", "y"}));
    auto empty = exchange<std::vector<std::string>>(
        [&](auto d) { client->directory("/d", 0, d); }, MessageType::Directory, 0, "/d\0"s, "");
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty.value().empty());

    auto perms = exchange<std::vector<std::string>>(
        [&](auto d) { client->getPermissions("/p", 0, d); }, MessageType::GetPerms, 0, "/p\0"s,
        "n0\0r5\0"s);
    ASSERT_TRUE(perms);
    EXPECT_EQ(perms.value(), (std::vector<std::string>{"n0", "r5"}));
    EXPECT_TRUE(exchange<Unit>([&](auto d) { client->setPermissions("/p", {"n0", "r5"}, 0, d); },
                               MessageType::SetPerms, 0, "/p\0n0\0r5\0"s, "OK\0"s));
}

TEST_F(ClientRequests, XenStoreErrorsNameTheRequest)
{
    auto r = exchange<std::string>([&](auto d) { client->read("/a/b", 0, d); },
                                   MessageType::Read, 0, "/a/b\0"s, "ENOENT\0"s,
                                   MessageType::Error);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::XenStore);
    EXPECT_EQ(r.error().errnoName, "ENOENT");
    EXPECT_EQ(r.error().message, "READ /a/b: ENOENT (no such node)");
}

TEST_F(ClientRequests, Watches)
{
    EXPECT_TRUE(exchange<Unit>([&](auto d) { client->watch("/w", "tok-1", d); },
                               MessageType::Watch, 0, "/w\0tok-1\0"s, "OK\0"s));
    EXPECT_TRUE(exchange<Unit>([&](auto d) { client->watch("@introduceDomain", "", d); },
                               MessageType::Watch, 0, "@introduceDomain\0\0"s, "OK\0"s));
    EXPECT_TRUE(exchange<Unit>([&](auto d) { client->unwatch("@releaseDomain", "t", d); },
                               MessageType::Unwatch, 0, "@releaseDomain\0t\0"s, "OK\0"s));
    EXPECT_TRUE(exchange<Unit>([&](auto d) { client->resetWatches(d); },
                               MessageType::ResetWatches, 0, "\0"s, "OK\0"s));
}

TEST_F(ClientRequests, Transactions)
{
    auto tx = exchange<TxId>([&](auto d) { client->transactionStart(d); },
                             MessageType::TransactionStart, 0, "\0"s, "4711\0"s);
    ASSERT_TRUE(tx);
    EXPECT_EQ(tx.value(), 4711u);

    auto commit = exchange<bool>([&](auto d) { client->transactionEnd(4711, true, d); },
                                 MessageType::TransactionEnd, 4711, "T\0"s, "OK\0"s);
    ASSERT_TRUE(commit);
    EXPECT_TRUE(commit.value());

    // EAGAIN on commit is a conflict, not a failure.
    auto conflict = exchange<bool>([&](auto d) { client->transactionEnd(9, true, d); },
                                   MessageType::TransactionEnd, 9, "T\0"s, "EAGAIN\0"s,
                                   MessageType::Error);
    ASSERT_TRUE(conflict) << conflict.error().message;
    EXPECT_FALSE(conflict.value());

    auto abort = exchange<bool>([&](auto d) { client->transactionEnd(9, false, d); },
                                MessageType::TransactionEnd, 9, "F\0"s, "OK\0"s);
    ASSERT_TRUE(abort);
    // Any other error, and any error on abort, stays an error.
    auto gone = exchange<bool>([&](auto d) { client->transactionEnd(9, true, d); },
                               MessageType::TransactionEnd, 9, "T\0"s, "EIO\0"s,
                               MessageType::Error);
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().errnoName, "EIO");
    auto abortAgain = exchange<bool>([&](auto d) { client->transactionEnd(9, false, d); },
                                     MessageType::TransactionEnd, 9, "F\0"s, "EAGAIN\0"s,
                                     MessageType::Error);
    ASSERT_FALSE(abortAgain);

    auto bad = exchange<TxId>([&](auto d) { client->transactionStart(d); },
                              MessageType::TransactionStart, 0, "\0"s, "nope\0"s);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().errnoName, "EIO");
}

TEST_F(ClientRequests, DomainOperations)
{
    auto path = exchange<std::string>([&](auto d) { client->getDomainPath(5, d); },
                                      MessageType::GetDomainPath, 0, "5\0"s,
                                      "/local/domain/5\0"s);
    ASSERT_TRUE(path);
    EXPECT_EQ(path.value(), "/local/domain/5");

    auto yes = exchange<bool>([&](auto d) { client->isDomainIntroduced(5, d); },
                              MessageType::IsDomainIntroduced, 0, "5\0"s, "T\0"s);
    ASSERT_TRUE(yes);
    EXPECT_TRUE(yes.value());
    auto no = exchange<bool>([&](auto d) { client->isDomainIntroduced(65535, d); },
                             MessageType::IsDomainIntroduced, 0, "65535\0"s, "F\0"s);
    ASSERT_TRUE(no);
    EXPECT_FALSE(no.value());

    EXPECT_TRUE(exchange<Unit>([&](auto d) { client->introduce(5, 0x12345678abULL, 7, d); },
                               MessageType::Introduce, 0, "5\0" "78187493547\0" "7\0"s,
                               "OK\0"s));
    EXPECT_TRUE(exchange<Unit>([&](auto d) { client->release(5, d); }, MessageType::Release, 0,
                               "5\0"s, "OK\0"s));
    EXPECT_TRUE(exchange<Unit>([&](auto d) { client->resume(5, d); }, MessageType::Resume, 0,
                               "5\0"s, "OK\0"s));
    EXPECT_TRUE(exchange<Unit>([&](auto d) { client->setTarget(5, 6, d); },
                               MessageType::SetTarget, 0, "5\0" "6\0"s, "OK\0"s));
}

TEST_F(ClientRequests, InvalidRequestsNeverReachTheWire)
{
    struct Refusal {
        Error error;
        std::string rule;
    };
    std::vector<Refusal> refusals = {
        {refused<std::string>([&](auto d) { client->read("/a//b", 0, d); }), "'//'"},
        {refused<std::string>([&](auto d) { client->read("", 0, d); }), "path is empty"},
        {refused<Unit>([&](auto d) { client->write("/a", std::string(4094, 'v'), 0, d); }),
         "request payload would be 4097 bytes"},
        {refused<Unit>([&](auto d) { client->write("@introduceDomain", "v", 0, d); }),
         "only in Watch/Unwatch"},
        {refused<Unit>([&](auto d) { client->mkdir("/a/", 0, d); }), "ends with '/'"},
        {refused<Unit>([&](auto d) { client->rm("/a b", 0, d); }), "byte 0x20"},
        {refused<std::vector<std::string>>([&](auto d) { client->directory("/a.", 0, d); }),
         "'.'"},
        {refused<Unit>([&](auto d) { client->setPermissions("/a", {"n0", "x1"}, 0, d); }),
         "entry 1: "},
        {refused<Unit>([&](auto d) { client->setPermissions("/a", {}, 0, d); }),
         "at least the owner entry"},
        {refused<Unit>([&](auto d) { client->watch("@bogus", "t", d); }),
         "not a special watch path"},
        {refused<Unit>([&](auto d) { client->unwatch("/a//", "t", d); }), "'//'"},
        {refused<std::string>([&](auto d) { client->getDomainPath(70000, d); }),
         "domid 70000 is out of range"},
        {refused<bool>([&](auto d) { client->isDomainIntroduced(65536, d); }), "out of range"},
        {refused<Unit>([&](auto d) { client->introduce(65536, 1, 1, d); }), "out of range"},
        {refused<Unit>([&](auto d) { client->release(1u << 20, d); }), "out of range"},
        {refused<Unit>([&](auto d) { client->resume(65536, d); }), "out of range"},
        {refused<Unit>([&](auto d) { client->setTarget(1, 65536, d); }), "domid 65536"},
        {refused<std::string>([&](auto d) {
             client->request(MessageType::Write, 0, std::string(4097, 'x'), "/big", d);
         }),
         "4097"},
    };
    for (const auto& r : refusals) {
        EXPECT_EQ(r.error.kind, Error::Kind::Invalid) << r.error.message;
        EXPECT_EQ(r.error.errnoName, "EINVAL") << r.error.message;
        EXPECT_NE(r.error.message.find(r.rule), std::string::npos)
            << "\"" << r.error.message << "\" does not say " << r.rule;
    }
    loop.runFor(std::chrono::milliseconds(20));
    EXPECT_EQ(peer.requestsSeen, 0u);
    EXPECT_TRUE(client->connected());
    EXPECT_EQ(client->pending(), 0u);
}

TEST_F(ClientRequests, WatchTokenCannotCarryANul)
{
    // A NUL would end the token early on the wire: xenstored would register
    // (and report) a different token than the caller asked for.
    auto e = refused<Unit>([&](auto d) { client->watch("/w", "a\0b"s, d); });
    EXPECT_EQ(e.kind, Error::Kind::Invalid);
    EXPECT_NE(e.message.find("token"), std::string::npos) << e.message;
    e = refused<Unit>([&](auto d) { client->unwatch("/w", "a\0b"s, d); });
    EXPECT_EQ(e.kind, Error::Kind::Invalid);
    loop.runFor(std::chrono::milliseconds(20));
    EXPECT_EQ(peer.requestsSeen, 0u);
}
