// Text is what a D-Bus string can carry: UTF-8 without NUL bytes or Unicode
// noncharacters. A guest may write any bytes, including noncharacters
// (valid UTF-8 that sd-bus refuses): each class of them, written with
// XenStore's own tools behind the daemon's back, must leave every method
// answering — Read with NotText, ReadBytes with the exact bytes, Snapshot
// with JSON that gives the bytes back — and watches delivering.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/harness/stack.h"

using namespace xsd::test;

namespace {

struct Sample {
    const char* name;
    std::string bytes;
};

// One value per class: U+FDD0 and U+FDEF (the block), U+FFFE and U+FFFF
// (the end of the first plane), U+1FFFE and U+10FFFF (the end of other
// planes), between ordinary characters.
const std::vector<Sample>& noncharacters()
{
    static const std::vector<Sample> samples{
        {"fdd0", "a\xef\xb7\x90z"},     {"fdef", "a\xef\xb7\xafz"},
        {"fffe", "a\xef\xbf\xbez"},     {"ffff", "a\xef\xbf\xbfz"},
        {"1fffe", "a\xf0\x9f\xbf\xbez"}, {"10ffff", "\xf4\x8f\xbf\xbf"},
    };
    return samples;
}

std::vector<uint8_t> bytesOf(const std::string& s) { return {s.begin(), s.end()}; }

std::string base64Decode(const std::string& in)
{
    static const std::string alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    uint32_t bits = 0;
    int have = 0;
    for (char c : in) {
        if (c == '=')
            break;
        bits = (bits << 6) | static_cast<uint32_t>(alphabet.find(c));
        have += 6;
        if (have >= 8) {
            have -= 8;
            out.push_back(static_cast<char>((bits >> have) & 0xff));
        }
    }
    return out;
}

class Text : public ::testing::Test {
protected:
    Stack stack;
    std::unique_ptr<Client> c = stack.client();

    void SetUp() override
    {
        for (const auto& s : noncharacters())
            stack.xenstored().write("/guest/" + std::string(s.name), s.bytes);
        stack.xenstored().write("/guest/plain", "grüße ✓");
    }

    std::string gdbusCall(const std::string& method, const std::vector<std::string>& args)
    {
        std::vector<std::string> argv{"call", "--dest", BusName, "--object-path", ObjectPath,
                                      "--method", std::string(Interface) + "." + method};
        argv.insert(argv.end(), args.begin(), args.end());
        auto r = stack.gdbus(argv);
        return r.status == 0 ? "" : r.err;
    }
};

}  // namespace

TEST_F(Text, ReadOfANoncharacterIsNotTextAndReadBytesIsExact)
{
    for (const auto& s : noncharacters()) {
        const std::string path = "/guest/" + std::string(s.name);
        try {
            c->Read(path);
            ADD_FAILURE() << "Read " << path << " succeeded";
        } catch (const sdbus::Error& e) {
            EXPECT_EQ(e.getName(), std::string(ErrorPrefix) + "NotText") << path;
            EXPECT_NE(e.getMessage().find("ReadBytes"), std::string::npos) << e.getMessage();
        }
        EXPECT_EQ(c->ReadBytes(path), bytesOf(s.bytes)) << path;
    }
    EXPECT_EQ(c->Read("/guest/plain"), "grüße ✓");
}

TEST_F(Text, SnapshotCarriesNoncharactersAsBase64AndGivesEveryByteBack)
{
    // Above the values, as a guest's values sit under /local/domain/N.
    for (const std::string root : {"/guest", "/"}) {
        std::string text;
        ASSERT_NO_THROW(text = c->Snapshot(root)) << root;
        auto j = nlohmann::json::parse(text);
        const auto& guest = root == "/" ? j["children"]["guest"] : j;
        for (const auto& s : noncharacters()) {
            const auto& value = guest["children"][s.name]["value"];
            ASSERT_TRUE(value.is_object()) << s.name << ": " << value.dump();
            EXPECT_EQ(base64Decode(value["base64"].get<std::string>()), s.bytes) << s.name;
        }
        EXPECT_EQ(guest["children"]["plain"]["value"], "grüße ✓");
    }
}

TEST_F(Text, DirectoryAndPermissionsOfSuchNodesAnswer)
{
    auto names = c->Directory("/guest");
    EXPECT_EQ(names.size(), noncharacters().size() + 1);
    EXPECT_EQ(c->GetPermissions("/guest/ffff"), std::vector<std::string>{"n0"});
    EXPECT_TRUE(c->Exists("/guest/fdd0"));
}

TEST_F(Text, AWatchedNodeTakingANoncharacterStillSendsItsEvent)
{
    c->Watch("/guest", "t");
    c->waitForEvents(1);
    c->clearEvents();
    stack.xenstored().write("/guest/ffff", "b\xef\xbf\xbf");
    auto events = c->waitForEvents(1);
    ASSERT_GE(events.size(), 1u);
    EXPECT_EQ(events[0], (WatchEvent{"/guest/ffff", "t"}));
    // And the subscription is still there for the next change.
    c->clearEvents();
    stack.xenstored().write("/guest/plain", "x");
    EXPECT_EQ(c->waitForEvents(1).at(0), (WatchEvent{"/guest/plain", "t"}));
}

TEST_F(Text, AStringSdBusWillNotReadIsNotTextWithAWordOfWhatToDo)
{
    // GLib sends noncharacters in a string (they are valid UTF-8); sd-bus
    // would refuse to read it with a bare InconsistentMessage.
    std::string err = gdbusCall("Write", {"/guest/new", "x\xef\xbf\xbfy"});
    EXPECT_NE(err.find(std::string(ErrorPrefix) + "NotText"), std::string::npos) << err;
    EXPECT_NE(err.find("Write /guest/new: argument 2"), std::string::npos) << err;
    EXPECT_NE(err.find("WriteBytes"), std::string::npos) << err;
    // Nothing was written, and the same bytes go with WriteBytes.
    EXPECT_NE(stack.xenstored().tool("xenstore-read", {"/guest/new"}).status, 0);
    c->WriteBytes("/guest/new", bytesOf("x\xef\xbf\xbfy"));
    EXPECT_EQ(c->ReadBytes("/guest/new"), bytesOf("x\xef\xbf\xbfy"));

    err = gdbusCall("Watch", {"/guest", "token\xef\xb7\x90"});
    EXPECT_NE(err.find(std::string(ErrorPrefix) + "NotText"), std::string::npos) << err;
    err = gdbusCall("Read", {"/guest/\xef\xbf\xbe"});
    EXPECT_NE(err.find(std::string(ErrorPrefix) + "NotText"), std::string::npos) << err;
    EXPECT_NE(err.find("Read: argument 1"), std::string::npos) << err;

    // The daemon serves on.
    EXPECT_EQ(c->Read("/guest/plain"), "grüße ✓");
}
