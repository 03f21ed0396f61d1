#include "leakwatch/core/result.h"

#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

using leakwatch::core::Errc;
using leakwatch::core::make_error;

// Names reach logs, API bodies and dedupe keys: each code has its own, and it is its enumerator's.
TEST(Errc, EveryCodeHasItsOwnName) {
  std::set<std::string> names;
  const int last = static_cast<int>(Errc::version);
  for (int i = 0; i <= last; ++i) {
    std::string name(to_string(static_cast<Errc>(i)));
    EXPECT_FALSE(name.empty()) << i;
    EXPECT_TRUE(names.insert(name).second) << "two codes are named " << name;
  }
  EXPECT_EQ(to_string(Errc::not_found), "not_found");
  EXPECT_EQ(to_string(Errc::version), "version");
  std::ostringstream out;
  out << Errc::disk_full;
  EXPECT_EQ(out.str(), "disk_full");
}

TEST(Errc, PeerDetailShowsInTheCodeText) {
  EXPECT_EQ(make_error(Errc::http_status, "HTTP 404", "404").code_text(), "http_404");
  auto s3 = make_error(Errc::s3, "no such upload", "NoSuchUpload");
  EXPECT_EQ(s3.code_text(), "s3_NoSuchUpload");
  EXPECT_TRUE(s3.is_s3("NoSuchUpload"));
  EXPECT_FALSE(s3.is_s3("InvalidPart"));
  EXPECT_FALSE(make_error(Errc::io, "x", "NoSuchUpload").is_s3("NoSuchUpload"));
  EXPECT_EQ(make_error(Errc::timeout, "idle").to_string(), "timeout: idle");
}

TEST(Errc, ContextInFrontKeepsTheCodeAndItsDetail) {
  auto e = make_error(Errc::s3, "no such upload", "NoSuchUpload").prefixed("s3://b/k: ");
  EXPECT_EQ(e.message, "s3://b/k: no such upload");
  EXPECT_EQ(e.code_text(), "s3_NoSuchUpload");
  EXPECT_TRUE(e.is_s3("NoSuchUpload"));
  EXPECT_EQ(make_error(Errc::not_found, "gone").prefixed("/sys/x/").to_string(),
            "not_found: /sys/x/gone");
}
