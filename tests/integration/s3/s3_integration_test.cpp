// The S3 uploader against s3rver behind a front that checks every request's Signature V4 with
// botocore; objects are read back with boto3 and compared byte for byte.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <fstream>
#include <random>

#include <boost/asio/io_context.hpp>

#include "leakwatch/alert/alerter.h"
#include "leakwatch/alert/webhook.h"
#include "leakwatch/archive/archive.h"
#include "leakwatch/core/fs.h"
#include "leakwatch/s3/client.h"
#include "leakwatch/s3/fleet.h"
#include "leakwatch/s3/uploader.h"
#include "peers.h"
#include "support/temp_dir.h"

using namespace leakwatch;
using namespace leakwatch::s3;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string kBucket = "test-bucket";
const std::string kAkid = "AKIDLEAKWATCHTEST";
const std::string kSecret = "wJalrXUtnFEMI/K7MDENG+LEAKWATCH-TEST";
const std::string kPeers = std::string(LEAKWATCH_TESTS_DIR) + "/peers/s3";

class S3Peers : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kPeers + "/node_modules/.bin/s3rver"))
      GTEST_SKIP() << "s3rver is not installed: run scripts/setup";
    int port = test::free_port();
    fs::create_directories(dir_.path() / "s3data");
    // s3rver's continuation tokens use DES, which OpenSSL 3 keeps in its legacy provider.
    s3rver_ = std::make_unique<test::Child>(std::vector<std::string>{
        "env", "NODE_OPTIONS=--openssl-legacy-provider", kPeers + "/node_modules/.bin/s3rver", "-d",
        (dir_.path() / "s3data").string(), "-p", std::to_string(port), "-a", "127.0.0.1",
        "--configure-bucket", kBucket});
    ASSERT_FALSE(s3rver_->wait_line("S3rver listening", 20s).empty());
    proxy_ = std::make_unique<test::Child>(std::vector<std::string>{
        "python3", kPeers + "/verify_proxy.py", "--upstream", std::to_string(port), "--ecs-token",
        "ecs-auth-token-123", "--key", kAkid + ":" + kSecret});
    proxy_port_ = std::stoi("0" + proxy_->wait_line("PROXY ", 20s));
    ecs_port_ = std::stoi("0" + proxy_->wait_line("ECS ", 5s));
    ASSERT_GT(proxy_port_, 0);
    ASSERT_GT(ecs_port_, 0);
    archive_ = dir_.path() / "archive";
    queue_ = dir_.path() / "queue";
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(proxy_port_); }

  std::shared_ptr<CredentialsProvider> static_keys(const std::string& secret = kSecret) {
    CredentialOptions o;
    o.getenv = [secret](const std::string& n) -> std::optional<std::string> {
      if (n == "AWS_ACCESS_KEY_ID") return kAkid;
      if (n == "AWS_SECRET_ACCESS_KEY") return secret;
      return std::nullopt;
    };
    return std::make_shared<CredentialsProvider>(o);
  }

  std::shared_ptr<CredentialsProvider> ecs_keys() {
    CredentialOptions o;
    std::string uri = "http://127.0.0.1:" + std::to_string(ecs_port_) + "/v2/credentials/abc";
    o.getenv = [uri](const std::string& n) -> std::optional<std::string> {
      if (n == "AWS_CONTAINER_CREDENTIALS_FULL_URI") return uri;
      if (n == "AWS_CONTAINER_AUTHORIZATION_TOKEN") return "ecs-auth-token-123";
      return std::nullopt;
    };
    o.refresh_margin = 0s;  // use them until S3 says they expired
    return std::make_shared<CredentialsProvider>(o);
  }

  std::shared_ptr<Client> client(std::shared_ptr<CredentialsProvider> creds,
                                 const std::string& bucket = kBucket) {
    archive::S3ArchiveSettings s;
    s.bucket = bucket;
    s.endpoint = endpoint();
    s.region = "eu-west-1";
    auto o = client_options(s, core::host_identity());
    o.initial_backoff = 20ms;
    o.max_backoff = 100ms;
    return std::make_shared<Client>(o, std::move(creds));
  }

  std::unique_ptr<Uploader> uploader(std::shared_ptr<Client> c,
                                     const std::string& task = "0123abcd") {
    UploaderOptions o;
    o.s3.bucket = c->options().bucket;
    o.s3.prefix = "fleet";
    o.s3.part_size = 5ull << 20;
    o.archive_dir = archive_;
    o.queue_dir = queue_;
    o.identity.cluster = "prod";
    o.identity.family = "web-api";
    o.identity.task_id = task;
    o.retry_initial = 0ms;
    return std::make_unique<Uploader>(o, std::move(c));
  }

  // A capture in the archive layout: <archive>/<target>/<stem>.heapsnapshot + <stem>.json.
  archive::Metadata capture(const std::string& stem, std::size_t bytes,
                            const std::string& target = "web") {
    std::string data(bytes, '\0');
    std::mt19937_64 rng(bytes);
    for (auto& c : data)
      c = static_cast<char>(rng());
    return capture_file(stem, data, target);
  }
  archive::Metadata capture_file(const std::string& stem, const std::string& data,
                                 const std::string& target = "web") {
    fs::create_directories(archive_ / target);
    std::ofstream(archive_ / target / (stem + ".heapsnapshot"), std::ios::binary) << data;
    archive::Metadata m;
    m.id = target + "/" + stem;
    m.target = target;
    m.file = stem + ".heapsnapshot";
    m.size_bytes = data.size();
    std::ofstream(archive_ / target / (stem + ".json")) << m.to_json().dump();
    return m;
  }

  // boto3 reads the object back (independently of leakwatch's client); returns its SHA-256.
  std::string boto3_sha256(const std::string& key) {
    std::string py =
        "import boto3,hashlib,sys\n"
        "from botocore.config import Config\n"
        "c=boto3.client('s3',endpoint_url='" +
        endpoint() + "',aws_access_key_id='" + kAkid + "',aws_secret_access_key='" + kSecret +
        "',region_name='eu-west-1',config=Config(s3={'addressing_style':'path'}))\n"
        "b=c.get_object(Bucket='" +
        kBucket +
        "',Key=sys.argv[1])['Body'].read()\n"
        "print(hashlib.sha256(b).hexdigest())\n";
    std::ofstream(dir_.path() / "get.py") << py;
    auto out = test::run("python3 " + (dir_.path() / "get.py").string() + " '" + key + "' 2>&1");
    while (!out.empty() && out.back() == '\n')
      out.pop_back();
    return out;
  }

  std::string file_sha256(const fs::path& p) {
    auto data = core::read_file(p, 1 << 30);
    return data.ok() ? sha256_hex(*data) : "";
  }

  nlohmann::json proxy_stats() {
    return nlohmann::json::parse(test::run("curl -s " + endpoint() + "/__control/stats"), nullptr,
                                 false);
  }
  void fault(const std::string& kind, int count, const std::string& match) {
    nlohmann::json f = {{"kind", kind}, {"count", count}, {"match", match}, {"method", "PUT"}};
    test::run("curl -s -X POST --data '" + f.dump() + "' " + endpoint() + "/__control/fault");
  }

  leakwatch::testing::UniqueTempDir dir_{"lw-s3"};
  std::unique_ptr<test::Child> s3rver_, proxy_;
  int proxy_port_ = 0, ecs_port_ = 0;
  fs::path archive_, queue_;
};

TEST_F(S3Peers, UploadsSnapshotInPartsAndMetadataReadBackIdenticalByBoto3) {
  auto m = capture("20261203T180000Z-leak-series-1of3", 12 * 1024 * 1024 + 12345);
  auto up = uploader(client(static_keys()));
  up->enqueue(m);
  EXPECT_TRUE(fs::exists(queue_));
  EXPECT_EQ(up->run_once(), 1) << up->stats().last_error;
  auto [snap, meta] = up->keys_for(m);
  EXPECT_EQ(snap, "fleet/prod/web-api/0123abcd/web/20261203T180000Z-leak-series-1of3.heapsnapshot");
  EXPECT_EQ(meta, "fleet/prod/web-api/0123abcd/web/20261203T180000Z-leak-series-1of3.json");
  EXPECT_EQ(boto3_sha256(snap), file_sha256(archive_ / "web" / m.file));
  EXPECT_EQ(boto3_sha256(meta),
            file_sha256(archive_ / "web" / "20261203T180000Z-leak-series-1of3.json"));
  EXPECT_TRUE(fs::is_empty(queue_));  // the job is gone once both objects are up
  auto st = proxy_stats();
  EXPECT_EQ(st["rejected"], 0);
  // create + 3 parts + complete + the .json, each signature checked by botocore.
  EXPECT_GE(st["verified"].get<int>(), 6);
}

TEST_F(S3Peers, AWrongSignatureIsRejectedAndTheJobStaysQueued) {
  auto m = capture("20261203T180100Z-manual", 1000);
  auto up = uploader(client(static_keys("not-the-secret")));
  up->enqueue(m);
  EXPECT_EQ(up->run_once(), 0);
  EXPECT_NE(up->stats().last_error.find("SignatureDoesNotMatch"), std::string::npos)
      << up->stats().last_error;
  EXPECT_EQ(up->stats().last_error.find("not-the-secret"), std::string::npos);
  EXPECT_EQ(up->stats().queued, 1u);
  EXPECT_GE(proxy_stats()["rejected"].get<int>(), 1);
  EXPECT_FALSE(fs::is_empty(queue_));
}

TEST_F(S3Peers, SlowDown500AndACutConnectionAreRetriedAndNothingIsLost) {
  auto m = capture("20261203T180200Z-manual", 11 * 1024 * 1024);
  auto up = uploader(client(static_keys()));
  fault("slowdown", 1, "partNumber=1");
  fault("500", 1, "partNumber=2");
  fault("cut", 1, "partNumber=3");
  up->enqueue(m);
  EXPECT_EQ(up->run_once(), 1) << up->stats().last_error;
  EXPECT_EQ(proxy_stats()["faults"], 3);
  auto [snap, meta] = up->keys_for(m);
  EXPECT_EQ(boto3_sha256(snap), file_sha256(archive_ / "web" / m.file));
}

TEST_F(S3Peers, CredentialsExpiringMidUploadAreRotatedFromTheEcsEndpoint) {
  auto m = capture("20261203T180300Z-manual", 16 * 1024 * 1024);
  auto up = uploader(client(ecs_keys()));
  fault("expire", 1, "partNumber=2");
  up->enqueue(m);
  EXPECT_EQ(up->run_once(), 1) << up->stats().last_error;
  auto st = proxy_stats();
  EXPECT_EQ(st["expired"], 1);
  EXPECT_EQ(st["ecs_issued"], 2);  // the first key pair, then one after ExpiredToken
  auto [snap, meta] = up->keys_for(m);
  EXPECT_EQ(boto3_sha256(snap), file_sha256(archive_ / "web" / m.file));
}

TEST_F(S3Peers, AMissingBucketIsAClearErrorAndTheCaptureIsKept) {
  auto m = capture("20261203T180400Z-manual", 1000);
  auto c = client(static_keys(), "no-such-bucket");
  auto head = c->head_bucket();
  ASSERT_FALSE(head.ok());
  EXPECT_TRUE(head.error().is_s3("NoSuchBucket")) << head.error().to_string();
  auto up = uploader(c);
  up->enqueue(m);
  EXPECT_EQ(up->run_once(), 0);
  EXPECT_NE(up->stats().last_error.find("NoSuchBucket"), std::string::npos);
  EXPECT_EQ(up->stats().queued, 1u);
}

TEST_F(S3Peers, ARestartMidUploadResumesFromTheLastAcknowledgedPart) {
  auto m = capture("20261203T180500Z-manual", 21 * 1024 * 1024);
  {
    auto c = client(static_keys());
    auto o = c->options();
    o.max_attempts = 1;
    auto up = uploader(std::make_shared<Client>(o, static_keys()));
    fault("cut", 1, "partNumber=4");
    up->enqueue(m);
    EXPECT_EQ(up->run_once(), 0);
  }  // the daemon goes away with parts 1-3 acknowledged
  auto files = std::vector<fs::path>(fs::directory_iterator(queue_), fs::directory_iterator());
  ASSERT_EQ(files.size(), 1u);
  auto job = nlohmann::json::parse(*core::read_file(files[0]));
  ASSERT_EQ(job["files"][0]["multipart"]["etags"].size(), 3u);
  int before = proxy_stats()["verified"];

  auto up = uploader(client(static_keys()));
  ASSERT_TRUE(up->start().ok());
  for (int i = 0; i < 200 && up->stats().uploaded == 0; ++i)
    std::this_thread::sleep_for(50ms);
  up->stop();
  EXPECT_EQ(up->stats().uploaded, 1u) << up->stats().last_error;
  // Parts 4 and 5, the completion and the .json: the three acknowledged parts are not sent again.
  EXPECT_EQ(proxy_stats()["verified"].get<int>() - before, 4);
  auto [snap, meta] = up->keys_for(m);
  EXPECT_EQ(boto3_sha256(snap), file_sha256(archive_ / "web" / m.file));
}

TEST_F(S3Peers, AFullLocalDiskKeepsTheJobInMemoryAndTheUploadGoesOn) {
  fs::create_directories(queue_);
  if (mount("tmpfs", queue_.c_str(), "tmpfs", 0, "size=16k") != 0)
    GTEST_SKIP() << "cannot mount a small tmpfs (not root?)";
  // Fill the queue's file system.
  std::ofstream(queue_ / "filler", std::ios::binary) << std::string(64 * 1024, 'x');
  auto m = capture("20261203T180600Z-manual", 1000);
  auto up = uploader(client(static_keys()));
  up->enqueue(m);
  EXPECT_EQ(up->run_once(), 1) << up->stats().last_error;
  auto [snap, meta] = up->keys_for(m);
  EXPECT_EQ(boto3_sha256(snap), file_sha256(archive_ / "web" / m.file));
  umount2(queue_.c_str(), MNT_DETACH);
}

TEST_F(S3Peers, ListsTheFleetByClusterFamilyTaskAndTargetOverSeveralPages) {
  auto a1 = capture("20261203T180000Z-leak-series-1of3", 1000);
  auto a2 = capture("20261203T180500Z-leak-series-2of3", 2000);
  auto up_a = uploader(client(static_keys()), "task-a");
  up_a->enqueue(a1);
  up_a->enqueue(a2);
  EXPECT_EQ(up_a->run_once(), 2) << up_a->stats().last_error;
  auto b1 = capture("20261203T181000Z-manual", 3000, "worker");
  auto up_b = uploader(client(static_keys()), "task-b");
  up_b->enqueue(b1);
  EXPECT_EQ(up_b->run_once(), 1) << up_b->stats().last_error;
  auto c = client(static_keys());
  // A snapshot whose .json is not up yet, and an object outside the layout.
  ASSERT_TRUE(c->put_object(
                   "fleet/prod/web-api/task-b/worker/20261203T181500Z-manual.heapsnapshot.zst", "z")
                  .ok());
  ASSERT_TRUE(c->put_object("fleet/README.txt", "not a snapshot").ok());

  // 8 objects, 3 a page: three ListObjectsV2 requests joined by continuation tokens.
  auto o = c->options();
  o.list_max_keys = 3;
  Client lister(o, static_keys());
  int before = proxy_stats()["verified"];
  auto l = list_fleet(lister, "fleet");
  ASSERT_TRUE(l.ok()) << l.error().to_string();
  EXPECT_EQ(proxy_stats()["verified"].get<int>() - before, 3);
  EXPECT_TRUE(l->complete);
  EXPECT_EQ(l->other_objects, 1u);
  ASSERT_EQ(l->snapshots.size(), 4u);
  const std::string base = "s3://" + kBucket + "/fleet/prod/web-api/";
  EXPECT_EQ(l->snapshots[0].task, "task-a");
  EXPECT_EQ(l->snapshots[0].target, "web");
  EXPECT_EQ(l->snapshots[0].id(kBucket),
            base + "task-a/web/20261203T180000Z-leak-series-1of3.heapsnapshot");
  EXPECT_EQ(l->snapshots[0].metadata_key,
            "fleet/prod/web-api/task-a/web/20261203T180000Z-leak-series-1of3.json");
  EXPECT_EQ(l->snapshots[0].size, 1000u);
  EXPECT_EQ(l->snapshots[1].id(kBucket),
            base + "task-a/web/20261203T180500Z-leak-series-2of3.heapsnapshot");
  EXPECT_EQ(l->snapshots[2].cluster, "prod");
  EXPECT_EQ(l->snapshots[2].family, "web-api");
  EXPECT_EQ(l->snapshots[2].task, "task-b");
  EXPECT_EQ(l->snapshots[2].target, "worker");
  EXPECT_EQ(l->snapshots[2].reason, "manual");
  EXPECT_FALSE(l->snapshots[2].metadata_key.empty());
  EXPECT_EQ(l->snapshots[3].id(kBucket),
            base + "task-b/worker/20261203T181500Z-manual.heapsnapshot.zst");
  EXPECT_TRUE(l->snapshots[3].metadata_key.empty());

  // Filters; a prefix deeper than the archive's groups the same way.
  auto only_b = list_fleet(lister, "fleet", FleetFilter{"", "", "task-b", "worker"});
  ASSERT_TRUE(only_b.ok());
  EXPECT_EQ(only_b->snapshots.size(), 2u);
  auto deeper = list_fleet(lister, "fleet/prod/web-api/task-a/");
  ASSERT_TRUE(deeper.ok());
  ASSERT_EQ(deeper->snapshots.size(), 2u);
  EXPECT_EQ(deeper->snapshots[0].task, "task-a");
  // A cap on the number of objects says the listing is incomplete.
  auto capped = lister.list("fleet/", {}, 4);
  ASSERT_TRUE(capped.ok());
  EXPECT_FALSE(capped->complete);
  EXPECT_EQ(proxy_stats()["rejected"], 0);
}

// What an engineer does after an alert for a task that is gone: list the fleet from a laptop, then
// diff two of its snapshots by the ids the listing printed, through the leakwatch binary.
TEST_F(S3Peers, TheCliListsTheFleetAndDiffsTwoSnapshotsOfAGoneTask) {
  if (test::run("node -e 'process.stdout.write(\"ok\")' 2>/dev/null") != "ok")
    GTEST_SKIP() << "node is not installed";
  // Two real V8 snapshots, the second with 3000 more instances of class LeakedThing.
  auto snap = [&](int n, const std::string& stem) {
    auto path = dir_.path() / (stem + ".tmp");
    test::run(
        "node -e 'class LeakedThing { constructor(i) { this.i = i; } }"
        " globalThis.keep = []; for (let i = 0; i < " +
        std::to_string(n) +
        "; i++) keep.push(new LeakedThing(i));"
        " require(\"v8\").writeHeapSnapshot(process.argv[1])' " +
        path.string());
    auto data = core::read_file(path, 256 << 20);
    EXPECT_TRUE(data.ok()) << "node wrote no snapshot";
    return capture_file(stem, data.ok() ? *data : std::string(), "app");
  };
  auto first = snap(1000, "20261203T200000Z-leak-series-1of3");
  auto second = snap(4000, "20261203T201000Z-leak-series-2of3");
  auto up = uploader(client(static_keys()), "gone-task");
  up->enqueue(first);
  up->enqueue(second);

  // The alert for the capture, as the daemon wires it (daemon/app.cpp): the Alerter asks the
  // uploader where each snapshot goes. Before the upload it names the keys and says "pending",
  // and indeed nothing is there yet.
  boost::asio::io_context io;  // never run: the alert is only rendered
  core::SystemClock clock;
  alert::AlertSettings as;
  alert::WebhookSinkSettings w;
  w.name = "hook";
  w.url = "http://127.0.0.1:9/hook";
  as.webhooks.push_back(w);
  auto alerter = alert::Alerter::create(io, clock, as, 5);
  ASSERT_TRUE(alerter);
  (*alerter)->set_archive_linker([&up](const std::string& id) { return up->link(id); });
  alert::Event cap;
  cap.type = alert::EventType::capture_completed;
  cap.time = clock.now();
  cap.target = "app";
  cap.capture = alert::CaptureFigures{};
  cap.capture->archive_ids = {first.id, second.id};
  auto sent = (*alerter)->publish(cap);
  ASSERT_TRUE(sent);
  auto before = alert::webhook_payload(*sent)["capture"]["s3_objects"];
  ASSERT_EQ(before.size(), 2u) << before.dump();
  EXPECT_EQ(before[1]["upload"], "pending");
  EXPECT_NE(boto3_sha256(before[1]["key"].get<std::string>()).find("NoSuchKey"), std::string::npos);

  ASSERT_EQ(up->run_once(), 2) << up->stats().last_error;

  // After the upload, the next alert (a leak, which names the latest capture) says "uploaded", and
  // each key it names is an object in the bucket holding the archived bytes.
  alert::Event leak;
  leak.type = alert::EventType::leak_suspected;
  leak.time = clock.now();
  leak.target = "app";
  leak.leak = alert::LeakFigures{};
  sent = (*alerter)->publish(leak);
  ASSERT_TRUE(sent);
  auto payload = alert::webhook_payload(*sent);
  auto objects = payload["capture"]["s3_objects"];
  ASSERT_EQ(objects.size(), 2u) << payload.dump();
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& m = i == 0 ? first : second;
    EXPECT_EQ(objects[i]["upload"], "uploaded");
    EXPECT_EQ(objects[i]["url"], "s3://" + kBucket + "/" + objects[i]["key"].get<std::string>());
    EXPECT_EQ(boto3_sha256(objects[i]["key"]), file_sha256(archive_ / "app" / m.file));
    EXPECT_EQ(boto3_sha256(objects[i]["metadata_key"]),
              file_sha256(archive_ / "app" / (m.id.substr(4) + ".json")));
    EXPECT_TRUE(objects[i]["console_url"].is_null());  // an S3-compatible endpoint: no console
  }

  const std::string env = "env -u AWS_PROFILE AWS_ENDPOINT_URL=" + endpoint() +
                          " AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=" + kAkid +
                          " AWS_SECRET_ACCESS_KEY='" + kSecret + "' LEAKWATCH_S3_LIST_MAX_KEYS=2 " +
                          LEAKWATCH_BIN;
  int status = -1;
  auto json_out =
      test::run(env + " snapshots list --archive s3://" + kBucket + "/fleet --json", &status);
  ASSERT_EQ(status, 0) << json_out;
  auto listing = nlohmann::json::parse(json_out, nullptr, false);
  ASSERT_TRUE(listing.is_array()) << json_out;
  ASSERT_EQ(listing.size(), 2u) << json_out;
  EXPECT_EQ(listing[0]["cluster"], "prod");
  EXPECT_EQ(listing[0]["family"], "web-api");
  EXPECT_EQ(listing[0]["task"], "gone-task");
  EXPECT_EQ(listing[0]["target"], "app");
  EXPECT_EQ(listing[0]["complete"], true);
  const std::string id1 = listing[0]["id"], id2 = listing[1]["id"];
  // The alert's ids are the listing's.
  EXPECT_EQ(objects[0]["url"], id1);
  EXPECT_EQ(objects[1]["url"], id2);
  EXPECT_EQ(id1,
            "s3://" + kBucket +
                "/fleet/prod/web-api/gone-task/app/20261203T200000Z-leak-series-1of3.heapsnapshot");

  auto text = test::run(
      env + " snapshots list --archive s3://" + kBucket + "/fleet --task gone-task", &status);
  ASSERT_EQ(status, 0) << text;
  EXPECT_NE(text.find("cluster prod, family web-api"), std::string::npos) << text;
  EXPECT_NE(text.find("task gone-task, target app"), std::string::npos) << text;
  EXPECT_NE(text.find(id2), std::string::npos) << text;
  EXPECT_NE(text.find("2026-12-03 20:10:00"), std::string::npos) << text;

  // The diff the alert proposes, run from "a laptop", works on the objects it names.
  const std::string proposed = payload["capture"]["s3_diff_command"];
  ASSERT_EQ(proposed, "leakwatch diff " + id1 + " " + id2);
  auto diff = test::run(
      env + " diff --json" + proposed.substr(std::string("leakwatch diff").size()), &status);
  ASSERT_EQ(status, 0) << diff;
  auto rep = nlohmann::json::parse(diff, nullptr, false);
  ASSERT_TRUE(rep.is_object()) << diff.substr(0, 500);
  bool found = false;
  for (const auto& c : rep["classes"])
    if (c.value("name", "") == "LeakedThing") {
      found = true;
      EXPECT_EQ(c.value("delta_count", 0), 3000) << c.dump();
    }
  EXPECT_TRUE(found) << diff.substr(0, 500);
  EXPECT_EQ(proxy_stats()["rejected"], 0);
}

// `snapshots show|export` of an S3 snapshot: the metadata as the archive wrote it (with the task's
// identity), the snapshot downloaded through the signed client, decompressed and checked; a cut
// download, a corrupt object or metadata pointing elsewhere never leave a file that looks complete.
TEST_F(S3Peers, TheCliShowsAndExportsSnapshotsAndNeverLeavesAPartialFile) {
  archive::ArchiveSettings as;
  as.dir = archive_.string();
  as.identity.platform = "ecs";
  as.identity.cluster = "prod";
  as.identity.family = "web-api";
  as.identity.task_id = "gone-task";
  archive::Archive arch(as);
  ASSERT_TRUE(arch.open().ok());
  auto store = [&](int minute, archive::Compression c, const std::string& data) {
    auto when = core::from_unix_seconds(1'796'320'800 + minute * 60);  // 2026-12-03T18:00Z
    auto p = arch.begin("web", when, archive::Reason{}, c);
    EXPECT_TRUE(p.ok());
    EXPECT_TRUE((*p)->write(data).ok());
    archive::Metadata m;
    m.started_at = m.finished_at = when;
    auto done = (*p)->commit(m);
    EXPECT_TRUE(done.ok()) << (done.ok() ? "" : done.error().to_string());
    return *done;
  };
  std::string plain(3 << 20, '\0'), packed;
  std::mt19937_64 rng(7);
  for (auto& c : plain)
    c = static_cast<char>('a' + rng() % 16);
  for (int i = 0; i < 20000; ++i)
    packed += "{\"node\":" + std::to_string(i % 97) + "},";
  auto m1 = store(0, archive::Compression::none, plain);
  auto m2 = store(5, archive::Compression::zstd, packed);
  ASSERT_EQ(m2.file.substr(m2.file.size() - 4), ".zst");
  auto c = client(static_keys());
  auto up = uploader(c, "gone-task");
  up->enqueue(m1);
  up->enqueue(m2);
  ASSERT_EQ(up->run_once(), 2) << up->stats().last_error;
  const std::string key1 = up->keys_for(m1).first, key2 = up->keys_for(m2).first;
  const std::string url1 = "s3://" + kBucket + "/" + key1;

  const std::string env = "cd " + dir_.path().string() +
                          " && env -u AWS_PROFILE AWS_ENDPOINT_URL=" + endpoint() +
                          " AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=" + kAkid +
                          " AWS_SECRET_ACCESS_KEY='" + kSecret + "' " + LEAKWATCH_BIN;
  int status = -1;
  auto shown = test::run(env + " snapshots show " + url1, &status);
  ASSERT_EQ(status, 0) << shown;
  auto j = nlohmann::json::parse(shown, nullptr, false);
  ASSERT_TRUE(j.is_object()) << shown;
  EXPECT_EQ(j["sha256"], m1.sha256);
  EXPECT_EQ(j["identity"]["cluster"], "prod");
  EXPECT_EQ(j["identity"]["task_id"], "gone-task");
  EXPECT_EQ(j["url"], url1);

  auto dest = dir_.path() / "out";
  fs::create_directories(dest);
  auto partials = [&] {
    std::vector<std::string> names;
    for (auto& e : fs::directory_iterator(dest))
      if (e.path().filename().string().front() == '.') names.push_back(e.path().filename());
    return names;
  };
  // By s3:// id, plain.
  auto out = test::run(env + " snapshots export " + url1 + " -o out/one.heapsnapshot", &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(file_sha256(dest / "one.heapsnapshot"), m1.sha256);
  // By an id under --archive s3://bucket/prefix, stored zstd: written decompressed.
  std::string rel = key2.substr(std::string("fleet/").size());
  out = test::run(env + " snapshots export --archive s3://" + kBucket + "/fleet " +
                      rel.substr(0, rel.size() - std::string(".heapsnapshot.zst").size()) +
                      " -o out/two.heapsnapshot",
                  &status);
  ASSERT_EQ(status, 0) << out;
  auto two = core::read_file(dest / "two.heapsnapshot", 64 << 20);
  ASSERT_TRUE(two.ok());
  EXPECT_TRUE(*two == packed);
  // To stdout.
  EXPECT_EQ(sha256_hex(test::run(env + " snapshots export " + url1 + " -o -", &status)), m1.sha256);
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(partials().empty());

  // The connection cut in the middle of the body: an error, no file, no partial left.
  nlohmann::json f = {{"kind", "cut-body"}, {"count", 1}, {"match", key1}, {"method", "GET"}};
  test::run("curl -s -X POST --data '" + f.dump() + "' " + endpoint() + "/__control/fault");
  out = test::run(env + " snapshots export " + url1 + " -o out/cut.heapsnapshot 2>&1", &status);
  EXPECT_NE(status, 0) << out;
  EXPECT_FALSE(fs::exists(dest / "cut.heapsnapshot"));
  EXPECT_TRUE(partials().empty());
  EXPECT_GE(proxy_stats()["faults"].get<int>(), 1);

  // A replaced object of the same size: the SHA-256 check refuses it.
  std::string tampered = plain;
  tampered[12345] ^= 1;
  ASSERT_TRUE(c->put_object(key1, tampered).ok());
  out = test::run(env + " snapshots export " + url1 + " -o out/bad.heapsnapshot 2>&1", &status);
  EXPECT_EQ(WEXITSTATUS(status), 1) << out;
  EXPECT_NE(out.find("corrupt"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dest / "bad.heapsnapshot"));
  EXPECT_TRUE(partials().empty());

  // Metadata that names another file: refused before any download.
  auto meta_key = up->keys_for(m1).second;
  auto hostile = m1.to_json();
  hostile["file"] = "../../other/x.heapsnapshot";
  ASSERT_TRUE(c->put_object(meta_key, hostile.dump()).ok());
  out = test::run(env + " snapshots show " + url1 + " 2>&1", &status);
  EXPECT_EQ(WEXITSTATUS(status), 1) << out;
  EXPECT_NE(out.find("expected"), std::string::npos) << out;

  // Ids that are not ids; a key that does not exist.
  test::run(env + " snapshots show 's3://" + kBucket + "/fleet/../x' 2>&1", &status);
  EXPECT_EQ(WEXITSTATUS(status), 2);
  out = test::run(env + " snapshots show s3://" + kBucket + "/fleet/nope/x.heapsnapshot 2>&1",
                  &status);
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(out.find("NoSuchKey"), std::string::npos) << out;
  EXPECT_EQ(proxy_stats()["rejected"], 0);
}

}  // namespace

namespace {

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// Not a test: a measurement (run with --gtest_also_run_disabled_tests; LEAKWATCH_S3_BENCH_MIB sets
// the size, default 1024). Prints throughput and the RSS growth while uploading.
TEST_F(S3Peers, DISABLED_BenchUploadThroughputAndRss) {
  std::size_t mib = 1024;
  if (const char* v = std::getenv("LEAKWATCH_S3_BENCH_MIB")) mib = std::stoul(v);
  fs::create_directories(archive_ / "web");
  {
    std::ofstream f(archive_ / "web" / "bench.heapsnapshot", std::ios::binary);
    std::string block(1 << 20, '\0');
    std::mt19937_64 rng(7);
    for (std::size_t i = 0; i < mib; ++i) {
      for (auto& c : block)
        c = static_cast<char>(rng());
      f << block;
    }
  }
  archive::Metadata m;
  m.id = "web/bench";
  m.target = "web";
  m.file = "bench.heapsnapshot";
  std::ofstream(archive_ / "web" / "bench.json") << m.to_json().dump();
  auto up = uploader(client(static_keys()));
  long before = rss_kib();
  long peak = before;
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    while (!done) {
      peak = std::max(peak, rss_kib());
      std::this_thread::sleep_for(20ms);
    }
  });
  auto t0 = std::chrono::steady_clock::now();
  up->enqueue(m);
  int n = up->run_once();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  done = true;
  sampler.join();
  EXPECT_EQ(n, 1) << up->stats().last_error;
  std::printf(
      "uploaded %zu MiB in %.1f s: %.1f MiB/s; RSS before %ld KiB, peak %ld KiB, growth "
      "%.1f MiB\n",
      mib, secs, static_cast<double>(mib) / secs, before, peak,
      static_cast<double>(peak - before) / 1024.0);
}

}  // namespace
