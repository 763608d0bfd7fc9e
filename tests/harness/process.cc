#include "tests/harness/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace xsd::test {

namespace {

int decodeStatus(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

std::vector<std::string> mergedEnv(const Env& extra)
{
    std::map<std::string, std::string> all;
    for (char** e = environ; *e; ++e) {
        std::string kv(*e);
        auto eq = kv.find('=');
        if (eq != std::string::npos)
            all[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (auto& [k, v] : extra)
        all[k] = v;
    std::vector<std::string> out;
    for (auto& [k, v] : all)
        out.push_back(k + "=" + v);
    return out;
}

std::vector<char*> cstrings(std::vector<std::string>& v)
{
    std::vector<char*> out;
    for (auto& s : v)
        out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

pid_t spawn(const std::vector<std::string>& argv, const Env& env, int in, int out, int err)
{
    std::vector<std::string> args = argv, envs = mergedEnv(env);
    auto cargs = cstrings(args), cenv = cstrings(envs);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (in >= 0)
        posix_spawn_file_actions_adddup2(&fa, in, 0);
    if (out >= 0)
        posix_spawn_file_actions_adddup2(&fa, out, 1);
    if (err >= 0)
        posix_spawn_file_actions_adddup2(&fa, err, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Children start with default signal handling and no blocked signals,
    // whatever the test runner did.
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    pid_t pid = -1;
    int r = posix_spawnp(&pid, cargs[0], &fa, &attr, cargs.data(), cenv.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (r != 0)
        throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(r));
    return pid;
}

}  // namespace

Output run(const std::vector<std::string>& argv, const Env& env, const std::string& input,
           std::chrono::milliseconds timeout)
{
    int inP[2], outP[2], errP[2];
    if (pipe2(inP, O_CLOEXEC) || pipe2(outP, O_CLOEXEC) || pipe2(errP, O_CLOEXEC))
        throw std::runtime_error("pipe failed");
    pid_t pid = spawn(argv, env, inP[0], outP[1], errP[1]);
    close(inP[0]);
    close(outP[1]);
    close(errP[1]);
    fcntl(inP[1], F_SETFL, O_NONBLOCK);
    Output res;
    size_t written = 0;
    int inFd = inP[1];
    if (input.empty()) {
        close(inFd);
        inFd = -1;
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool outOpen = true, errOpen = true;
    while (outOpen || errOpen) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        pollfd fds[3] = {{outOpen ? outP[0] : -1, POLLIN, 0},
                         {errOpen ? errP[0] : -1, POLLIN, 0},
                         {inFd, POLLOUT, 0}};
        if (poll(fds, 3, static_cast<int>(left.count())) < 0 && errno != EINTR)
            break;
        char buf[65536];
        for (int i = 0; i < 2; ++i) {
            if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t n = read(fds[i].fd, buf, sizeof buf);
                if (n <= 0)
                    (i == 0 ? outOpen : errOpen) = false;
                else
                    (i == 0 ? res.out : res.err).append(buf, static_cast<size_t>(n));
            }
        }
        if (inFd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = write(inFd, input.data() + written, input.size() - written);
            if (n > 0)
                written += static_cast<size_t>(n);
            if (n < 0 || written == input.size()) {
                close(inFd);
                inFd = -1;
            }
        }
    }
    if (inFd >= 0)
        close(inFd);
    close(outP[0]);
    close(errP[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    res.status = decodeStatus(st);
    return res;
}

Process::Process(const std::vector<std::string>& argv, const Env& env, int stdoutFd, int stderrFd)
    : pid_(spawn(argv, env, -1, stdoutFd, stderrFd))
{
}

Process Process::toFiles(const std::vector<std::string>& argv, const Env& env,
                         const std::string& stdoutPath, const std::string& stderrPath, int mode)
{
    auto openFile = [mode](const std::string& path) {
        return path.empty() ? -1 : open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | mode, 0644);
    };
    int out = openFile(stdoutPath);
    int err = stderrPath == stdoutPath ? out : openFile(stderrPath);
    Process p(argv, env, out, err);
    if (out >= 0)
        close(out);
    if (err >= 0 && err != out)
        close(err);
    return p;
}

Process Process::logging(const std::vector<std::string>& argv, const std::string& path,
                         const Env& env)
{
    return toFiles(argv, env, path, path, O_APPEND);
}

Process Process::writing(const std::vector<std::string>& argv, const std::string& stdoutPath,
                         const std::string& stderrPath, const Env& env)
{
    return toFiles(argv, env, stdoutPath, stderrPath, O_TRUNC);
}

Process::~Process()
{
    if (pid_ > 0)
        stop();
}

Process::Process(Process&& other) noexcept : pid_(other.pid_), status_(other.status_)
{
    other.pid_ = -1;
}

Process& Process::operator=(Process&& other) noexcept
{
    if (this != &other) {
        if (pid_ > 0)
            stop();
        pid_ = other.pid_;
        status_ = other.status_;
        other.pid_ = -1;
    }
    return *this;
}

bool Process::running()
{
    if (pid_ <= 0)
        return false;
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
        status_ = decodeStatus(st);
        pid_ = -1;
        return false;
    }
    return true;
}

int Process::wait(std::chrono::milliseconds timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() >= deadline)
            return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return status_;
}

int Process::stop(int sig, std::chrono::milliseconds grace)
{
    if (!running())
        return status_;
    kill(pid_, sig);
    if (wait(grace) >= 0 || !running())
        return status_;
    kill(pid_, SIGKILL);
    return wait(std::chrono::seconds(5));
}

Frozen::Frozen(pid_t pid) : pid_(pid)
{
    // A test that relies on a process standing still must not go on when
    // it does not.
    if (pid_ <= 0 || kill(pid_, SIGSTOP) != 0)
        throw std::runtime_error("cannot stop process " + std::to_string(pid_));
}

Frozen::~Frozen()
{
    thaw();
}

void Frozen::thaw()
{
    if (pid_ > 0)
        kill(pid_, SIGCONT);
    pid_ = -1;
}

TempDir::TempDir(const std::string& prefix)
{
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
    if (!mkdtemp(tmpl.data()))
        throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
    chmod(tmpl.c_str(), 0755);
    path_ = tmpl;
}

TempDir::~TempDir()
{
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::string executableByAnyone(const std::string& path)
{
    namespace fs = std::filesystem;
    auto reachable = [](const fs::path& file) {
        struct stat st {};
        if (stat(file.c_str(), &st) != 0 || !(st.st_mode & S_IXOTH))
            return false;
        for (fs::path dir = file.parent_path(); !dir.empty(); dir = dir.parent_path()) {
            if (stat(dir.c_str(), &st) != 0 || !(st.st_mode & S_IXOTH))
                return false;
            if (dir == dir.root_path())
                break;
        }
        return true;
    };
    const fs::path file = fs::absolute(path);
    if (reachable(file))
        return path;
    static TempDir copies("xsd-exec");
    static std::map<std::string, std::string> copied;
    auto& copy = copied[file.string()];
    if (copy.empty()) {
        copy = copies / file.filename().string();
        fs::copy_file(file, copy, fs::copy_options::overwrite_existing);
        fs::permissions(copy, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
    }
    return copy;
}

std::vector<std::string> asNobodyCommand(const std::vector<std::string>& argv,
                                         const std::vector<unsigned>& groups)
{
    std::vector<std::string> full{"setpriv", "--reuid=65534", "--regid=65534"};
    if (groups.empty()) {
        full.push_back("--clear-groups");
    } else {
        std::string list;
        for (auto g : groups)
            list += (list.empty() ? "" : ",") + std::to_string(g);
        full.push_back("--groups=" + list);
    }
    full.insert(full.end(), argv.begin(), argv.end());
    const auto program = full.begin() + static_cast<long>(full.size() - argv.size());
    if (program->find('/') != std::string::npos)
        *program = executableByAnyone(*program);
    return full;
}

bool socketAccepts(const std::string& path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    return ok;
}

long residentKiB(pid_t pid)
{
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::stol(line.substr(6));
    return -1;
}

double cpuSeconds(pid_t pid)
{
    // Fields 14 and 15 of /proc/PID/stat; the command name (field 2) may
    // hold spaces, so count from its closing parenthesis.
    std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos)
        return -1;
    std::istringstream fields(stat.substr(close + 2));
    std::string skip;
    for (int i = 3; i < 14; ++i)
        fields >> skip;
    unsigned long long utime = 0, stime = 0;
    if (!(fields >> utime >> stime))
        return -1;
    return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

std::string readFile(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::vector<std::string> splitLines(const std::string& text)
{
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

void writeFile(const std::string& path, const std::string& contents)
{
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << contents;
    if (!f)
        throw std::runtime_error("cannot write " + path);
}

bool waitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (pred())
            return true;
        if (std::chrono::steady_clock::now() >= deadline)
            return pred();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

}  // namespace xsd::test
