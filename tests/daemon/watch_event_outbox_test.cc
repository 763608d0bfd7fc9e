// The watch event outbox on its own, with a stand-in for the bus: what goes
// straight through, what is held back and in which order, what is lost and
// how each subscriber that lost an event is made up for.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "daemon/watch_event_outbox.h"
#include "tests/harness/event_loop.h"

using namespace xsd;
using xsd::test::EventLoop;

namespace {

class Outbox : public ::testing::Test {
protected:
    EventLoop loop;
    std::vector<std::string> sent;  // "subscriber path token"
    bool writing = false;           // sd-bus still has messages to write
    std::optional<std::string> refusal;
    std::vector<std::string> resynced;

    std::unique_ptr<WatchEventOutbox> make(size_t window, size_t backlog)
    {
        auto o = std::make_unique<WatchEventOutbox>(
            loop.get(),
            WatchEventOutbox::Bus{
                [this](const std::string& s, const std::string& p, const std::string& t) {
                    if (refusal)
                        return refusal;
                    sent.push_back(s + " " + p + " " + t);
                    return std::optional<std::string>();
                },
                [this] { return writing; },
                [this](const std::string& s) { resynced.push_back(s); }},
            window);
        o->setBacklogLimit(backlog);
        return o;
    }

    // sd-bus wrote its queue out: some event source was dispatched, after
    // which the outbox's post source runs.
    void busWroteEverything()
    {
        writing = false;
        sd_event_source* s = nullptr;
        sd_event_add_defer(loop.get(), &s, [](sd_event_source*, void*) { return 0; }, nullptr);
        sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        loop.runOnce();
        loop.runOnce();
        sd_event_source_unref(s);
    }
};

std::vector<std::string> events(const std::string& subscriber, int from, int to)
{
    std::vector<std::string> v;
    for (int i = from; i < to; ++i)
        v.push_back(subscriber + " /p/" + std::to_string(i) + " t");
    return v;
}

}  // namespace

TEST_F(Outbox, WhileTheBusKeepsUpEventsGoStraightThrough)
{
    auto o = make(4, 10);
    writing = true;  // asked only once a window is full: then it has caught up
    for (int i = 0; i < 3; ++i)
        o->send(":1.1", "/p/" + std::to_string(i), "t");
    writing = false;
    for (int i = 3; i < 100; ++i)
        o->send(":1.1", "/p/" + std::to_string(i), "t");
    EXPECT_EQ(sent, events(":1.1", 0, 100));
    EXPECT_EQ(o->backlog(), 0u);
}

TEST_F(Outbox, BeyondTheWindowEventsWaitInOrder)
{
    auto o = make(4, 100);
    writing = true;
    for (int i = 0; i < 10; ++i)
        o->send(":1.1", "/p/" + std::to_string(i), "t");
    EXPECT_EQ(sent, events(":1.1", 0, 4));
    EXPECT_EQ(o->backlog(), 6u);
    // Later events queue behind the waiting ones, even with room again.
    o->send(":1.1", "/p/10", "t");
    busWroteEverything();
    EXPECT_EQ(sent, events(":1.1", 0, 11));
    EXPECT_EQ(o->backlog(), 0u);
    EXPECT_TRUE(resynced.empty());
}

TEST_F(Outbox, BeyondTheBacklogEventsAreLostAndMadeUpForOnceCaughtUp)
{
    auto o = make(1, 3);
    writing = true;
    for (int i = 0; i < 5; ++i) {
        o->send(":1.1", "/p/" + std::to_string(i), "t");
        o->send(":1.2", "/p/" + std::to_string(i), "t");
    }
    EXPECT_EQ(sent.size(), 1u);
    EXPECT_EQ(o->backlog(), 3u);
    EXPECT_TRUE(resynced.empty()) << "not before the bus has caught up";
    busWroteEverything();
    EXPECT_EQ(sent.size(), 4u);
    EXPECT_EQ(resynced, (std::vector<std::string>{":1.1", ":1.2"}));
    // Made up for once: a later pass owes nothing.
    busWroteEverything();
    EXPECT_EQ(resynced.size(), 2u);
}

TEST_F(Outbox, ASubscriberThatLeftIsOwedNothing)
{
    auto o = make(1, 1);
    writing = true;
    for (const char* s : {":1.1", ":1.2", ":1.3"})
        o->send(s, "/p", "t");
    o->forget(":1.3");
    busWroteEverything();
    EXPECT_EQ(resynced, (std::vector<std::string>{}));  // :1.1 sent, :1.2 waited
    o->send(":1.4", "/p", "t");
    writing = true;
    for (const char* s : {":1.5", ":1.6", ":1.7"})
        o->send(s, "/p", "t");
    o->forget(":1.7");
    busWroteEverything();
    EXPECT_EQ(resynced, (std::vector<std::string>{":1.6"}));
}

TEST_F(Outbox, WhatTheBusRefusesIsMadeUpForToo)
{
    auto o = make(4, 10);
    refusal = "No buffer space available";
    o->send(":1.1", "/p", "t");
    EXPECT_TRUE(sent.empty());
    refusal.reset();
    busWroteEverything();
    EXPECT_EQ(resynced, (std::vector<std::string>{":1.1"}));
}
