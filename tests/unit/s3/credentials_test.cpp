// The credentials chain's parsing and order, the S3 key layout, and the ECS identity.
#include <gtest/gtest.h>

#include <map>

#include "leakwatch/s3/client.h"
#include "leakwatch/s3/credentials.h"
#include "leakwatch/s3/identity.h"

using namespace leakwatch;
using namespace leakwatch::s3;

namespace {

CredentialOptions with_env(std::map<std::string, std::string> env) {
  CredentialOptions o;
  o.getenv = [env](const std::string& n) -> std::optional<std::string> {
    auto it = env.find(n);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return o;
}

}  // namespace

TEST(Credentials, EcsResponseIsParsedAndItsSecretsNeverPrint) {
  auto c = parse_credentials_json(
      R"({"RoleArn":"arn:aws:iam::1:role/x","AccessKeyId":"ASIAEXAMPLE1","SecretAccessKey":"SECRET-abc","Token":"TOKEN-def","Expiration":"2026-12-03T19:00:00Z"})",
      "ecs");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->access_key_id, "ASIAEXAMPLE1");
  EXPECT_EQ(c->secret_access_key.reveal(), "SECRET-abc");
  EXPECT_EQ(c->session_token.reveal(), "TOKEN-def");
  ASSERT_TRUE(c->expiration);
  EXPECT_EQ(core::to_unix_seconds(*c->expiration), 1796324400.0);
  EXPECT_EQ(fmt::format("{}", c->secret_access_key).find("SECRET"), std::string::npos);
}

TEST(Credentials, HostileResponsesAreErrorsThatDoNotQuoteThem) {
  for (const char* body :
       {"", "not json", "[]", R"({"AccessKeyId":"A"})",
        R"({"AccessKeyId":"A B\n","SecretAccessKey":"SECRET-xyz"})",
        R"({"AccessKeyId":"AKID","SecretAccessKey":"SECRET-xyz","Expiration":"soon"})",
        R"({"Code":"Failure","AccessKeyId":"AKID","SecretAccessKey":"SECRET-xyz"})"}) {
    auto c = parse_credentials_json(body, "ecs");
    ASSERT_FALSE(c.ok()) << body;
    EXPECT_EQ(c.error().message.find("SECRET-xyz"), std::string::npos);
  }
}

TEST(Credentials, EnvironmentComesFirstThenEcsThenImds) {
  EXPECT_EQ(CredentialsProvider(with_env({{"AWS_ACCESS_KEY_ID", "A"},
                                          {"AWS_SECRET_ACCESS_KEY", "S"},
                                          {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/x"}}))
                .source(),
            "env");
  EXPECT_EQ(
      CredentialsProvider(with_env({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/x"}})).source(),
      "ecs");
  EXPECT_EQ(CredentialsProvider(with_env({})).source(), "imds");
  EXPECT_EQ(CredentialsProvider(with_env({{"AWS_EC2_METADATA_DISABLED", "true"}})).source(), "");
  auto none = CredentialsProvider(with_env({{"AWS_EC2_METADATA_DISABLED", "true"}})).get();
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, core::Errc::no_credentials);
  auto env = CredentialsProvider(with_env({{"AWS_ACCESS_KEY_ID", "A"},
                                           {"AWS_SECRET_ACCESS_KEY", "S"},
                                           {"AWS_SESSION_TOKEN", "T"}}))
                 .get();
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->session_token.reveal(), "T");
  EXPECT_FALSE(env->expiration);
}

TEST(Credentials, FullUriOverPlainHttpOnlyToLoopbackOrTheContainerEndpoints) {
  auto c = CredentialsProvider(
               with_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://198.51.100.7/creds"}}))
               .get();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("loopback"), std::string::npos);
}

TEST(Identity, EcsTaskIdentityNamesTheFleetInKeys) {
  TaskIdentity id;
  id.platform = "ecs";
  id.cluster = "prod";
  id.family = "web-api";
  id.revision = "7";
  id.task_id = "0123abcd";
  id.availability_zone = "eu-west-1b";
  id.host = "ip-10-0-0-1";
  EXPECT_EQ(object_key("leakwatch/", id, "web", "a.heapsnapshot.zst"),
            "leakwatch/prod/web-api/0123abcd/web/a.heapsnapshot.zst");
  EXPECT_EQ(object_key("", id, "../x", "b.json"), "prod/web-api/0123abcd/.._x/b.json");
  EXPECT_EQ(region_from_az(id.availability_zone), "eu-west-1");
  EXPECT_EQ(region_from_az("us-west-2-lax-1a"), "us-west-2-lax-1");
}

TEST(Identity, OutsideEcsTheHostNameStandsForClusterFamilyAndTask) {
  TaskIdentity id;
  id.platform = "host";
  id.host = "build box/1";
  EXPECT_EQ(object_key("p", id, "web", "a.heapsnapshot"),
            "p/build_box_1/build_box_1/build_box_1/web/a.heapsnapshot");
  auto h = core::host_identity();
  EXPECT_EQ(h.platform, "host");
  EXPECT_FALSE(h.host.empty());
}

TEST(S3Url, BucketAndPrefixAreValidated) {
  auto u = parse_s3_url("s3://my-bucket/leakwatch/prod/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->first, "my-bucket");
  EXPECT_EQ(u->second, "leakwatch/prod");
  EXPECT_FALSE(parse_s3_url("s3://A/x").ok());
  EXPECT_FALSE(parse_s3_url("http://b/x").ok());
  EXPECT_EQ(error_code("<Error><Code>NoSuchBucket</Code></Error>"), "NoSuchBucket");
  EXPECT_EQ(error_code("<Error><Code>Bad<script></Code></Error>"), "Unknown");
}
