#include "leakwatch/api/auth.h"

#include <gtest/gtest.h>

namespace leakwatch::api {
namespace {

TEST(Auth, BearerToken) {
  core::Secret token("s3cret-token", "inline");
  EXPECT_EQ(check_bearer("Bearer s3cret-token", token), AuthResult::ok);
  EXPECT_EQ(check_bearer("bearer s3cret-token", token), AuthResult::ok)
      << "scheme is case-insensitive";
  EXPECT_EQ(check_bearer("  Bearer   s3cret-token  ", token), AuthResult::ok);
  EXPECT_EQ(check_bearer("Bearer s3cret-tokeN", token), AuthResult::invalid);
  EXPECT_EQ(check_bearer("Bearer s3cret-token2", token), AuthResult::invalid);
  EXPECT_EQ(check_bearer("Bearer s3cret", token), AuthResult::invalid);
  EXPECT_EQ(check_bearer("", token), AuthResult::missing);
  EXPECT_EQ(check_bearer("Basic dXNlcjpwYXNz", token), AuthResult::missing);
  EXPECT_EQ(check_bearer("Bearer", token), AuthResult::missing);
  EXPECT_EQ(check_bearer("Bearer ", token), AuthResult::missing);
  EXPECT_EQ(check_bearer("Bearers3cret-token", token), AuthResult::missing);
}

TEST(Auth, NoTokenConfiguredDisablesEverything) {
  core::Secret none;
  EXPECT_EQ(check_bearer("Bearer anything", none), AuthResult::disabled);
  EXPECT_EQ(check_bearer("", none), AuthResult::disabled);
}

TEST(Auth, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  EXPECT_TRUE(constant_time_equal(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
}

}  // namespace
}  // namespace leakwatch::api
