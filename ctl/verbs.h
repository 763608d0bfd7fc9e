// The verbs: one function each, taking the parsed command line and
// returning the exit status (failures are thrown as Failure). main.cc holds
// the table that names them, with their options and help.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ctl/invocation.h"
#include "ctl/json_value.h"

namespace xsd::ctl {

// Values read, as xenstore-read prints them (-p, -R) or as --json lists
// them; shared by read and transaction.
using PathValues = std::vector<std::pair<std::string, std::string>>;
void printValues(const Invocation& inv, const PathValues& values);
Json valuesJson(const PathValues& values);

// verbs_data.cc: xenstore-read, -write, -exists, -list, -rm and mkdir.
int runRead(Invocation& inv);
int runWrite(Invocation& inv);
int runExists(Invocation& inv);
int runList(Invocation& inv);
int runRm(Invocation& inv);
int runMkdir(Invocation& inv);
// verb_chmod.cc
int runChmod(Invocation& inv);
// verb_ls.cc
int runLs(Invocation& inv);
// verb_watch.cc
int runWatch(Invocation& inv);
// verb_transaction.cc
int runTransaction(Invocation& inv);
// verbs_daemon.cc: what only the daemon offers.
int runSnapshot(Invocation& inv);
int runDomainPath(Invocation& inv);
int runIntroduced(Invocation& inv);
int runStatus(Invocation& inv);

}  // namespace xsd::ctl
