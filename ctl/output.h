// Writing to standard output. Verbs print through these so that a value's
// bytes (which may hold NULs, with -R) go out whole.
#pragma once

#include <cstdio>
#include <string_view>

namespace xsd::ctl {

inline void print(std::string_view text)
{
    std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace xsd::ctl
