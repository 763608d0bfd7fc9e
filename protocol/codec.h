// Encoding requests and decoding xenstored's byte stream. Pure: bytes in,
// bytes or messages out, so every hostile input can be tested without I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/wire.h"

namespace xs {

// Frames one request. Refuses (nullopt, with *why set) a payload over
// PayloadMax: sending it would make xenstored drop the connection.
std::optional<std::string> encodeRequest(MessageType type, uint32_t reqId, uint32_t txId,
                                         std::string_view payload, std::string* why = nullptr);

// The same, appended to `out` (a send buffer) instead of returned; false,
// with `out` untouched, where encodeRequest gives nothing.
bool appendRequest(std::string& out, MessageType type, uint32_t reqId, uint32_t txId,
                   std::string_view payload, std::string* why = nullptr);

// Frames any message without the request bound; for tests and for a peer
// that plays xenstored's side.
std::string encodeMessage(const Header& header, std::string_view payload);

// The size of the whole message whose header starts at `header`: HeaderSize
// plus the little-endian payload length at offset 12. Reads 16 bytes.
size_t frameSize(const char* header);

// Incremental decoder for what xenstored sends. Accepts bytes in any
// chunking and never reads past what it was given. A header with a type
// xs_wire.h does not name, or a length over ReplyPayloadMax, puts it in a
// failed state for good: the stream can no longer be framed.
class FrameDecoder {
public:
    explicit FrameDecoder(size_t maxPayload = ReplyPayloadMax) : maxPayload_(maxPayload) {}

    void feed(std::string_view bytes);

    enum class Status { NeedMore, Frame, Failed };
    // Takes the next whole message out, if there is one.
    Status next(Message& out);

    bool failed() const { return !error_.empty(); }
    const std::string& error() const { return error_; }
    size_t buffered() const { return buffer_.size() - consumed_; }

private:
    std::string buffer_;
    size_t consumed_ = 0;
    size_t maxPayload_;
    std::string error_;
};

// Payloads are NUL-separated strings. Splits "a\0b\0" into {"a","b"}; a
// final field without a NUL is kept.
std::vector<std::string> splitFields(std::string_view payload);
// Joins fields, each followed by a NUL ("a\0b\0").
std::string joinFields(const std::vector<std::string>& fields);

}  // namespace xs
