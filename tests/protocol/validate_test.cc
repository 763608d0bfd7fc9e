// Validation tables: every bad input must name the rule it breaks, because
// that message is what a D-Bus caller reads in Error.InvalidArgument.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>

#include "protocol/validate.h"
#include "protocol/wire.h"

using namespace xs;
using namespace std::string_literals;

namespace {

struct Case {
    std::string input;
    // Empty: the input is fine. Otherwise a part of the violation's text.
    std::string rule;
};

std::string describe(const std::string& s)
{
    std::string out;
    for (unsigned char c : s.substr(0, 40)) {
        char buf[8];
        std::snprintf(buf, sizeof buf, (c >= 0x20 && c < 0x7f) ? "%c" : "\\x%02x", c);
        out += buf;
    }
    return s.size() > 40 ? out + "… (" + std::to_string(s.size()) + " bytes)" : out;
}

template <class Check>
void checkTable(const std::vector<Case>& table, Check check)
{
    for (const auto& c : table) {
        Violation v = check(c.input);
        if (c.rule.empty()) {
            EXPECT_FALSE(v) << "'" << describe(c.input) << "' was refused: " << *v;
        } else {
            ASSERT_TRUE(v) << "'" << describe(c.input) << "' was accepted; expected: " << c.rule;
            EXPECT_NE(v->find(c.rule), std::string::npos)
                << "'" << describe(c.input) << "': got \"" << *v << "\", expected \"" << c.rule
                << "\"";
        }
    }
}

const std::string abs3072 = "/" + std::string(3071, 'a');
const std::string rel2048 = std::string(2048, 'b');

const std::vector<Case> paths = {
    {"/", ""},
    {"/local/domain/0/name", ""},
    {"/local/domain/0/device/vif/0/state", ""},
    {"/A-Z_a-z/0-9", ""},
    {"/vm/a@b", ""},  // '@' is a path character; only a leading '@' is special
    {"name", ""},     // relative: xenstored resolves it against our domain
    {"device/vbd/768", ""},
    {abs3072, ""},
    {rel2048, ""},
    {"", "path is empty"},
    {"/a//b", "'//'"},
    {"//", "'//'"},
    {"a//b", "'//'"},
    {"/a/", "ends with '/'"},
    {"a/", "ends with '/'"},
    {"/a b", "byte 0x20 at offset 2"},
    {"/a.b", "'.' at offset 2"},
    {"/a:b", "':' at offset 2"},
    {"/a\nb", "byte 0x0a at offset 2"},
    {"/a\0b"s, "byte 0x00 at offset 2"},
    {"/caf\xc3\xa9", "byte 0xc3 at offset 4"},
    {"/a*", "only A-Z a-z 0-9 - / _ @ are allowed"},
    {abs3072 + "a", "absolute path is 3073 bytes long; XenStore allows at most 3072"},
    {rel2048 + "b", "relative path is 2049 bytes long; XenStore allows at most 2048"},
    {"@introduceDomain", "only the special watch paths"},
    {"@releaseDomain", "only in Watch/Unwatch"},
    {"@foo", "starts with '@'"},
};

}  // namespace

TEST(Validate, PathKinds)
{
    EXPECT_EQ(pathKind("/a"), PathKind::Absolute);
    EXPECT_EQ(pathKind("/"), PathKind::Absolute);
    EXPECT_EQ(pathKind("a/b"), PathKind::Relative);
    EXPECT_EQ(pathKind("@introduceDomain"), PathKind::Special);
    EXPECT_EQ(pathKind(""), PathKind::Relative);
}

TEST(Validate, NodePaths)
{
    checkTable(paths, [](const std::string& p) { return checkPath(p); });
}

TEST(Validate, WatchPaths)
{
    // Node paths follow the same rules in a watch; only the two special
    // paths are added.
    std::vector<Case> table;
    for (const auto& c : paths)
        if (c.input.empty() || c.input.front() != '@')
            table.push_back(c);
    table.insert(table.end(), {
        {"@introduceDomain", ""},
        {"@releaseDomain", ""},
        {"@foo", "is not a special watch path"},
        {"@introduceDomain/x", "is not a special watch path"},
        {"@releasedomain", "XenStore has only @introduceDomain and @releaseDomain"},
        {"@", "is not a special watch path"},
    });
    checkTable(table, [](const std::string& p) { return checkWatchPath(p); });
}

TEST(Validate, Permissions)
{
    checkTable(
        {
            {"n0", ""},
            {"r5", ""},
            {"w3", ""},
            {"b2", ""},
            {"b65535", ""},
            {"r007", ""},
            {"", "permission entry is empty"},
            {"x0", "does not start with n, r, w or b"},
            {"R0", "does not start with n, r, w or b"},
            {"0", "does not start with n, r, w or b"},
            {"r", "names no domid"},
            {"r-1", "not a decimal number"},
            {"r1a", "not a decimal number"},
            {"r 1", "not a decimal number"},
            {"r65536", "out of range 0..65535"},
            {"w99999999999999999999999", "out of range 0..65535"},
        },
        [](const std::string& p) { return checkPermission(p); });
}

TEST(Validate, PermissionLists)
{
    EXPECT_FALSE(checkPermissions({"n0"}));
    EXPECT_FALSE(checkPermissions({"n0", "r5", "b7"}));
    auto empty = checkPermissions({});
    ASSERT_TRUE(empty);
    EXPECT_NE(empty->find("needs at least the owner entry"), std::string::npos) << *empty;
    auto second = checkPermissions({"n0", "q1"});
    ASSERT_TRUE(second);
    EXPECT_NE(second->find("entry 1: "), std::string::npos) << *second;
    EXPECT_NE(second->find("does not start with n, r, w or b"), std::string::npos) << *second;
}

TEST(Validate, Domids)
{
    EXPECT_FALSE(checkDomid(0));
    EXPECT_FALSE(checkDomid(65535));
    for (uint64_t bad : {uint64_t{65536}, uint64_t{UINT32_MAX}, uint64_t{UINT64_MAX}}) {
        auto v = checkDomid(bad);
        ASSERT_TRUE(v) << bad;
        EXPECT_EQ(*v, "domid " + std::to_string(bad) + " is out of range 0..65535");
    }
}

TEST(Validate, PayloadSize)
{
    EXPECT_FALSE(checkPayloadSize(0));
    EXPECT_FALSE(checkPayloadSize(PayloadMax));
    auto v = checkPayloadSize(PayloadMax + 1);
    ASSERT_TRUE(v);
    EXPECT_NE(v->find("4097 bytes; XenStore accepts at most 4096"), std::string::npos) << *v;
}
