#include "leakwatch/config/reader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

using namespace leakwatch::config;
using namespace std::chrono_literals;

namespace {
Context ctx_with_env(std::map<std::string, std::string> env) {
  Context ctx;
  ctx.file = "test.yaml";
  ctx.getenv = [env](const std::string& n) -> std::optional<std::string> {
    auto it = env.find(n);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return ctx;
}
}  // namespace

TEST(Reader, TypedGettersKeepDefaultsWhenAbsent) {
  auto ctx = ctx_with_env({});
  Section s(ctx, YAML::Load("a: 5s\nb: 64Mi\n"), "x");
  std::chrono::milliseconds a{1000}, c{7000};
  std::uint64_t b = 0;
  s.duration("a", a);
  s.size("b", b);
  s.duration("c", c);
  s.finish();
  EXPECT_EQ(a, 5s);
  EXPECT_EQ(b, 64ull << 20);
  EXPECT_EQ(c, 7s);
  EXPECT_TRUE(ctx.problems.empty());
}

TEST(Reader, UnknownKeyIsReportedWithPositionAndSuggestion) {
  auto ctx = ctx_with_env({});
  Section s(ctx, YAML::Load("cooldown: 5m\ncooldwon: 6m\n"), "capture");
  std::chrono::seconds cd{0};
  s.duration("cooldown", cd);
  s.finish();
  ASSERT_EQ(ctx.problems.size(), 1u);
  EXPECT_EQ(ctx.problems[0].key_path, "capture.cooldwon");
  EXPECT_EQ(ctx.problems[0].line, 2);
  EXPECT_EQ(ctx.problems[0].column, 1);
  EXPECT_NE(ctx.problems[0].message.find("did you mean 'cooldown'"), std::string::npos);
}

TEST(Reader, EnvExpansionWithFallbackAndMissingVariable) {
  auto ctx = ctx_with_env({{"APP_PORT", "3000"}});
  std::string err;
  EXPECT_EQ(expand_env("http://localhost:${APP_PORT}/heap", ctx, &err),
            "http://localhost:3000/heap");
  EXPECT_EQ(expand_env("${MISSING:-fallback}", ctx, &err), "fallback");
  EXPECT_TRUE(err.empty());
  expand_env("${MISSING}", ctx, &err);
  EXPECT_EQ(err, "environment variable MISSING is not set");
  EXPECT_EQ(expand_env("cost $$5", ctx, &err), "cost $5");
}

TEST(Reader, SecretFromEnvFileAndInline) {
  auto dir = std::filesystem::temp_directory_path() / ("lw-secret-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "key") << "s3cr3t-from-file\n";
  auto ctx = ctx_with_env({{"HEAP_KEY", "s3cr3t-from-env"}});
  ctx.base_dir = dir.string();
  Section s(ctx, YAML::Load("a: {env: HEAP_KEY}\nb: {file: key}\nc: inline-value\n"), "");
  leakwatch::core::Secret a, b, c;
  s.secret("a", a);
  s.secret("b", b);
  s.secret("c", c);
  s.finish();
  EXPECT_TRUE(ctx.problems.empty());
  EXPECT_EQ(a.reveal(), "s3cr3t-from-env");
  EXPECT_EQ(b.reveal(), "s3cr3t-from-file");
  EXPECT_EQ(c.reveal(), "inline-value");
  ASSERT_EQ(ctx.warnings.size(), 1u);
  EXPECT_EQ(ctx.warnings[0].key_path, "c");
  std::filesystem::remove_all(dir);
}
