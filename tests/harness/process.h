// Child processes for tests: start one, stop it, or run one to completion
// and collect what it printed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace xsd::test {

struct Output {
    int status = -1;  // exit status, or 128+signal
    std::string out;
    std::string err;
};

using Env = std::map<std::string, std::string>;

// Runs argv (argv[0] looked up in PATH) with extra environment, feeding
// `input` on stdin; kills it after `timeout`.
Output run(const std::vector<std::string>& argv, const Env& env = {},
           const std::string& input = {},
           std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A long-running child; stopped (SIGTERM, then SIGKILL) when destroyed.
class Process {
public:
    Process() = default;
    // stdoutFd/stderrFd: where the child's output goes (-1: inherit).
    Process(const std::vector<std::string>& argv, const Env& env = {}, int stdoutFd = -1,
            int stderrFd = -1);
    // A child whose stdout and stderr both go to the log file at `path`,
    // appended to: a process started again adds to the same log.
    static Process logging(const std::vector<std::string>& argv, const std::string& path,
                           const Env& env = {});
    // A child whose stdout (and stderr, unless "") go to files made afresh,
    // for the test to read.
    static Process writing(const std::vector<std::string>& argv, const std::string& stdoutPath,
                           const std::string& stderrPath = {}, const Env& env = {});
    ~Process();
    Process(Process&& other) noexcept;
    Process& operator=(Process&& other) noexcept;

    pid_t pid() const { return pid_; }
    bool running();
    // Sends sig and waits for the exit; returns the status as run() does.
    int stop(int sig = 15, std::chrono::milliseconds grace = std::chrono::seconds(5));
    // Waits for the child to exit by itself; -1 on timeout.
    int wait(std::chrono::milliseconds timeout);

private:
    static Process toFiles(const std::vector<std::string>& argv, const Env& env,
                           const std::string& stdoutPath, const std::string& stderrPath,
                           int mode);

    pid_t pid_ = -1;
    int status_ = -1;
};

// Stops a process (SIGSTOP) for a scope; it runs again (SIGCONT) at thaw()
// or however the scope ends, so a failed assertion does not leave it frozen.
class Frozen {
public:
    explicit Frozen(pid_t pid);
    ~Frozen();
    Frozen(const Frozen&) = delete;
    Frozen& operator=(const Frozen&) = delete;
    // Lets it run again now; the destructor then does nothing.
    void thaw();

private:
    pid_t pid_;
};

// A fresh directory under $TMPDIR (or /tmp), readable by every uid so that
// tests may run clients as another user; removed with its contents when
// destroyed.
class TempDir {
public:
    explicit TempDir(const std::string& prefix = "xsd-test");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// `path` if every uid can execute it where it is; else a copy in a
// directory every uid can reach (made once per process). Tests run clients
// as uid 65534, and the build tree may sit under a directory only root may
// enter (a clone in /root, say).
std::string executableByAnyone(const std::string& path);

// `argv` as uid/gid 65534 (nobody) with only `groups` as supplementary
// groups: the command prefixed with setpriv, its program made reachable
// (executableByAnyone) when given as a path.
std::vector<std::string> asNobodyCommand(const std::vector<std::string>& argv,
                                         const std::vector<unsigned>& groups = {});

// Whether something listens on the Unix socket at `path` now (its file
// exists a moment before the listener accepts).
bool socketAccepts(const std::string& path);
// A process's resident memory (VmRSS), in KiB; -1 if it cannot be read.
long residentKiB(pid_t pid);
// CPU time (user + system) a process has used so far, in seconds; -1 if it
// cannot be read. Resolution is the kernel's clock tick.
double cpuSeconds(pid_t pid);

std::string readFile(const std::string& path);
// The lines of `text`, without their newlines; a last line without one
// counts too ("a\nb" and "a\nb\n" both give {"a", "b"}; "" gives none).
std::vector<std::string> splitLines(const std::string& text);
void writeFile(const std::string& path, const std::string& contents);
// Polls pred every few ms until true or timeout; returns its last value.
bool waitFor(const std::function<bool()>& pred,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace xsd::test
