// `transaction`: a script on standard input run as one transaction, retried
// after a conflict provoked from outside, printing the reads of the attempt
// that committed; nothing committed when a step fails.
//
// The conflict is made deterministic by feeding standard input through a
// FIFO: the test sends the read, waits until oxenstored's access log shows
// the daemon made it, changes that key with xenstore-write, and only then
// sends the rest. oxenstored reports a conflict only to a transaction that
// read what the outside write changed, which this one did.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tests/ctl/access_log.h"
#include "tests/ctl/ctl.h"

using namespace xsd::test;

namespace {

class Transaction : public ::testing::Test {
protected:
    Stack stack;
    TempDir dir{"xsd-ctl-tx"};

    // xenstorectl ARGS… reading the FIFO, writing to files; the FIFO is
    // open for writing when this returns.
    struct Fed {
        Process process;
        int input = -1;
        void send(const std::string& text)
        {
            ASSERT_EQ(::write(input, text.data(), text.size()), static_cast<ssize_t>(text.size()));
        }
        void close()
        {
            ::close(input);
            input = -1;
        }
    };

    Fed start(const std::vector<std::string>& args)
    {
        std::string fifo = dir / "stdin";
        unlink(fifo.c_str());
        EXPECT_EQ(mkfifo(fifo.c_str(), 0600), 0);
        std::vector<std::string> argv{"sh", "-c", "exec \"$@\" < \"$0\"", fifo};
        auto ctlArgs = ctlArgv(stack, args);
        argv.insert(argv.end(), ctlArgs.begin(), ctlArgs.end());
        Fed fed{Process::writing(argv, dir / "stdout", dir / "stderr")};
        // Blocks until the shell opens the FIFO for reading.
        fed.input = open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
        EXPECT_GE(fed.input, 0);
        return fed;
    }

    // Lines in which the daemon read `path` inside a transaction.
    int transactionalReads(const std::string& path)
    {
        int n = 0;
        for (const auto& e : parseAccessLog(stack.xenstored().accessLog()))
            if (e.id.find('.') != std::string::npos && e.rest.rfind("read", 0) == 0 &&
                e.rest.find(" " + path) != std::string::npos)
                ++n;
        return n;
    }
};

}  // namespace

TEST_F(Transaction, RunsEveryKindOfStep)
{
    stack.xenstored().write("/script/old", "gone soon");
    stack.xenstored().write("/script/in", "value with  blanks");
    auto r = ctl(stack, {"transaction", "-p"},
                 "# a comment, then a blank line\n"
                 "\n"
                 "read /script/in\n"
                 "write /script/new  two\\tcolumns\n"
                 "mkdir /script/dir\n"
                 "rm /script/old\n"
                 "read /script/new\n");
    ASSERT_EQ(r.status, 0) << describe(r);
    EXPECT_EQ(r.out, "/script/in: value with  blanks\n/script/new:  two\\tcolumns\n");
    EXPECT_EQ(stack.xenstored().tool("xenstore-read", {"-R", "/script/new"}).out, " two\tcolumns");
    EXPECT_EQ(stack.xenstored().read("/script/dir"), "");
    EXPECT_NE(stack.xenstored().tool("xenstore-read", {"/script/old"}).status, 0);
}

TEST_F(Transaction, RetriesAfterAnOutsideConflictAndPrintsTheCommittedReads)
{
    stack.xenstored().write("/conflict/counter", "1");
    auto fed = start({"transaction", "--json"});
    fed.send("read /conflict/counter\n");
    ASSERT_TRUE(waitFor([&] { return transactionalReads("/conflict/counter") >= 1; }))
        << stack.xenstored().accessLog();
    // Behind the transaction's back, the key it read changes.
    stack.xenstored().write("/conflict/counter", "outside");
    fed.send("write /conflict/counter 2\nwrite /conflict/other x\n");
    fed.close();

    ASSERT_EQ(fed.process.wait(std::chrono::seconds(20)), 0) << readFile(dir / "stderr");
    auto j = nlohmann::json::parse(readFile(dir / "stdout"));
    EXPECT_EQ(j["committed"], true);
    EXPECT_EQ(j["attempts"], 2);
    // The committed attempt read the outside value, not the first one.
    EXPECT_EQ(j["reads"], nlohmann::json::parse(R"([{"path": "/conflict/counter", "value": "outside"}])"));
    EXPECT_EQ(stack.xenstored().read("/conflict/counter"), "2");
    EXPECT_EQ(stack.xenstored().read("/conflict/other"), "x");
    // In oxenstored's words: the first transaction's read, its conflict, and
    // a later transaction that read again and committed.
    auto log = parseAccessLog(stack.xenstored().accessLog());
    int firstRead = findEntry(log, "read", "/conflict/counter");
    ASSERT_GE(firstRead, 0);
    std::string first = log[firstRead].id;
    EXPECT_GT(findEntry(log, "conflict", "", first, firstRead), firstRead) << stack.xenstored().accessLog();
    int commit = findEntry(log, "commit", "", {}, firstRead);
    ASSERT_GT(commit, firstRead) << stack.xenstored().accessLog();
    std::string second = log[commit].id;
    EXPECT_NE(second, first);
    int secondRead = findEntry(log, "read", "/conflict/counter", second);
    EXPECT_GT(secondRead, firstRead);
    EXPECT_LT(secondRead, commit);
}

TEST_F(Transaction, GivesUpWithStatus75WhenRetriesRunOut)
{
    stack.xenstored().write("/conflict/counter", "1");
    auto fed = start({"transaction", "--retries", "0"});
    fed.send("read /conflict/counter\n");
    ASSERT_TRUE(waitFor([&] { return transactionalReads("/conflict/counter") >= 1; }));
    stack.xenstored().write("/conflict/counter", "outside");
    fed.send("write /conflict/counter 2\n");
    fed.close();

    EXPECT_EQ(fed.process.wait(std::chrono::seconds(20)), 75);
    EXPECT_NE(readFile(dir / "stderr").find("not committed"), std::string::npos) << readFile(dir / "stderr");
    EXPECT_EQ(readFile(dir / "stdout"), "");
    EXPECT_EQ(stack.xenstored().read("/conflict/counter"), "outside");
}

TEST_F(Transaction, AFailingStepCommitsNothing)
{
    auto r = ctl(stack, {"transaction"}, "write /tx/a 1\nread /tx/missing\nwrite /tx/b 2\n");
    EXPECT_EQ(r.status, 1) << describe(r);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind("xenstorectl: transaction: line 2: read /tx/missing: ", 0), 0u) << r.err;
    EXPECT_NE(stack.xenstored().tool("xenstore-read", {"/tx/a"}).status, 0);
    EXPECT_NE(stack.xenstored().tool("xenstore-read", {"/tx/b"}).status, 0);
}

TEST_F(Transaction, ABadLineIsAUsageErrorAndCommitsNothing)
{
    auto r = ctl(stack, {"transaction"}, "write /tx/a 1\nsmash /tx\n");
    EXPECT_EQ(r.status, 2) << describe(r);
    EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
    EXPECT_NE(stack.xenstored().tool("xenstore-read", {"/tx/a"}).status, 0);
}
