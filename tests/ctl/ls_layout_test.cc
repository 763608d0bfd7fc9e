// xenstore-ls's line layout: cutting names and values at the width, the
// dotted leader of -p, and -f. Expected lines were printed by Debian's
// xenstore-ls 4.17 (the integration tests compare on a real store too).
#include <gtest/gtest.h>

#include <climits>

#include "ctl/tree.h"

using namespace xsd::ctl;

namespace {

LsLayout plain(int width = 80)
{
    LsLayout l;
    l.maxWidth = width;
    return l;
}

}  // namespace

TEST(LsLayout, IndentedNameAndEscapedValue)
{
    EXPECT_EQ(lsLine(plain(), 0, "a", "/t/a", std::string("hello world")), "a = \"hello world\"");
    EXPECT_EQ(lsLine(plain(), 2, "e", "/t/n/d/e", std::string("x")), "  e = \"x\"");
    EXPECT_EQ(lsLine(plain(), 0, "b", "/t/b", std::string("\x01\n")), "b = \"\\001\\n\"");
    EXPECT_EQ(lsLine(plain(), 1, "gone", "/t/gone", std::nullopt), " gone:\n");
}

TEST(LsLayout, LongValuesAreCutByTheirRawLength)
{
    std::string v(100, 'v');
    EXPECT_EQ(lsLine(plain(), 0, "long", "/t/long", v),
              "long = \"" + std::string(68, 'v') + "\\...\"");
    // 60 bytes fit in 80 columns with the name.
    std::string m(60, 'm');
    EXPECT_EQ(lsLine(plain(), 0, "mid", "/t/mid", m), "mid = \"" + m + "\"");
}

TEST(LsLayout, LongNamesAreCutToo)
{
    std::string name = "verylongname_" + std::string(80, 'n');
    EXPECT_EQ(lsLine(plain(), 0, name, "/t/" + name, std::string("abc")),
              name.substr(0, 72) + " = \"\\...\"");
}

TEST(LsLayout, PermsPadWithDotsToColumn60)
{
    LsLayout l = plain();
    l.perms = true;
    // xenstore-ls: a blank, then from the next column on '.' at odd columns
    // and ' ' at even ones, up to column 59.
    std::string dots;
    for (int i = 0; i < 26; ++i)
        dots += " .";
    EXPECT_EQ(lsLine(l, 0, "a", "/t/a", std::string("1")) + lsPermissions({"n1", "r2"}),
              "a = \"1\" " + dots + "  (n1,r2)");
    EXPECT_EQ(lsLine(l, 0, "e", "/t/e", std::string("")) + lsPermissions({"n0"}),
              "e = \"\" ." + dots + "  (n0)");
}

TEST(LsLayout, FullPathsAreNotCounted)
{
    LsLayout l;
    l.fullPaths = true;
    l.maxWidth = INT_MAX / 2;
    l.desiredWidth = 0;
    l.perms = true;
    EXPECT_EQ(lsLine(l, 3, "e", "/t/n/d/e", std::string("x")) + lsPermissions({"n0"}),
              "/t/n/d/e = \"x\"   (n0)");
    // On a 40-column terminal xenstore-ls cuts even -f lines, counting only
    // the value.
    l.maxWidth = 38;
    EXPECT_EQ(lsLine(l, 1, "long", "/t/long", std::string(100, 'v')),
              "/t/long = \"" + std::string(30, 'v') + "\\...\"");
}

TEST(LsLayout, DeeperThanTheWidthNothingIsCutFromTheName)
{
    // printf's negative precision means "no limit": names at depth > 72 are
    // printed whole, and their values cut with a negative precision too.
    EXPECT_EQ(lsLine(plain(), 80, "x", "/x", std::string("valuevalue")),
              std::string(80, ' ') + "x = \"valuevalue\\...\"");
}

TEST(LsLayout, AZeroColumnTerminalCutsNothing)
{
    LsLayout l = plain(-2);
    l.perms = true;
    EXPECT_EQ(lsLine(l, 0, "a", "/a", std::string(100, 'v')) + lsPermissions({"n0"}),
              "a = \"" + std::string(100, 'v') + "\"   (n0)");
}

TEST(LsLayout, ChildPaths)
{
    EXPECT_EQ(childPath("/", "local"), "/local");
    EXPECT_EQ(childPath("/local", "domain"), "/local/domain");
    EXPECT_EQ(childPath("local", "domain"), "local/domain");
}
