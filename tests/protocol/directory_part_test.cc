// The client's DIRECTORY_PART paging, against a peer that plays C xenstored:
// it answers E2BIG to a DIRECTORY whose child list does not fit one payload
// and pages through the list with DIRECTORY_PART (docs/misc/xenstore.txt).
// oxenstored never does this, so only a stand-in can exercise the path.
#include <gtest/gtest.h>

#include "fake_xenstored.h"
#include "protocol/client.h"
#include "tests/harness/event_loop.h"

using namespace xs;
using namespace std::string_literals;
using xsd::test::EventLoop;

namespace {

// One node as C xenstored keeps it: children as one NUL-separated list and a
// generation count that changes with every modification.
struct Node {
    std::vector<std::string> children;
    uint64_t generation = 1;

    void add(const std::string& name)
    {
        children.push_back(name);
        ++generation;
    }

    // DIRECTORY_PART's reply: "<gen>\0", then the whole names from `off` that
    // fit in one payload; the last part carries one more NUL (an empty name)
    // to say the list ends there. An offset at or past the end gets just
    // "<gen>\0\0".
    std::string part(size_t off) const
    {
        const std::string gen = std::to_string(generation) + '\0';
        const std::string list = joinFields(children);
        if (off >= list.size())
            return gen + '\0';
        const size_t room = PayloadMax - gen.size() - 1;
        size_t len = 0;
        while (off + len < list.size()) {
            size_t name = list.find('\0', off + len) - (off + len);
            if (len + name >= room)
                break;
            len += name + 1;
        }
        std::string reply = gen + list.substr(off, len);
        if (off + len == list.size())
            reply.push_back('\0');
        return reply;
    }
};

std::vector<std::string> names(size_t count, size_t length)
{
    std::vector<std::string> out;
    for (size_t i = 0; i < count; ++i) {
        std::string n = "n" + std::to_string(i);
        out.push_back(n + std::string(length > n.size() ? length - n.size() : 0, 'x'));
    }
    return out;
}

class DirectoryPart : public ::testing::Test {
protected:
    void SetUp() override
    {
        peer.onRequest = [this](const Message& m) { serve(m); };
        client = std::make_unique<Client>(loop.get(), peer.takeClientFd(), Client::Handlers{});
    }

    // Plays C xenstored for `node` at /dir.
    void serve(const Message& m)
    {
        auto f = splitFields(m.payload);
        txIds.push_back(m.header.txId);
        if (m.header.type == MessageType::Directory) {
            ++directories;
            auto list = joinFields(node.children);
            if (list.size() > PayloadMax || alwaysPage)
                return peer.replyError(m, "E2BIG");
            return peer.reply(m, list);
        }
        ASSERT_EQ(m.header.type, MessageType::DirectoryPart);
        ASSERT_EQ(f.size(), 2u) << "DIRECTORY_PART takes <path>|<offset>|";
        ASSERT_EQ(m.payload.back(), '\0');
        EXPECT_EQ(f[0], "/dir");
        size_t off = std::stoul(f[1]);
        offsets.push_back(off);
        if (replyPart)
            return replyPart(m, off);
        peer.reply(m, node.part(off));
        if (afterPart)
            afterPart(offsets.size());
    }

    Result<std::vector<std::string>> list(TxId tx = NoTransaction)
    {
        std::optional<Result<std::vector<std::string>>> out;
        client->directory("/dir", tx, [&](auto r) { out.emplace(std::move(r)); });
        EXPECT_TRUE(loop.runUntil([&] { return out.has_value(); }, std::chrono::seconds(5)))
            << "directory never completed; offsets asked: " << offsets.size();
        if (!out)
            return Error{Error::Kind::Connection, "", "timed out", "timed out"};
        return std::move(*out);
    }

    EventLoop loop;
    test::FakeXenstored peer{loop.get()};
    std::unique_ptr<Client> client;
    Node node;
    bool alwaysPage = false;  // E2BIG even for a short list, to page small shapes too
    int directories = 0;
    std::vector<size_t> offsets;
    std::vector<uint32_t> txIds;
    std::function<void(size_t partsServed)> afterPart;
    std::function<void(const Message&, size_t off)> replyPart;
};

}  // namespace

TEST_F(DirectoryPart, PagesThroughALongList)
{
    node.children = names(400, 30);
    auto r = list();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r.value(), node.children);
    EXPECT_EQ(directories, 1);
    // 400 names of 31 bytes with their NULs: four parts, each starting on a
    // name, each as full as a payload allows (132 names).
    EXPECT_EQ(offsets, (std::vector<size_t>{0, 4092, 8184, 12276}));
}

TEST_F(DirectoryPart, EveryShapeComesBackWhole)
{
    // Name lengths and counts chosen so that parts end on, just before and
    // just after the payload boundary, and the list ends on a part boundary.
    alwaysPage = true;
    for (size_t length : {1, 2, 3, 30, 31, 127, 1000, 2000}) {
        for (size_t count : {0, 1, 2, 3, 7, 64, 130, 131, 132, 133, 400}) {
            if (length * count > 200000)
                continue;
            node.children = names(count, length);
            offsets.clear();
            auto r = list();
            ASSERT_TRUE(r) << length << "x" << count << ": " << r.error().message;
            ASSERT_EQ(r.value(), node.children) << length << "x" << count;
            size_t listBytes = joinFields(node.children).size();
            ASSERT_GE(offsets.size(), 1u);
            EXPECT_LE(offsets.size(), listBytes / (PayloadMax / 2) + 1)
                << length << "x" << count << ": too many parts";
        }
    }
}

TEST_F(DirectoryPart, ExactFitEndsTheList)
{
    // Names that fill the first part to the last byte with the end marker:
    // "1\0" + 4093 bytes of names and NULs + "\0" = 4096.
    alwaysPage = true;
    node.children = {std::string(2000, 'a'), std::string(2091, 'b')};
    ASSERT_EQ(node.part(0).size(), PayloadMax);
    auto r = list();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r.value(), node.children);
    EXPECT_EQ(offsets, (std::vector<size_t>{0}));
}

TEST_F(DirectoryPart, GenerationChangeRestartsFromTheStart)
{
    node.children = names(400, 30);
    afterPart = [this](size_t served) {
        if (served == 2)  // a child is added between the second and third part
            node.add("late-arrival");
    };
    auto r = list();
    ASSERT_TRUE(r) << r.error().message;
    auto expected = names(400, 30);
    expected.push_back("late-arrival");
    EXPECT_EQ(r.value(), expected);
    // The third part carried a new generation: the client must not splice it
    // onto the first two, but list again from offset 0.
    ASSERT_GE(offsets.size(), 4u);
    EXPECT_EQ(offsets[0], 0u);
    EXPECT_GT(offsets[2], 0u);
    EXPECT_EQ(offsets[3], 0u);
    EXPECT_EQ(offsets.size(), 3u + 4u);
}

TEST_F(DirectoryPart, TransactionIdOnEveryPart)
{
    node.children = names(400, 30);
    auto r = list(42);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(txIds.size(), 5u);  // DIRECTORY and four parts
    for (auto id : txIds)
        EXPECT_EQ(id, 42u);
}

TEST_F(DirectoryPart, ErrorMidWayIsReported)
{
    node.children = names(400, 30);
    replyPart = [this](const Message& m, size_t off) {
        if (off > 0)
            return peer.replyError(m, "ENOENT");  // removed while we paged
        peer.reply(m, node.part(off));
    };
    auto r = list();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::XenStore);
    EXPECT_EQ(r.error().errnoName, "ENOENT");
    EXPECT_EQ(offsets.size(), 2u);
}

TEST_F(DirectoryPart, ServerWithoutDirectoryPart)
{
    node.children = names(400, 30);
    replyPart = [this](const Message& m, size_t) { peer.replyError(m, "ENOSYS"); };
    auto r = list();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::XenStore);
    EXPECT_EQ(r.error().errnoName, "ENOSYS");
}

TEST_F(DirectoryPart, MalformedPartsAreErrorsNotHangsOrTruncation)
{
    node.children = names(400, 30);
    // No generation terminator at all.
    replyPart = [this](const Message& m, size_t) { peer.reply(m, "12"); };
    auto r = list();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().errnoName, "EIO");

    // A part that is neither the end nor carries any name: asking again at
    // the same offset would loop for ever, stopping would truncate.
    offsets.clear();
    replyPart = [this](const Message& m, size_t off) {
        peer.reply(m, off == 0 ? node.part(0) : "1\0"s);
    };
    r = list();
    ASSERT_FALSE(r) << "a list with only its first part came back as whole";
    EXPECT_EQ(r.error().errnoName, "EIO");
    EXPECT_EQ(offsets.size(), 2u);
}

TEST_F(DirectoryPart, ShortListNeedsNoPaging)
{
    node.children = names(10, 30);
    auto r = list();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r.value(), node.children);
    EXPECT_TRUE(offsets.empty());
}
