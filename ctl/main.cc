// xenstorectl: XenStore's command-line tools over D-Bus. The whole program
// is visible here: the table of verbs (with their options and help), and
// main → parse → run, which turns every failure into a message and one of
// the exit statuses of exit_status.h.
#include <cerrno>
#include <clocale>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "ctl/cli.h"
#include "ctl/failure.h"
#include "ctl/verbs.h"

using namespace xsd::ctl;

namespace {

const OptionSpec Retries{"retries", 0, "N",
                         "on a conflict, retry the transaction up to N times (default 5)"};

const std::vector<VerbSpec>& verbTable()
{
    static const std::vector<VerbSpec> verbs{
        {"read", "[-p] [-R] PATH…", "print values, one per line (xenstore-read)",
         "Prints the value of each PATH on a line of its own, with bytes that are not\n"
         "printable ASCII escaped as xenstore-read escapes them (\\t \\n \\r \\\\, \\001 below\n"
         "octal 10, \\x7f and \\xc3 from there on). Several PATHs are read in one\n"
         "transaction, so the values belong together. Values read before a failure\n"
         "are printed, as xenstore-read does. --json: [{\"path\", \"value\"}], where a\n"
         "value that is not UTF-8 is {\"base64\": …}.",
         {{"prefix", 'p', nullptr, "print \"PATH: \" before each value"},
          {"raw", 'R', nullptr, "print the bytes as they are, with no newline"},
          Retries},
         1, SIZE_MAX, runRead},
        {"write", "[-R] PATH VALUE [PATH VALUE…]", "set values (xenstore-write)",
         "Sets each PATH to its VALUE, creating missing parents. VALUE may use the\n"
         "escapes read prints (\\n, \\\\, \\001, \\x41), as xenstore-write reads them. Several\n"
         "pairs are written in one transaction: all of them or, if one fails, none.\n"
         "A VALUE that starts with '-' goes after '--'.",
         {{"raw", 'R', nullptr, "take each VALUE as it is, without escapes"}, Retries},
         2, SIZE_MAX, runWrite},
        {"exists", "PATH…", "test that paths exist (xenstore-exists)",
         "Prints nothing; the exit status is 0 if every PATH exists and 1 if one does\n"
         "not. Errors other than a missing path (e.g. access denied) are errors.\n"
         "--json: [{\"path\", \"exists\"}] for every PATH.",
         {}, 1, SIZE_MAX, runExists},
        {"list", "[-p] PATH…", "list children (xenstore-list)",
         "Prints the names of the children of each PATH, one per line, in XenStore's\n"
         "order. --json: an array of the lines.",
         {{"prefix", 'p', nullptr, "print full paths, not names"}, Retries},
         1, SIZE_MAX, runList},
        {"ls", "[-f] [-p] [PATH…]", "print a subtree with values (xenstore-ls)",
         "Prints the tree below each PATH (default /) as xenstore-ls does: one node per\n"
         "line, indented one blank per level, with its escaped value; lines are cut\n"
         "to 80 columns (the terminal's width less 2 on a terminal). --json: a flat\n"
         "array of {\"path\", \"value\"[, \"perms\"]} in the same order.",
         {{"flat", 'f', nullptr, "full paths instead of indented names"},
          {"perms", 'p', nullptr, "show each node's permissions"}},
         0, SIZE_MAX, runLs},
        {"rm", "[-t] PATH…", "remove nodes and what is below them (xenstore-rm)",
         "Removes each PATH and everything below it. Several PATHs (or -t) are removed\n"
         "in one transaction. Removing a path that does not exist succeeds, as with\n"
         "xenstore-rm.",
         {{"tidy", 't', nullptr, "also remove parents left with no value and no children"},
          Retries},
         1, SIZE_MAX, runRm},
        {"mkdir", "PATH…", "create empty nodes",
         "Creates each PATH (and missing parents) with an empty value; several PATHs\n"
         "in one transaction.",
         {Retries}, 1, SIZE_MAX, runMkdir},
        {"chmod", "[-r] [-u] PATH PERM…", "set permissions (xenstore-chmod)",
         "Sets the permissions of PATH. Each PERM is n (none), r (read), w (write) or\n"
         "b (both) followed by a domain id; the first is the owner's entry and the\n"
         "default for domains not listed, e.g. \"n0 r5\". With -r or -u everything is\n"
         "one transaction.",
         {{"recurse", 'r', nullptr, "also every node below PATH"},
          {"upto", 'u', nullptr, "also every ancestor of PATH, up to (not including) /"},
          Retries},
         2, SIZE_MAX, runChmod},
        {"watch", "[-n N] PATH…", "print changes as they happen (xenstore-watch)",
         "Watches each PATH (or @introduceDomain, @releaseDomain) and prints the path\n"
         "that changed, one line per event, flushed at once. When several PATHs are\n"
         "watched each line also names, after a blank, the watched PATH it came\n"
         "through. As with XenStore, every new watch fires once straight away; that\n"
         "event counts towards -n. Ends cleanly (status 0) on SIGINT, SIGTERM or when\n"
         "the reader of its output goes away; with status 69 if the daemon leaves.\n"
         "--json: one {\"path\", \"token\"} object per line.",
         {{"number", 'n', "N", "exit after N events"}},
         1, SIZE_MAX, runWatch},
        {"snapshot", "[PATH]", "print a subtree as JSON, read consistently",
         "Prints the daemon's Snapshot of PATH (default /): the whole subtree, read in\n"
         "one transaction, as pretty-printed JSON {\"path\", \"value\", \"children\"}.",
         {}, 0, 1, runSnapshot},
        {"domain-path", "DOMID", "print a domain's home path",
         "Prints the path XenStore gives domain DOMID, e.g. /local/domain/5.",
         {}, 1, 1, runDomainPath},
        {"introduced", "[-q] DOMID", "test whether xenstored knows a domain",
         "Prints yes or no; the exit status is 0 for yes, 1 for no.",
         {{"quiet", 'q', nullptr, "print nothing, only set the exit status"}},
         1, 1, runIntroduced},
        {"transaction", "[-p] [-R] [--retries N]", "run a script of steps as one transaction",
         "Reads steps from standard input, one per line, and runs them as one\n"
         "transaction:\n"
         "    read PATH\n"
         "    write PATH VALUE     (VALUE: the rest of the line, with write's escapes)\n"
         "    rm PATH\n"
         "    mkdir PATH\n"
         "Blank lines and lines starting with # are skipped. If a conflicting change\n"
         "made meanwhile keeps the transaction from committing, it is run again from\n"
         "the first step. When it commits, the values read by that attempt are\n"
         "printed as read prints them. Exit status 0: committed; 75: still conflicting\n"
         "after the retries; otherwise nothing was committed. --json: {\"committed\",\n"
         "\"attempts\", \"reads\": [{\"path\", \"value\"}]}.",
         {{"prefix", 'p', nullptr, "print \"PATH: \" before each value read"},
          {"raw", 'R', nullptr, "no escapes: values read and written are taken as they are"},
          Retries},
         0, 0, runTransaction},
        {"status", "", "print the daemon's state",
         "Prints the daemon's properties: whether it is connected to xenstored, how it\n"
         "reaches it, its counts of XenStore watches, subscriptions and transactions,\n"
         "and its version. --json: an object of the properties.",
         {}, 0, 0, runStatus},
    };
    return verbs;
}

}  // namespace

int main(int argc, char** argv)
{
    std::setlocale(LC_ALL, "");
    const char* verb = "xenstorectl";
    int status = ExitSuccess;
    try {
        Parsed parsed = parseCommandLine(argc, argv, verbTable());
        if (!parsed.invocation)
            return ExitSuccess;
        verb = parsed.verb->name;
        status = parsed.verb->run(*parsed.invocation);
    } catch (const Failure& f) {
        std::fflush(stdout);
        std::fprintf(stderr, "xenstorectl: %s\n", f.what());
        return f.status();
    } catch (const sdbus::Error& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "xenstorectl: %s: %s\n", verb, e.getMessage().c_str());
        return exitStatusFor(e);
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "xenstorectl: %s: %s\n", verb, e.what());
        return ExitFailure;
    }
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
        std::fprintf(stderr, "xenstorectl: %s: cannot write the output: %s\n", verb, std::strerror(errno));
        return ExitFailure;
    }
    return status;
}
