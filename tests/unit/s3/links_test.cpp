// Uploader::link: the S3 object an alert names for an archive id, without the network: the queued
// job's keys ("pending"), a dropped job ("not_uploaded"), a capture this daemon never queued (the
// layout applied to the local snapshot file, "unknown"), and ids it must not resolve.
#include <gtest/gtest.h>

#include <fstream>

#include "leakwatch/s3/uploader.h"
#include "support/temp_dir.h"

using namespace leakwatch;
using namespace leakwatch::s3;
namespace fs = std::filesystem;

namespace {

struct Fixture {
  leakwatch::testing::UniqueTempDir dir{"lw-s3-links"};
  std::unique_ptr<Uploader> up;

  explicit Fixture(const std::string& endpoint = {}) {
    archive::S3ArchiveSettings s;
    s.bucket = "my-bucket";
    s.prefix = "leakwatch";
    s.region = "eu-west-1";
    s.endpoint = endpoint;
    UploaderOptions o;
    o.s3 = s;
    o.archive_dir = dir.path() / "archive";
    o.queue_dir = dir.path() / "queue";
    o.identity.cluster = "prod";
    o.identity.family = "web-api";
    o.identity.task_id = "5f2c9d0e";
    // Never started and never asked to send: no request leaves the process.
    auto client = std::make_shared<Client>(client_options(s, o.identity),
                                           std::make_shared<CredentialsProvider>());
    up = std::make_unique<Uploader>(o, client);
  }
  archive::Metadata capture(const std::string& stem, const std::string& ext) {
    fs::create_directories(dir.path() / "archive" / "web");
    std::ofstream(dir.path() / "archive" / "web" / (stem + ext)) << "{}";
    std::ofstream(dir.path() / "archive" / "web" / (stem + ".json")) << "{}";
    archive::Metadata m;
    m.id = "web/" + stem;
    m.target = "web";
    m.file = stem + ext;
    return m;
  }
};

const std::string kDir = "leakwatch/prod/web-api/5f2c9d0e/web/";

}  // namespace

TEST(UploaderLink, AQueuedCaptureIsPendingUnderTheKeysItsJobUploadsTo) {
  Fixture f;
  auto m = f.capture("20261203T180000Z-leak-series-1of3", ".heapsnapshot.zst");
  f.up->enqueue(m);
  auto l = f.up->link(m.id);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->state, UploadState::pending);
  EXPECT_EQ(l->key, f.up->keys_for(m).first);
  EXPECT_EQ(l->key, kDir + "20261203T180000Z-leak-series-1of3.heapsnapshot.zst");
  EXPECT_EQ(l->metadata_key, kDir + "20261203T180000Z-leak-series-1of3.json");
  EXPECT_EQ(l->url(), "s3://my-bucket/" + l->key);
  EXPECT_EQ(l->console_url,
            "https://eu-west-1.console.aws.amazon.com/s3/object/my-bucket"
            "?region=eu-west-1&prefix=" +
                l->key);
}

TEST(UploaderLink, ADroppedJobIsNotUploaded) {
  Fixture f;
  auto m = f.capture("20261203T180000Z-manual", ".heapsnapshot");
  f.up->enqueue(m);
  fs::remove_all(f.dir.path() / "archive");  // retention removed it before the upload
  EXPECT_EQ(f.up->run_once(), 0);
  EXPECT_EQ(f.up->stats().dropped, 1u);
  auto l = f.up->link(m.id);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->state, UploadState::not_uploaded);
  EXPECT_EQ(l->key, kDir + "20261203T180000Z-manual.heapsnapshot");
  EXPECT_EQ(l->console_url, "");  // no page for an object that will never exist
}

TEST(UploaderLink, ACaptureNeverQueuedIsUnknownAndNamedAfterItsLocalFile) {
  Fixture f("http://127.0.0.1:9");
  auto zst = f.capture("20261203T170000Z-manual", ".heapsnapshot.zst");
  auto plain = f.capture("20261203T171000Z-manual", ".heapsnapshot");
  auto l = f.up->link(zst.id);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->state, UploadState::unknown);
  EXPECT_EQ(l->key, kDir + "20261203T170000Z-manual.heapsnapshot.zst");
  EXPECT_EQ(l->console_url, "");  // an S3-compatible endpoint has no AWS console
  ASSERT_TRUE(f.up->link(plain.id));
  EXPECT_EQ(f.up->link(plain.id)->key, kDir + "20261203T171000Z-manual.heapsnapshot");
  // Not in the archive, or not an archive id: nothing is invented.
  for (const std::string& id :
       std::vector<std::string>{"web/20261203T000000Z-manual", "", "web", "/x", "web/", "web/a/b",
                                "../web/x", "web/..", "web/x\n", std::string("web/x\0y", 7)})
    EXPECT_FALSE(f.up->link(id)) << id;
}
