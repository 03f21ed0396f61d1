#include "leakwatch/core/secret.h"

#include <gtest/gtest.h>

#include <sstream>

using leakwatch::core::Secret;

TEST(Secret, NeverPrintsItsValue) {
  Secret s("hunter2-very-secret", "env HEAP_SECRET_KEY");
  std::ostringstream os;
  os << s;
  EXPECT_EQ(os.str().find("hunter2"), std::string::npos);
  EXPECT_NE(os.str().find("env HEAP_SECRET_KEY"), std::string::npos);
  std::string f = fmt::format("key={}", s);
  EXPECT_EQ(f.find("hunter2"), std::string::npos);
  EXPECT_EQ(s.reveal(), "hunter2-very-secret");
}

TEST(Secret, RedactRemovesEveryOccurrence) {
  Secret s("abcd1234", "inline");
  EXPECT_EQ(leakwatch::core::redact("x abcd1234 y abcd1234", s), "x <redacted> y <redacted>");
}
