// Fuzzes xs::FrameDecoder, which frames whatever arrives on the XenStore
// connection. The input is a byte stream; the target decodes it under
// several payload bounds, in one piece and in chunkings derived from the
// input itself, and checks each result against a plain reading of the wire
// format (xs_wire.h: four little-endian u32 — type, req_id, tx_id, len —
// then len bytes of payload):
//   - a frame is exactly what the stream holds at that offset: re-encoding it
//     with encodeMessage gives back the bytes it was decoded from, and its
//     payload never exceeds the bound;
//   - the decoder stops with NeedMore only when no whole frame is buffered,
//     and fails only on a header that is really bad (unknown type, or a
//     length over the bound);
//   - every chunking yields the same frames and the same failure;
//   - once Failed, it stays Failed whatever is fed after.
// It also checks that encodeRequest's frames decode to what was encoded.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/check.h"
#include "protocol/codec.h"
#include "protocol/wire.h"

namespace {

using xs::FrameDecoder;
using xs::HeaderSize;
using xs::Message;

// xs_wire.h's types are numbered densely from 0; wire.h names 27 of them.
constexpr uint32_t KnownTypeCount = 27;

uint32_t le32(std::string_view s, size_t off)
{
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i)
        v |= static_cast<uint32_t>(static_cast<unsigned char>(s[off + i])) << (8 * i);
    return v;
}

uint64_t fnv1a(std::string_view s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ull;
    }
    return h;
}

// A deterministic generator seeded from the input, so a saved crash input
// replays the same chunking.
struct Rng {
    uint64_t s;
    uint64_t next()
    {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
};

struct Outcome {
    std::vector<Message> frames;
    bool failed = false;
    std::string error;     // the decoder's message (empty for the reference)
    size_t failedAt = 0;   // stream offset of the header that was refused
    size_t framed = 0;     // bytes taken out as whole frames
};

// The header at `off` can never be framed under `bound`.
bool badHeader(std::string_view in, size_t off, size_t bound)
{
    return le32(in, off) >= KnownTypeCount || le32(in, off + 12) > bound;
}

// What the stream holds, read directly.
Outcome reference(std::string_view in, size_t bound)
{
    Outcome o;
    size_t off = 0;
    while (in.size() - off >= HeaderSize) {
        if (badHeader(in, off, bound)) {
            o.failed = true;
            o.failedAt = off;
            break;
        }
        const uint32_t len = le32(in, off + 12);
        if (in.size() - off - HeaderSize < len)
            break;
        Message m;
        m.header = {static_cast<xs::MessageType>(le32(in, off)), le32(in, off + 4),
                    le32(in, off + 8), len};
        m.payload.assign(in.substr(off + HeaderSize, len));
        o.frames.push_back(std::move(m));
        off += HeaderSize + len;
    }
    o.framed = off;
    return o;
}

bool sameMessage(const Message& a, const Message& b)
{
    return a.header.type == b.header.type && a.header.reqId == b.header.reqId &&
           a.header.txId == b.header.txId && a.header.len == b.header.len &&
           a.payload == b.payload;
}

// Feeds `in` in pieces whose sizes `chunk()` picks, taking out every frame
// after each piece, and checks each step.
template <class Chunker>
Outcome decode(std::string_view in, size_t bound, Chunker chunk)
{
    FrameDecoder d(bound);
    Outcome o;
    size_t fed = 0;
    auto drain = [&] {
        for (;;) {
            Message m;
            auto st = d.next(m);
            if (st == FrameDecoder::Status::Frame) {
                FUZZ_CHECK(!o.failed);
                FUZZ_CHECK(!d.failed());
                FUZZ_CHECK(m.header.len <= bound);
                FUZZ_CHECK(m.payload.size() == m.header.len);
                FUZZ_CHECK(static_cast<uint32_t>(m.header.type) < KnownTypeCount);
                const std::string again = xs::encodeMessage(m.header, m.payload);
                FUZZ_CHECK(again.size() == HeaderSize + m.header.len);
                FUZZ_CHECK(o.framed + again.size() <= fed);
                FUZZ_CHECK_MSG(in.substr(o.framed, again.size()) == again, again);
                o.framed += again.size();
                o.frames.push_back(std::move(m));
                continue;
            }
            if (st == FrameDecoder::Status::NeedMore) {
                FUZZ_CHECK(!o.failed);
                FUZZ_CHECK(!d.failed());
                FUZZ_CHECK(d.buffered() == fed - o.framed);
                // Nothing whole is left: a partial header, or a good header
                // whose payload has not all arrived.
                const size_t left = fed - o.framed;
                if (left >= HeaderSize) {
                    FUZZ_CHECK(!badHeader(in, o.framed, bound));
                    FUZZ_CHECK(left - HeaderSize < le32(in, o.framed + 12));
                }
                return;
            }
            FUZZ_CHECK(st == FrameDecoder::Status::Failed);
            FUZZ_CHECK(d.failed());
            FUZZ_CHECK(!d.error().empty());
            if (!o.failed) {
                // Refused only a whole header that cannot be framed.
                FUZZ_CHECK(fed - o.framed >= HeaderSize);
                FUZZ_CHECK(badHeader(in, o.framed, bound));
                o.failed = true;
                o.error = d.error();
                o.failedAt = o.framed;
            }
            FUZZ_CHECK(d.error() == o.error);
            // Failed for good: neither asking again nor more bytes (even a
            // well-formed frame) bring it back.
            const size_t buffered = d.buffered();
            FUZZ_CHECK(d.next(m) == FrameDecoder::Status::Failed);
            d.feed(xs::encodeMessage({xs::MessageType::Read, 1, 0, 2}, "ok"));
            FUZZ_CHECK(d.next(m) == FrameDecoder::Status::Failed);
            FUZZ_CHECK(d.buffered() == buffered);
            FUZZ_CHECK(d.error() == o.error);
            return;
        }
    };
    if (in.empty())
        drain();
    while (fed < in.size()) {
        size_t n = chunk();
        if (n == 0 || n > in.size() - fed)
            n = in.size() - fed;
        d.feed(in.substr(fed, n));
        fed += n;
        drain();
    }
    return o;
}

void expectSame(const Outcome& got, const Outcome& want, bool compareError)
{
    FUZZ_CHECK(got.failed == want.failed);
    FUZZ_CHECK(got.framed == want.framed);
    FUZZ_CHECK(!got.failed || got.failedAt == want.failedAt);
    if (compareError)
        FUZZ_CHECK_MSG(got.error == want.error, got.error + " | " + want.error);
    FUZZ_CHECK(got.frames.size() == want.frames.size());
    for (size_t i = 0; i < got.frames.size(); ++i)
        FUZZ_CHECK(sameMessage(got.frames[i], want.frames[i]));
}

// Decodes `in` in one piece and in several chunkings, all against the
// reference.
void decodeAllWays(std::string_view in, size_t bound, uint64_t seed, size_t maxChunk,
                   bool byteByByte)
{
    const Outcome want = reference(in, bound);
    const Outcome whole = decode(in, bound, [] { return size_t{0}; });
    expectSame(whole, want, false);

    // Byte by byte: every split point of every header and payload. Long
    // inputs are left to the random chunking below, which mostly cuts small
    // pieces too: feeding kilobytes one byte at a time costs more runs than
    // it finds.
    if (byteByByte && in.size() <= 1024)
        expectSame(decode(in, bound, [] { return size_t{1}; }), whole, true);

    // Piece sizes read off the input's own bytes.
    size_t k = 0;
    expectSame(decode(in, bound,
                      [&] { return 1 + static_cast<size_t>(
                                           static_cast<unsigned char>(in[k++ % in.size()])); }),
               whole, true);

    // Pseudo-random piece sizes, small (inside a header) and large.
    Rng rng{seed | 1};
    expectSame(decode(in, bound,
                      [&] {
                          uint64_t r = rng.next();
                          return 1 + static_cast<size_t>((r >> 8) % ((r & 3) ? 20 : maxChunk));
                      }),
               whole, true);
}

// encodeRequest refuses what xenstored would drop the connection for, and
// what it accepts decodes back to itself.
void requestRoundTrip(std::string_view in, uint64_t h)
{
    const uint32_t rawType = (h & 0x100) ? static_cast<uint32_t>(h >> 16) & 0xffff
                                         : static_cast<uint32_t>((h >> 16) % KnownTypeCount);
    const auto type = static_cast<xs::MessageType>(rawType);
    const uint32_t reqId = static_cast<uint32_t>(h >> 32), txId = static_cast<uint32_t>(h);
    std::string why;
    auto frame = xs::encodeRequest(type, reqId, txId, in, &why);
    if (in.size() > xs::PayloadMax || rawType >= KnownTypeCount) {
        FUZZ_CHECK(!frame);
        FUZZ_CHECK(!why.empty());
        return;
    }
    FUZZ_CHECK_MSG(frame.has_value(), why);
    FUZZ_CHECK(frame->size() == HeaderSize + in.size());
    FrameDecoder d(xs::PayloadMax);
    d.feed(*frame);
    Message m;
    FUZZ_CHECK(d.next(m) == FrameDecoder::Status::Frame);
    FUZZ_CHECK(m.header.type == type && m.header.reqId == reqId && m.header.txId == txId);
    FUZZ_CHECK(m.header.len == in.size() && m.payload == in);
    FUZZ_CHECK(d.next(m) == FrameDecoder::Status::NeedMore);
    FUZZ_CHECK(d.buffered() == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const uint64_t h = fnv1a(in);

    // The decoder's real bound, the request bound, and a tiny one that
    // ordinary inputs reach.
    decodeAllWays(in, xs::ReplyPayloadMax, h, 4096, true);
    decodeAllWays(in, xs::PayloadMax, h >> 7, 512, false);
    decodeAllWays(in, static_cast<size_t>(h % 48), h >> 13, 64, true);

    requestRoundTrip(in, h);

    // Now and then a long stream (the input over and over), so the decoder
    // drops consumed bytes mid-stream as it does on a long-lived connection.
    if (!in.empty() && h % 16 == 0) {
        std::string stream;
        while (stream.size() < 96 * 1024)
            stream.append(in);
        const Outcome want = reference(stream, xs::ReplyPayloadMax);
        Rng rng{h | 1};
        expectSame(decode(stream, xs::ReplyPayloadMax,
                          [&] { return 1 + static_cast<size_t>(rng.next() % 8192); }),
                   want, false);
    }
    return 0;
}
