// The line language of `xenstorectl transaction`.
#include <gtest/gtest.h>

#include "ctl/failure.h"
#include "ctl/script.h"

using namespace xsd::ctl;

TEST(Script, EachCommand)
{
    auto r = parseStep("read /a/b", 1, false);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kind, Step::Kind::Read);
    EXPECT_EQ(r->path, "/a/b");
    EXPECT_EQ(parseStep("rm /a", 2, false)->kind, Step::Kind::Remove);
    EXPECT_EQ(parseStep("  mkdir\t/a  ", 3, false)->kind, Step::Kind::Mkdir);
    EXPECT_EQ(parseStep("mkdir /a\r", 3, false)->path, "/a");
}

TEST(Script, WriteValueIsTheRestOfTheLineWithEscapes)
{
    auto w = parseStep("write /a  two  spaces\\n", 1, false);
    ASSERT_TRUE(w);
    EXPECT_EQ(w->kind, Step::Kind::Write);
    EXPECT_EQ(w->path, "/a");
    EXPECT_EQ(w->value, " two  spaces\n");
    EXPECT_EQ(parseStep("write /a \\x41", 1, true)->value, "\\x41");  // raw
    EXPECT_EQ(parseStep("write /a", 1, false)->value, "");
    EXPECT_EQ(parseStep("write /a ", 1, false)->value, "");
}

TEST(Script, BlankAndCommentLinesAreSkipped)
{
    EXPECT_FALSE(parseStep("", 1, false));
    EXPECT_FALSE(parseStep("   ", 1, false));
    EXPECT_FALSE(parseStep("# read /a", 1, false));
}

TEST(Script, BadLinesAreUsageErrorsNamingTheLine)
{
    for (const char* bad : {"frobnicate /a", "read", "rm /a /b", "mkdir"}) {
        try {
            parseStep(bad, 7, false);
            ADD_FAILURE() << "accepted: " << bad;
        } catch (const Failure& f) {
            EXPECT_EQ(f.status(), ExitUsage) << bad;
            EXPECT_NE(std::string(f.what()).find("line 7"), std::string::npos) << f.what();
        }
    }
}
