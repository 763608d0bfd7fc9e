// xenstore-read's escaping and xenstore-write's unescaping, on bytes. The
// expectations were taken from Debian's xenstore-utils 4.17 (the integration
// tests compare the two programs on a real store as well).
#include <gtest/gtest.h>

#include "ctl/escape.h"

using xsd::ctl::escapeValue;
using xsd::ctl::unescapeValue;

TEST(Escape, PrintableAsciiIsLeftAlone)
{
    EXPECT_EQ(escapeValue("hello world ~!@#$%^&*()"), "hello world ~!@#$%^&*()");
    EXPECT_EQ(escapeValue(""), "");
}

TEST(Escape, ControlBytesBackslashAndHighBytes)
{
    EXPECT_EQ(escapeValue("\t\n\r\\"), "\\t\\n\\r\\\\");
    // Octal below 010, hex from there on: xenstore-read's split.
    EXPECT_EQ(escapeValue(std::string("\x00\x01\x07\x08\x1f", 5)), "\\000\\001\\007\\x08\\x1f");
    EXPECT_EQ(escapeValue("\x7f\x80\xff"), "\\x7f\\x80\\xff");
    EXPECT_EQ(escapeValue("grüße"), "gr\\xc3\\xbc\\xc3\\x9fe");
}

TEST(Unescape, TheEscapesReadPrints)
{
    EXPECT_EQ(unescapeValue("a\\tb\\nc\\rd\\\\e"), "a\tb\nc\rd\\e");
    EXPECT_EQ(unescapeValue("\\001\\x7f\\xff"), "\x01\x7f\xff");
    EXPECT_EQ(unescapeValue("\\0"), std::string(1, '\0'));
}

TEST(Unescape, RoundTripsEveryByte)
{
    std::string all;
    for (int c = 0; c < 256; ++c)
        all += static_cast<char>(c);
    EXPECT_EQ(unescapeValue(escapeValue(all)), all);
}

// Each of these was written with xenstore-write and read back with
// xenstore-read -R.
TEST(Unescape, XenstoreWriteQuirks)
{
    EXPECT_EQ(unescapeValue("a\\"), std::string("a\0", 2));       // lone trailing backslash: NUL
    EXPECT_EQ(unescapeValue("\\xg"), "xg");                         // \x without digits: x
    EXPECT_EQ(unescapeValue("\\x4"), "\x04");
    EXPECT_EQ(unescapeValue("\\x414"), "A4");                       // at most two hex digits
    EXPECT_EQ(unescapeValue("\\8"), "8");                           // unknown escape: the character
    EXPECT_EQ(unescapeValue("a\\qb"), "aqb");
    EXPECT_EQ(unescapeValue("\\777"), "\xff");                      // low eight bits
    EXPECT_EQ(unescapeValue("\\08"), std::string("\0" "8", 2));
    EXPECT_EQ(unescapeValue("\\x 41"), "A");                        // sscanf skips blanks
    EXPECT_EQ(unescapeValue("\\x-1"), "\xff");                      // and takes a sign
    EXPECT_EQ(unescapeValue("\\x-41"), "\xfc" "1");
    EXPECT_EQ(unescapeValue("\\x+4"), "\x04");
    EXPECT_EQ(unescapeValue("\\x-"), "x-");
    EXPECT_EQ(unescapeValue("\\x0x5"), std::string("\0" "5", 2));   // "0x" is a prefix
}
