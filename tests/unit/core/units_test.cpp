#include "leakwatch/core/units.h"

#include <gtest/gtest.h>

using namespace leakwatch::core;
using namespace std::chrono_literals;

TEST(ParseSize, AcceptsBinaryDecimalAndPlainBytes) {
  EXPECT_EQ(parse_size("512Mi").value(), 512ull << 20);
  EXPECT_EQ(parse_size("2G").value(), 2'000'000'000ull);
  EXPECT_EQ(parse_size("2Gi").value(), 2ull << 30);
  EXPECT_EQ(parse_size("1.5Gi").value(), 3ull << 29);
  EXPECT_EQ(parse_size("1048576").value(), 1048576ull);
  EXPECT_EQ(parse_size(" 64 MiB ").value(), 64ull << 20);
  EXPECT_EQ(parse_size("100k").value(), 100'000ull);
}

TEST(ParseSize, RejectsGarbageWithAClearMessage) {
  auto r = parse_size("12 parsecs");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("unknown size unit"), std::string::npos);
  EXPECT_FALSE(parse_size("").ok());
  EXPECT_FALSE(parse_size("-5Mi").ok());
  EXPECT_FALSE(parse_size("Mi").ok());
  EXPECT_FALSE(parse_size("99999999999Ti").ok());
}

TEST(ParseDuration, AcceptsUnitsAndCompounds) {
  EXPECT_EQ(parse_duration("30s").value(), 30s);
  EXPECT_EQ(parse_duration("6h").value(), 6h);
  EXPECT_EQ(parse_duration("1h30m").value(), 90min);
  EXPECT_EQ(parse_duration("250ms").value(), 250ms);
  EXPECT_EQ(parse_duration("2d").value(), 48h);
  EXPECT_EQ(parse_duration("10").value(), 10s);
  EXPECT_EQ(parse_duration("1.5s").value(), 1500ms);
}

TEST(ParseDuration, RejectsBadInput) {
  EXPECT_FALSE(parse_duration("").ok());
  EXPECT_FALSE(parse_duration("5 fortnights").ok());
  EXPECT_FALSE(parse_duration("-1s").ok());
  EXPECT_FALSE(parse_duration("1h30").ok());
  EXPECT_FALSE(parse_duration("h").ok());
}

TEST(ParsePercent, AcceptsPercentAndFraction) {
  EXPECT_DOUBLE_EQ(parse_percent("90%").value(), 0.9);
  EXPECT_DOUBLE_EQ(parse_percent("0.25").value(), 0.25);
  EXPECT_DOUBLE_EQ(parse_percent("100%").value(), 1.0);
  EXPECT_FALSE(parse_percent("120%").ok());
  EXPECT_FALSE(parse_percent("lots").ok());
  EXPECT_FALSE(parse_percent("5").ok());
}

TEST(Format, BytesAndDurationsReadLikeAPersonWrites) {
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(300.0 * 1024 * 1024), "300 MiB");
  EXPECT_EQ(format_duration(std::chrono::seconds(5400)), "1h 30m");
  EXPECT_EQ(format_duration(std::chrono::seconds(45)), "45s");
  EXPECT_EQ(format_duration(std::chrono::seconds(3 * 86400 + 7200)), "3d 2h");
  EXPECT_EQ(format_duration_seconds(1.0 / 0.0), "never");
}
