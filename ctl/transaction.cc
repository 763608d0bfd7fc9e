#include "ctl/transaction.h"

#include "ctl/cli.h"

namespace xsd::ctl {

namespace {

constexpr const char* AgainError = "org.xenproject.XenStore1.Error.Again";

}  // namespace

unsigned retriesOption(const Invocation& inv)
{
    if (!inv.has("retries"))
        return DefaultRetries;
    const std::string& text = inv.option("retries");
    auto n = wholeNumber<unsigned>(text);
    if (!n)
        throw usageError(inv.verb + ": --retries wants a number, not '" + text + "'");
    return *n;
}

unsigned transact(Invocation& inv, unsigned retries,
                  const std::function<void(Store& store, unsigned attempt)>& body)
{
    auto& xenstore = inv.xenstore();
    for (unsigned attempt = 1;; ++attempt) {
        sdbus::ObjectPath objectPath = orFailure(inv.context() + ": cannot start a transaction",
                                                 [&] { return xenstore.StartTransaction(); });
        TransactionProxy transaction(inv.connection(), objectPath);
        ProxyStore store(transaction, inv.verb);
        bool conflict = false;
        try {
            body(store, attempt);
        } catch (const Failure& f) {
            try {
                transaction.Abort();
            } catch (const sdbus::Error&) {
                // Already gone (or the daemon is): nothing of it was applied.
            }
            if (f.errorName() != AgainError)
                throw;
            conflict = true;
        }
        // The daemon ends the transaction whatever Commit answers.
        bool committed = !conflict && orFailure(inv.context() + ": cannot commit",
                                                [&] { return transaction.Commit(); });
        if (committed)
            return attempt;
        if (attempt > retries)
            throw Failure(ExitTempFail,
                          inv.context() + ": not committed: " + std::to_string(attempt) +
                              (attempt == 1 ? " attempt" : " attempts") +
                              " conflicted with changes made meanwhile (--retries " +
                              std::to_string(retries) + ")");
    }
}

void perform(Invocation& inv, bool severalCalls, const std::function<void(Store&)>& body)
{
    if (!severalCalls) {
        ProxyStore store(inv.xenstore(), inv.verb);
        body(store);
        return;
    }
    transact(inv, retriesOption(inv), [&](Store& store, unsigned) { body(store); });
}

}  // namespace xsd::ctl
