// "Text" (dbus/text.h) must be exactly what sd-bus carries in a string:
// checked against sd-bus itself for every code point, and for the byte
// sequences that are not UTF-8 at all. Then what the daemon builds from
// bytes that are not text — escaped messages, D-Bus errors — must be text.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "dbus/errors.h"
#include "dbus/text.h"

namespace {

std::string utf8(uint32_t cp)
{
    std::string s;
    if (cp < 0x80) {
        s += static_cast<char>(cp);
    } else if (cp < 0x800) {
        s += static_cast<char>(0xc0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        s += static_cast<char>(0xe0 | (cp >> 12));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        s += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        s += static_cast<char>(0xf0 | (cp >> 18));
        s += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        s += static_cast<char>(0x80 | (cp & 0x3f));
    }
    return s;
}

// sd-bus's own judgement: whether it appends `s` to a message as a string.
// Messages need a running connection: a client and a server sd-bus on the
// two ends of a socket pair, brought through their handshake here.
class SdBusStrings {
public:
    SdBusStrings()
    {
        EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds_), 0);
        sd_id128_t id;
        EXPECT_GE(sd_id128_randomize(&id), 0);
        EXPECT_GE(sd_bus_new(&server_), 0);
        EXPECT_GE(sd_bus_set_fd(server_, fds_[1], fds_[1]), 0);
        EXPECT_GE(sd_bus_set_server(server_, 1, id), 0);
        EXPECT_GE(sd_bus_start(server_), 0);
        EXPECT_GE(sd_bus_new(&bus_), 0);
        EXPECT_GE(sd_bus_set_fd(bus_, fds_[0], fds_[0]), 0);
        EXPECT_GE(sd_bus_start(bus_), 0);
        for (int i = 0; i < 1000 && sd_bus_is_ready(bus_) <= 0; ++i) {
            sd_bus_process(bus_, nullptr);
            sd_bus_process(server_, nullptr);
        }
        EXPECT_GT(sd_bus_is_ready(bus_), 0);
    }
    ~SdBusStrings()
    {
        sd_bus_message_unref(m_);
        sd_bus_close_unref(bus_);
        sd_bus_close_unref(server_);
    }

    bool carries(const std::string& s)
    {
        // A refused append spoils the message; a long one is renewed now
        // and then.
        if (!m_ || appended_ > 4096) {
            sd_bus_message_unref(m_);
            m_ = nullptr;
            appended_ = 0;
            EXPECT_GE(sd_bus_message_new_signal(bus_, &m_, "/t", "t.T", "S"), 0);
        }
        ++appended_;
        if (sd_bus_message_append_basic(m_, SD_BUS_TYPE_STRING, s.c_str()) >= 0)
            return true;
        sd_bus_message_unref(m_);
        m_ = nullptr;
        return false;
    }

private:
    int fds_[2] = {-1, -1};
    sd_bus* bus_ = nullptr;
    sd_bus* server_ = nullptr;
    sd_bus_message* m_ = nullptr;
    size_t appended_ = 0;
};

}  // namespace

TEST(Text, IsWhatSdBusCarriesForEveryCodePoint)
{
    SdBusStrings sdbus;
    size_t refused = 0;
    for (uint32_t cp = 1; cp <= 0x10ffff; ++cp) {
        if (cp >= 0xd800 && cp <= 0xdfff)
            continue;  // no UTF-8 for surrogates; see the next test
        const std::string s = "a" + utf8(cp) + "z";
        const bool ours = xsd::isText(s);
        ASSERT_EQ(ours, sdbus.carries(s)) << std::hex << "U+" << cp;
        refused += !ours;
    }
    // The noncharacters: U+FDD0..U+FDEF and two at the end of each of the
    // 17 planes.
    EXPECT_EQ(refused, 32u + 34u);
}

TEST(Text, BytesThatAreNotUtf8AreNotText)
{
    SdBusStrings sdbus;
    for (const std::string s : {"\x80", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                "\xf8\x88\x80\x80\x80", "\xff", "\xc3", "ok\xe2\x82"}) {
        EXPECT_FALSE(xsd::isText(s));
        EXPECT_FALSE(sdbus.carries(s));
    }
    EXPECT_FALSE(xsd::isText(std::string("a\0b", 3)));  // D-Bus strings end at NUL
    EXPECT_TRUE(xsd::isText(""));
    EXPECT_TRUE(xsd::isText("grüße ✓ 😀"));
}

TEST(Text, EscapingGivesTextAndKeepsWhatWasText)
{
    EXPECT_EQ(xsd::textOrEscaped("grüße"), "grüße");
    EXPECT_EQ(xsd::textOrEscaped("a\xef\xbf\xbfz"), "a\\xef\\xbf\\xbfz");
    EXPECT_EQ(xsd::textOrEscaped(std::string("\xff\0ü", 4)), "\\xff\\x00ü");
    SdBusStrings sdbus;
    for (const std::string s : {"\xf4\x8f\xbf\xbf", "\xc3", "x\xed\xa0\x80y", "\xef\xb7\x90"})
        EXPECT_TRUE(sdbus.carries(xsd::textOrEscaped(s))) << xsd::textOrEscaped(s);
}

TEST(Text, ErrorsQuotingBytesCanBeSent)
{
    auto e = xsd::errors::make(xsd::errors::NotText, "Read /a: \xef\xbf\xbe");
    EXPECT_EQ(e.getMessage(), "Read /a: \\xef\\xbf\\xbe");
    EXPECT_TRUE(xsd::isText(e.getMessage()));
}

TEST(Base64, FromBase64UndoesBase64AndRefusesWhatItNeverWrites)
{
    std::string all;
    for (int b = 0; b < 256; ++b)
        all += static_cast<char>(b);
    for (size_t n = 0; n <= all.size(); n += (n < 8 ? 1 : 37)) {
        const std::string bytes = all.substr(all.size() - n);
        EXPECT_EQ(xsd::fromBase64(xsd::base64(bytes)), bytes) << n << " bytes";
    }
    EXPECT_EQ(xsd::fromBase64("/wBB"), std::string("\xff\x00\x41", 3));
    for (const char* bad : {"A", "AB=", "A===", "AB=C", "=ABC", "AB C", "AB\xc3\xa9", "AA==AAAA"})
        EXPECT_FALSE(xsd::fromBase64(bad)) << bad;
}
