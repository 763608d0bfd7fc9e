// The codec on bytes: framing every message type, and the decoder against
// what a broken or hostile peer might send.
#include <gtest/gtest.h>

#include <random>

#include "protocol/codec.h"

using namespace xs;
using namespace std::string_literals;

namespace {

std::vector<Message> drain(FrameDecoder& d)
{
    std::vector<Message> out;
    Message m;
    while (d.next(m) == FrameDecoder::Status::Frame)
        out.push_back(m);
    return out;
}

std::string le32(uint32_t v)
{
    std::string s;
    for (int i = 0; i < 4; ++i)
        s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return s;
}

// A bare header, with any type and length, for what encodeMessage would not make.
std::string header(uint32_t type, uint32_t reqId, uint32_t txId, uint32_t len)
{
    return le32(type) + le32(reqId) + le32(txId) + le32(len);
}

// A stream as xenstored might send it: a reply, an event, an empty payload,
// and a reply far over the request limit (oxenstored's big DIRECTORY).
std::vector<Message> sampleMessages()
{
    std::string names;
    for (int i = 0; i < 400; ++i) {
        std::string n = "child-" + std::to_string(i);
        names += n + std::string(29 - n.size(), 'x') + '\0';
    }
    return {
        {{MessageType::Read, 7, 0, 5}, "hello"},
        {{MessageType::WatchEvent, 0, 0, 0}, "/a/b\0tok\0"s},
        {{MessageType::TransactionEnd, 8, 3, 0}, ""},
        {{MessageType::Directory, 9, 0, 0}, names},
    };
}

std::string serialize(const std::vector<Message>& msgs)
{
    std::string s;
    for (auto& m : msgs)
        s += encodeMessage(m.header, m.payload);
    return s;
}

void expectSame(const std::vector<Message>& got, const std::vector<Message>& want)
{
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].header.type, want[i].header.type) << i;
        EXPECT_EQ(got[i].header.reqId, want[i].header.reqId) << i;
        EXPECT_EQ(got[i].header.txId, want[i].header.txId) << i;
        EXPECT_EQ(got[i].header.len, want[i].payload.size()) << i;
        EXPECT_EQ(got[i].payload, want[i].payload) << i;
    }
}

}  // namespace

TEST(Codec, HeaderIsSixteenLittleEndianBytes)
{
    auto frame = encodeRequest(MessageType::Write, 0x01020304, 0xa0b0c0d0, "/a\0v"s);
    ASSERT_TRUE(frame);
    EXPECT_EQ(*frame, "\x0b\x00\x00\x00"
                      "\x04\x03\x02\x01"
                      "\xd0\xc0\xb0\xa0"
                      "\x04\x00\x00\x00"
                      "/a\0v"s);
}

TEST(Codec, EveryMessageTypeRoundTrips)
{
    for (uint32_t t = 0; t <= static_cast<uint32_t>(MessageType::SetQuota); ++t) {
        auto type = messageTypeFromWire(t);
        ASSERT_TRUE(type) << t;
        EXPECT_EQ(static_cast<uint32_t>(*type), t);
        const std::string payload = "payload of " + std::string(messageTypeName(*type)) + '\0';
        auto frame = encodeRequest(*type, 1000 + t, 40 + t, payload);
        ASSERT_TRUE(frame) << messageTypeName(*type);
        EXPECT_EQ(*frame, encodeMessage({*type, 1000 + t, 40 + t, 0}, payload));
        FrameDecoder d;
        d.feed(*frame);
        Message m;
        ASSERT_EQ(d.next(m), FrameDecoder::Status::Frame) << messageTypeName(*type);
        EXPECT_EQ(m.header.type, *type);
        EXPECT_EQ(m.header.reqId, 1000 + t);
        EXPECT_EQ(m.header.txId, 40 + t);
        EXPECT_EQ(m.header.len, payload.size());
        EXPECT_EQ(m.payload, payload);
        EXPECT_EQ(d.next(m), FrameDecoder::Status::NeedMore);
        EXPECT_EQ(d.buffered(), 0u);
    }
}

TEST(Codec, TypeNamesAreXenStoresOwn)
{
    EXPECT_EQ(messageTypeName(MessageType::Control), "CONTROL");
    EXPECT_EQ(messageTypeName(MessageType::Read), "READ");
    EXPECT_EQ(messageTypeName(MessageType::WatchEvent), "WATCH_EVENT");
    EXPECT_EQ(messageTypeName(MessageType::IsDomainIntroduced), "IS_DOMAIN_INTRODUCED");
    EXPECT_EQ(messageTypeName(MessageType::ResetWatches), "RESET_WATCHES");
    EXPECT_EQ(messageTypeName(MessageType::DirectoryPart), "DIRECTORY_PART");
    EXPECT_EQ(messageTypeName(MessageType::SetQuota), "SET_QUOTA");
    EXPECT_EQ(messageTypeName(MessageType::Invalid), "INVALID");
    EXPECT_FALSE(messageTypeFromWire(27));
    EXPECT_FALSE(messageTypeFromWire(0xffff));
    for (const auto& e : XenStoreErrnos)
        EXPECT_NE(errnoDescription(e.name), "unknown error") << e.name;
    EXPECT_TRUE(isXenStoreErrno("EQUOTA"));
    EXPECT_FALSE(isXenStoreErrno("EWHATEVER"));
}

TEST(Codec, EncoderRefusesARequestOverTheLimit)
{
    EXPECT_TRUE(encodeRequest(MessageType::Write, 1, 0, std::string(PayloadMax, 'v')));
    std::string why;
    EXPECT_FALSE(encodeRequest(MessageType::Write, 1, 0, std::string(PayloadMax + 1, 'v'), &why));
    EXPECT_NE(why.find("4097"), std::string::npos) << why;
    EXPECT_NE(why.find("4096"), std::string::npos) << why;
    EXPECT_FALSE(encodeRequest(MessageType::Invalid, 1, 0, "", &why));
    EXPECT_NE(why.find("not a XenStore request"), std::string::npos) << why;
    // Replies are not bound by it: a peer playing xenstored may frame more.
    EXPECT_EQ(encodeMessage({MessageType::Directory, 1, 0, 0}, std::string(11200, 'n')).size(),
              HeaderSize + 11200);
}

TEST(Decoder, TruncatedHeaderWaitsForTheRest)
{
    auto frame = *encodeRequest(MessageType::Read, 5, 0, "/a\0"s);
    FrameDecoder d;
    d.feed(frame.substr(0, HeaderSize - 1));
    Message m;
    EXPECT_EQ(d.next(m), FrameDecoder::Status::NeedMore);
    EXPECT_FALSE(d.failed());
    EXPECT_EQ(d.buffered(), HeaderSize - 1);
    d.feed(frame.substr(HeaderSize - 1, 2));  // header complete, payload not
    EXPECT_EQ(d.next(m), FrameDecoder::Status::NeedMore);
    d.feed(frame.substr(HeaderSize + 1));
    ASSERT_EQ(d.next(m), FrameDecoder::Status::Frame);
    EXPECT_EQ(m.payload, "/a\0"s);
}

TEST(Decoder, LengthOverTheBoundFailsAtOnce)
{
    FrameDecoder d;
    d.feed(header(2, 1, 0, ReplyPayloadMax + 1));
    Message m;
    EXPECT_EQ(d.next(m), FrameDecoder::Status::Failed);
    EXPECT_TRUE(d.failed());
    EXPECT_NE(d.error().find(std::to_string(ReplyPayloadMax + 1)), std::string::npos) << d.error();
    // Failed for good: a later valid frame does not revive the stream.
    d.feed(*encodeRequest(MessageType::Read, 2, 0, "/a\0"s));
    EXPECT_EQ(d.next(m), FrameDecoder::Status::Failed);

    FrameDecoder atBound;
    atBound.feed(header(2, 1, 0, ReplyPayloadMax));
    EXPECT_EQ(atBound.next(m), FrameDecoder::Status::NeedMore);
    EXPECT_FALSE(atBound.failed());

    FrameDecoder requests(PayloadMax);  // the bound a peer playing xenstored uses
    requests.feed(header(11, 1, 0, PayloadMax + 1));
    EXPECT_EQ(requests.next(m), FrameDecoder::Status::Failed);
}

TEST(Decoder, UnknownTypeFails)
{
    for (uint32_t type : {27u, 0xffffu, 0xffffffffu}) {
        FrameDecoder d;
        d.feed(header(type, 1, 0, 0));
        Message m;
        EXPECT_EQ(d.next(m), FrameDecoder::Status::Failed) << type;
        EXPECT_EQ(d.error(), "unknown XenStore message type " + std::to_string(type));
    }
}

TEST(Decoder, GarbageFailsWithoutBuffering)
{
    // Someone speaking HTTP at us: "GET " is no type xs_wire.h names.
    FrameDecoder d;
    d.feed("GET / HTTP/1.1\r\nHost: xenstore\r\n\r\n");
    Message m;
    EXPECT_EQ(d.next(m), FrameDecoder::Status::Failed);
    EXPECT_NE(d.error().find("unknown XenStore message type"), std::string::npos);

    // Random bytes: whatever the decoder makes of them, it never hands out a
    // frame of an unknown type or over its bound, and never loses track of
    // what it was given.
    std::mt19937 rng(20240611);
    for (int round = 0; round < 2000; ++round) {
        FrameDecoder r(PayloadMax);
        std::string bytes(rng() % 200, '\0');
        for (auto& c : bytes)
            c = static_cast<char>(rng() % 4 == 0 ? rng() % 27 : rng());
        r.feed(bytes);
        size_t framed = 0;
        FrameDecoder::Status st;
        while ((st = r.next(m)) == FrameDecoder::Status::Frame) {
            ASSERT_TRUE(messageTypeFromWire(static_cast<uint32_t>(m.header.type)));
            ASSERT_LE(m.payload.size(), PayloadMax);
            framed += HeaderSize + m.payload.size();
        }
        if (st == FrameDecoder::Status::NeedMore)
            ASSERT_EQ(framed + r.buffered(), bytes.size());
        else
            ASSERT_FALSE(r.error().empty());
    }
}

TEST(Decoder, StreamSplitAtEveryOffset)
{
    auto msgs = sampleMessages();
    auto stream = serialize(msgs);
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
        FrameDecoder d;
        std::vector<Message> got;
        d.feed(std::string_view(stream).substr(0, cut));
        for (auto& m : drain(d))
            got.push_back(m);
        d.feed(std::string_view(stream).substr(cut));
        for (auto& m : drain(d))
            got.push_back(m);
        ASSERT_NO_FATAL_FAILURE(expectSame(got, msgs)) << "cut at " << cut;
        ASSERT_EQ(d.buffered(), 0u);
        ASSERT_FALSE(d.failed());
    }
}

TEST(Decoder, StreamFedOneByteAtATime)
{
    auto msgs = sampleMessages();
    auto stream = serialize(msgs);
    FrameDecoder d;
    std::vector<Message> got;
    for (char c : stream) {
        d.feed(std::string_view(&c, 1));
        for (auto& m : drain(d))
            got.push_back(m);
    }
    expectSame(got, msgs);
}

TEST(Decoder, TwoMessagesInOneRead)
{
    std::vector<Message> msgs = {
        {{MessageType::Read, 1, 0, 0}, "one"},
        {{MessageType::Error, 2, 0, 0}, "ENOENT\0"s},
    };
    FrameDecoder d;
    d.feed(serialize(msgs));
    Message m;
    ASSERT_EQ(d.next(m), FrameDecoder::Status::Frame);
    EXPECT_EQ(m.header.reqId, 1u);
    EXPECT_EQ(m.payload, "one");
    ASSERT_EQ(d.next(m), FrameDecoder::Status::Frame);
    EXPECT_EQ(m.header.type, MessageType::Error);
    EXPECT_EQ(m.payload, "ENOENT\0"s);
    EXPECT_EQ(d.next(m), FrameDecoder::Status::NeedMore);
}

TEST(Decoder, LongLivedStreamStaysSmall)
{
    // Many small frames in odd-sized chunks: the decoder compacts what it has
    // consumed, and neither loses nor repeats a frame across compactions.
    std::string stream;
    for (uint32_t i = 1; i <= 5000; ++i)
        stream += encodeMessage({MessageType::Read, i, 0, 0}, std::string(i % 97, 'a'));
    FrameDecoder d;
    uint32_t expected = 1;
    for (size_t at = 0; at < stream.size(); at += 4093) {
        d.feed(std::string_view(stream).substr(at, 4093));
        for (auto& m : drain(d)) {
            ASSERT_EQ(m.header.reqId, expected);
            ASSERT_EQ(m.payload.size(), expected % 97);
            ++expected;
        }
        ASSERT_LT(d.buffered(), 4093u + HeaderSize + 97u);
    }
    EXPECT_EQ(expected, 5001u);
}

TEST(Fields, SplitAndJoin)
{
    using V = std::vector<std::string>;
    EXPECT_EQ(splitFields("a\0b\0"s), (V{"a", "b"}));
    EXPECT_EQ(splitFields("a\0b"s), (V{"a", "b"}));  // a last field without its NUL is kept
    EXPECT_EQ(splitFields(""), V{});
    EXPECT_EQ(splitFields("\0"s), V{""});
    EXPECT_EQ(splitFields("a\0\0"s), (V{"a", ""}));  // DIRECTORY_PART's end marker
    EXPECT_EQ(splitFields("/local/domain/0\0tok\0"s), (V{"/local/domain/0", "tok"}));
    EXPECT_EQ(joinFields({"a", "b"}), "a\0b\0"s);
    EXPECT_EQ(joinFields({}), "");
    EXPECT_EQ(joinFields({""}), "\0"s);
    V perms{"n0", "r5", "b65535"};
    EXPECT_EQ(splitFields(joinFields(perms)), perms);
}
