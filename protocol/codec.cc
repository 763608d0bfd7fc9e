#include "protocol/codec.h"

#include <cstring>

namespace xs {

namespace {

// The 16-byte header, little-endian, appended in one go.
void putHeader(std::string& out, uint32_t type, uint32_t reqId, uint32_t txId, uint32_t len)
{
    char h[HeaderSize];
    const uint32_t fields[4] = {type, reqId, txId, len};
    for (int f = 0; f < 4; ++f)
        for (int i = 0; i < 4; ++i)
            h[4 * f + i] = static_cast<char>((fields[f] >> (8 * i)) & 0xff);
    out.append(h, sizeof h);
}

uint32_t getLe32(const char* p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
        v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

}  // namespace

size_t frameSize(const char* header)
{
    return HeaderSize + getLe32(header + 12);
}

std::string encodeMessage(const Header& header, std::string_view payload)
{
    std::string out;
    out.reserve(HeaderSize + payload.size());
    putHeader(out, static_cast<uint32_t>(header.type), header.reqId, header.txId,
              static_cast<uint32_t>(payload.size()));
    out.append(payload);
    return out;
}

bool appendRequest(std::string& out, MessageType type, uint32_t reqId, uint32_t txId,
                   std::string_view payload, std::string* why)
{
    if (payload.size() > PayloadMax) {
        if (why)
            *why = "request payload of " + std::to_string(payload.size()) +
                   " bytes exceeds XenStore's limit of " + std::to_string(PayloadMax);
        return false;
    }
    if (!messageTypeFromWire(static_cast<uint32_t>(type))) {
        if (why)
            *why = "message type " + std::to_string(static_cast<uint32_t>(type)) +
                   " is not a XenStore request";
        return false;
    }
    putHeader(out, static_cast<uint32_t>(type), reqId, txId, static_cast<uint32_t>(payload.size()));
    out.append(payload);
    return true;
}

std::optional<std::string> encodeRequest(MessageType type, uint32_t reqId, uint32_t txId,
                                         std::string_view payload, std::string* why)
{
    std::string out;
    if (!appendRequest(out, type, reqId, txId, payload, why))
        return std::nullopt;
    return out;
}

void FrameDecoder::feed(std::string_view bytes)
{
    if (failed())
        return;
    // Drop what was consumed before growing, so a long-lived decoder does not
    // keep every byte it ever saw.
    if (consumed_ > 0 && consumed_ == buffer_.size()) {
        buffer_.clear();
        consumed_ = 0;
    } else if (consumed_ > 64 * 1024) {
        buffer_.erase(0, consumed_);
        consumed_ = 0;
    }
    buffer_.append(bytes);
}

FrameDecoder::Status FrameDecoder::next(Message& out)
{
    if (failed())
        return Status::Failed;
    const size_t avail = buffer_.size() - consumed_;
    if (avail < HeaderSize)
        return Status::NeedMore;
    const char* p = buffer_.data() + consumed_;
    const uint32_t rawType = getLe32(p);
    const uint32_t len = getLe32(p + 12);
    auto type = messageTypeFromWire(rawType);
    if (!type) {
        error_ = "unknown XenStore message type " + std::to_string(rawType);
        return Status::Failed;
    }
    if (len > maxPayload_) {
        error_ = "XenStore message of " + std::to_string(len) + " bytes exceeds the bound of " +
                 std::to_string(maxPayload_);
        return Status::Failed;
    }
    if (avail - HeaderSize < len)
        return Status::NeedMore;
    out.header = {*type, getLe32(p + 4), getLe32(p + 8), len};
    out.payload.assign(p + HeaderSize, len);
    consumed_ += HeaderSize + len;
    return Status::Frame;
}

std::vector<std::string> splitFields(std::string_view payload)
{
    std::vector<std::string> fields;
    while (!payload.empty()) {
        auto nul = payload.find('\0');
        if (nul == std::string_view::npos) {
            fields.emplace_back(payload);
            break;
        }
        fields.emplace_back(payload.substr(0, nul));
        payload.remove_prefix(nul + 1);
    }
    return fields;
}

std::string joinFields(const std::vector<std::string>& fields)
{
    std::string out;
    for (const auto& f : fields) {
        out += f;
        out.push_back('\0');
    }
    return out;
}

}  // namespace xs
