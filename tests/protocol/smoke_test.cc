#include <gtest/gtest.h>

#include "protocol/client.h"
#include "protocol/transport.h"
#include "tests/harness/event_loop.h"
#include "tests/harness/xenstored.h"

using namespace xsd::test;

TEST(Smoke, WriteReadWatch)
{
    Xenstored xsd;
    EventLoop loop;
    std::string why;
    auto backend = xs::Backend::parse(xsd.backend(), &why);
    ASSERT_TRUE(backend) << why;
    int fd = xs::openTransport(*backend, &why);
    ASSERT_GE(fd, 0) << why;
    std::vector<std::pair<std::string, std::string>> events;
    xs::Client c(loop.get(), fd, {[&](auto& p, auto& t) { events.emplace_back(p, t); }, {}});
    bool wrote = false;
    c.write("/a/b", "hello", 0, [&](xs::Result<xs::Unit> r) { ASSERT_TRUE(r) << r.error().message; wrote = true; });
    ASSERT_TRUE(loop.runUntil([&] { return wrote; }));
    std::optional<std::string> value;
    c.read("/a/b", 0, [&](xs::Result<std::string> r) { ASSERT_TRUE(r); value = r.value(); });
    ASSERT_TRUE(loop.runUntil([&] { return value.has_value(); }));
    EXPECT_EQ(*value, "hello");
    EXPECT_EQ(xsd.read("/a/b"), "hello");
    c.watch("/a", "tok", [](auto r) { ASSERT_TRUE(r); });
    ASSERT_TRUE(loop.runUntil([&] { return events.size() == 1; }));
    xsd.write("/a/c", "x");
    ASSERT_TRUE(loop.runUntil([&] { return events.size() == 2; }));
    EXPECT_EQ(events[1].first, "/a/c");
    EXPECT_EQ(events[1].second, "tok");
    EXPECT_EQ(xsd.countAccessLog({"watch", "/a tok"}), 1) << xsd.accessLog();
}
