// The watch event outbox on its own, with a stand-in for the bus: what goes
// straight through, what is held back and in which order, what is lost and
// how each subscriber that lost an event is made up for.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <utility>
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

    using Ping = std::function<void(const std::string&, std::function<void(bool)>)>;
    std::unique_ptr<WatchEventOutbox> make(size_t window, size_t backlog, Ping ping = {})
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
                [this](const std::string& s) { resynced.push_back(s); }, std::move(ping)},
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

TEST_F(Outbox, BeyondTheBacklogTheLongestLineGivesWayAndIsMadeUpForOnceCaughtUp)
{
    auto o = make(1, 4);
    writing = true;
    o->send(":1.0", "/first", "t");  // handed: the window is full now
    for (int i = 0; i < 4; ++i)
        o->send(":1.1", "/p/" + std::to_string(i), "t");
    EXPECT_EQ(o->backlog(), 4u);
    // The backlog is full: :1.1's line is the longest, and gives way.
    o->send(":1.2", "/q", "t");
    EXPECT_EQ(o->backlog(), 1u);
    // What it would be sent meanwhile, its watched paths' events cover.
    o->send(":1.1", "/p/4", "t");
    EXPECT_EQ(o->backlog(), 1u);
    EXPECT_TRUE(resynced.empty()) << "not before the bus has caught up";
    busWroteEverything();
    EXPECT_EQ(sent, (std::vector<std::string>{":1.0 /first t", ":1.2 /q t"}));
    EXPECT_EQ(resynced, (std::vector<std::string>{":1.1"}));
    // Made up for once: a later pass owes nothing.
    busWroteEverything();
    EXPECT_EQ(resynced.size(), 1u);
}

TEST_F(Outbox, ASubscriberLosesOnlyPastItsOwnLine)
{
    auto o = make(1, 100);
    o->setPerSubscriberLimit(3);
    writing = true;
    o->send(":1.0", "/first", "t");
    for (int i = 0; i < 5; ++i)
        o->send(":1.1", "/p/" + std::to_string(i), "t");
    o->send(":1.2", "/q", "t");
    EXPECT_EQ(o->backlog(), 1u);  // :1.1's three went with its loss
    busWroteEverything();
    EXPECT_EQ(sent, (std::vector<std::string>{":1.0 /first t", ":1.2 /q t"}));
    EXPECT_EQ(resynced, (std::vector<std::string>{":1.1"}));
}

namespace {

// A path long enough that a few hundred events fill UnreadBytes.
std::string longPath(int i)
{
    return "/" + std::string(100, 'x') + "/" + std::to_string(i);
}

size_t sentTo(const std::vector<std::string>& sent, const std::string& subscriber)
{
    return std::count_if(sent.begin(), sent.end(),
                         [&](const std::string& e) { return e.starts_with(subscriber + " "); });
}

}  // namespace

// Finding 6, on its own: a subscriber that does not answer its ping (does
// not read) is handed no more than UnreadBytes; the others go on with
// nothing lost; its own line overflows; once it answers, it is sent its
// watched paths' events.
TEST_F(Outbox, ASubscriberThatDoesNotReadIsHeldBackAlone)
{
    std::vector<std::function<void(bool)>> unanswered;  // :1.1's pings
    size_t answeredPings = 0;
    auto o = make(1024, 100000, [&](const std::string& s, std::function<void(bool)> read) {
        if (s == ":1.1")
            return unanswered.push_back(std::move(read));
        ++answeredPings;
        read(true);  // :1.2 reads everything at once
    });
    o->setPerSubscriberLimit(1000);
    for (int i = 0; i < 3000; ++i) {
        o->send(":1.1", longPath(i), "t");
        o->send(":1.2", longPath(i), "t");
    }
    busWroteEverything();
    EXPECT_EQ(sentTo(sent, ":1.2"), 3000u);
    EXPECT_GT(answeredPings, 0u);
    const size_t handed = sentTo(sent, ":1.1");
    EXPECT_GT(handed, 100u);
    EXPECT_LE(handed * (longPath(0).size() + 160), WatchEventOutbox::UnreadBytes + 400);
    EXPECT_EQ(unanswered.size(), 1u) << "one ping at a time";
    EXPECT_EQ(o->backlog(), 0u) << "its line overflowed, and went";
    EXPECT_TRUE(resynced.empty());

    // It does not answer: nothing changes, and it is asked again.
    std::exchange(unanswered, {}).front()(false);
    busWroteEverything();
    EXPECT_EQ(sentTo(sent, ":1.1"), handed);
    EXPECT_TRUE(resynced.empty());
    // It reads at last, and answers each ping: made up for once.
    for (int i = 0; i < 4 && resynced.empty(); ++i) {
        ASSERT_EQ(unanswered.size(), 1u);
        std::exchange(unanswered, {}).front()(true);
        busWroteEverything();
    }
    EXPECT_EQ(resynced, (std::vector<std::string>{":1.1"}));
    // From then on its events flow again.
    o->send(":1.1", "/later", "t");
    EXPECT_EQ(sent.back(), ":1.1 /later t");
}

// A ping answered after the subscriber left, or after the outbox went,
// touches nothing.
TEST_F(Outbox, APingAnsweredLateIsHarmless)
{
    std::vector<std::function<void(bool)>> pings;
    auto o = make(1024, 1000, [&](const std::string&, std::function<void(bool)> read) {
        pings.push_back(std::move(read));
    });
    for (int i = 0; i < 1000; ++i)
        o->send(":1.1", longPath(i), "t");
    ASSERT_EQ(pings.size(), 1u);
    o->forget(":1.1");
    pings[0](true);
    for (int i = 0; i < 1000; ++i)
        o->send(":1.1", longPath(i), "t");
    ASSERT_EQ(pings.size(), 2u);
    o.reset();
    pings[1](true);
}
