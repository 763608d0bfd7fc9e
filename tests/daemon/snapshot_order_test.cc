// Snapshot keeps the order in which xenstored lists a node's children, so a
// listing made from a snapshot (xenstorectl ls) is the one DIRECTORY gives.
// oxenstored lists names sorted, which hides the order; C xenstored lists
// them as they were created, so a peer that plays C xenstored shows it.
#include <gtest/gtest.h>

#include <map>

#include <nlohmann/json.hpp>

#include "daemon/snapshot.h"
#include "tests/harness/event_loop.h"
#include "tests/protocol/fake_xenstored.h"

using namespace xs;
using xsd::test::EventLoop;

namespace {

struct Node {
    std::string value;
    std::vector<std::string> children;  // as created, not sorted
};

// The keys of a JSON object, in the order they came.
std::vector<std::string> keys(const nlohmann::ordered_json& object)
{
    std::vector<std::string> out;
    for (const auto& item : object.items())
        out.push_back(item.key());
    return out;
}

}  // namespace

TEST(SnapshotOrder, ChildrenComeInTheOrderXenstoredListsThem)
{
    std::map<std::string, Node> store{
        {"/t", {"top", {"zeta", "alpha", "mid"}}},
        {"/t/zeta", {"z", {}}},
        {"/t/alpha", {"a", {"b", "a"}}},
        {"/t/alpha/b", {"", {}}},
        {"/t/alpha/a", {"", {}}},
        {"/t/mid", {"m", {}}},
    };
    EventLoop loop;
    test::FakeXenstored peer(loop.get());
    peer.onRequest = [&](const Message& m) {
        const auto f = splitFields(m.payload);
        switch (m.header.type) {
        case MessageType::TransactionStart:
            return peer.reply(m, std::string("7") + '\0');
        case MessageType::TransactionEnd:
            return peer.reply(m, std::string("OK") + '\0');
        case MessageType::Read:
            EXPECT_EQ(m.header.txId, 7u);
            return peer.reply(m, store.at(f[0]).value);
        case MessageType::Directory:
            EXPECT_EQ(m.header.txId, 7u);
            return peer.reply(m, joinFields(store.at(f[0]).children));
        default:
            ADD_FAILURE() << "unexpected request " << messageTypeName(m.header.type);
            peer.replyError(m, "EINVAL");
        }
    };
    Client client(loop.get(), peer.takeClientFd(), Client::Handlers{});
    std::optional<Result<std::string>> json;
    xsd::takeSnapshot(client, "/t", [&](Result<std::string> r) { json.emplace(std::move(r)); });
    ASSERT_TRUE(loop.runUntil([&] { return json.has_value(); }));
    ASSERT_TRUE(*json) << json->error().message;

    auto snapshot = nlohmann::ordered_json::parse(json->value());
    EXPECT_EQ(snapshot["value"], "top");
    EXPECT_EQ(keys(snapshot["children"]), (std::vector<std::string>{"zeta", "alpha", "mid"}));
    EXPECT_EQ(keys(snapshot["children"]["alpha"]["children"]), (std::vector<std::string>{"b", "a"}));
    EXPECT_EQ(snapshot["children"]["mid"]["value"], "m");
}
