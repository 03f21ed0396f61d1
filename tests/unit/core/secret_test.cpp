#include "leakwatch/core/secret.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "leakwatch/core/secret_file.h"
#include "support/temp_dir.h"

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

// The configuration's { file: PATH } and `capture --key-file` read a secret file this one way.
TEST(Secret, FileLosesItsTrailingLineEndsAndNamesOnlyItsPath) {
  leakwatch::testing::UniqueTempDir d("lw-secret");
  const auto p = d.path() / "key";
  std::ofstream(p) << "s3cr3t value\r\n\n";
  auto s = leakwatch::core::read_secret_file(p);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->reveal(), "s3cr3t value");
  EXPECT_EQ(s->origin(), "file " + p.string());

  std::ofstream(d.path() / "blank") << "\n";
  auto blank = leakwatch::core::read_secret_file(d.path() / "blank");
  ASSERT_FALSE(blank.ok());
  EXPECT_EQ(blank.error().code, leakwatch::core::Errc::empty);
  EXPECT_EQ(leakwatch::core::read_secret_file(d.path() / "missing").error().code,
            leakwatch::core::Errc::not_found);
}
