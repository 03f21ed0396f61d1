#include "leakwatch/core/utf8.h"

#include <gtest/gtest.h>

using namespace leakwatch::core;

namespace {
const std::string kFffd = "\xef\xbf\xbd";
}

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("日本語のプロパティ名"));
  EXPECT_TRUE(is_valid_utf8("\xf0\x9f\x98\x80"));  // U+1F600
  EXPECT_EQ(to_valid_utf8("日本語"), "日本語");
}

TEST(Utf8, ReplacesEachIllFormedSequence) {
  EXPECT_FALSE(is_valid_utf8("a\xff"));
  EXPECT_EQ(to_valid_utf8("a\xff"
                          "b"),
            "a" + kFffd + "b");
  // A lone surrogate as the parser writes \uD800 (WTF-8).
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));
  EXPECT_EQ(to_valid_utf8("x\xed\xa0\x80y"), "x" + kFffd + kFffd + kFffd + "y");
  // Overlong encoding of '/', beyond U+10FFFF, truncated sequence at the end.
  EXPECT_EQ(to_valid_utf8("\xc0\xaf"), kFffd + kFffd);
  EXPECT_EQ(to_valid_utf8("\xf4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);
  EXPECT_EQ(to_valid_utf8("ok\xe6\x97"), "ok" + kFffd);
  for (int b = 0; b < 256; ++b) {
    std::string s(1, static_cast<char>(b));
    EXPECT_TRUE(is_valid_utf8(to_valid_utf8(s + "\x80" + s))) << b;
  }
}

TEST(Utf8, CutsOnCharacterBoundaries) {
  const std::string jp = "日本語";  // 3 bytes each
  EXPECT_EQ(utf8_prefix(jp, 9), jp);
  EXPECT_EQ(utf8_prefix(jp, 8), "日本");
  EXPECT_EQ(utf8_prefix(jp, 7), "日本");
  EXPECT_EQ(utf8_prefix(jp, 6), "日本");
  EXPECT_EQ(utf8_prefix(jp, 2), "");
  EXPECT_EQ(utf8_prefix("\xf0\x9f\x98\x80!", 3), "");
  // Every cut of a mixed string is valid.
  const std::string mixed = "aé日\xf0\x9f\x98\x80z";
  for (std::size_t n = 0; n <= mixed.size(); ++n)
    EXPECT_TRUE(is_valid_utf8(utf8_prefix(mixed, n))) << n;
}

TEST(Utf8, DisplayTextIsValidAndMarksTheCut) {
  EXPECT_EQ(display_text("short", 80), "short");
  const std::string long_jp(42 * 3, 'x');
  std::string key;
  for (int i = 0; i < 42; ++i)
    key += "鍵";
  const std::string shown = display_text(key, 80);
  EXPECT_TRUE(is_valid_utf8(shown));
  EXPECT_EQ(shown, std::string(utf8_prefix(key, 78)) + "…");
  EXPECT_TRUE(is_valid_utf8(display_text("\xff\xfe" + long_jp, 10)));
}
