// The fleet listing's grouping of keys, and ListObjectsV2 pages as hostile input.
#include <gtest/gtest.h>

#include "leakwatch/s3/client.h"
#include "leakwatch/s3/fetch.h"
#include "leakwatch/s3/fleet.h"

using namespace leakwatch::s3;

namespace {

ObjectInfo obj(const std::string& key, std::uint64_t size = 10) {
  ObjectInfo o;
  o.key = key;
  o.size = size;
  o.last_modified = "2026-12-03T19:00:01.000Z";
  return o;
}

TEST(Fleet, GroupsByClusterFamilyTaskTargetAndPairsTheMetadata) {
  std::vector<ObjectInfo> objects = {
      obj("lw/prod/web/t2/app/20261203T180000Z-manual.heapsnapshot.zst"),
      obj("lw/prod/web/t2/app/20261203T180000Z-manual.json"),
      obj("lw/prod/web/t1/app/20261203T190000Z-leak-series-2of3.heapsnapshot"),
      obj("lw/prod/web/t1/app/20261203T180000Z-leak-series-1of3.heapsnapshot"),
      obj("lw/prod/web/t1/app/20261203T180000Z-leak-series-1of3.json"),
      obj("lw/dev/api/host1/app/odd-name.heapsnapshot"),
      obj("lw/README.txt"),                             // outside the layout
      obj("lw/prod/web/t1/app/notes.txt"),              // not a snapshot
      obj("lw/prod/web/t9/app/20261203T170000Z.json"),  // metadata without its snapshot
      obj("lw/prod//t1/app/x.heapsnapshot"),            // an empty segment
  };
  auto l = group_fleet(objects);
  ASSERT_EQ(l.snapshots.size(), 4u);
  EXPECT_EQ(l.other_objects, 4u);
  EXPECT_EQ(l.snapshots[0].cluster, "dev");
  EXPECT_EQ(l.snapshots[0].taken, "2026-12-03 19:00:01");  // no time in the stem: LastModified
  EXPECT_EQ(l.snapshots[0].reason, "odd-name");
  const auto& first = l.snapshots[1];
  EXPECT_EQ(first.task, "t1");
  EXPECT_EQ(first.stem, "20261203T180000Z-leak-series-1of3");
  EXPECT_EQ(first.taken, "2026-12-03 18:00:00");
  EXPECT_EQ(first.reason, "leak-series-1of3");
  EXPECT_EQ(first.metadata_key, "lw/prod/web/t1/app/20261203T180000Z-leak-series-1of3.json");
  EXPECT_EQ(first.id("b-1"),
            "s3://b-1/lw/prod/web/t1/app/20261203T180000Z-leak-series-1of3.heapsnapshot");
  EXPECT_EQ(l.snapshots[2].stem, "20261203T190000Z-leak-series-2of3");
  EXPECT_TRUE(l.snapshots[2].metadata_key.empty());  // still uploading
  EXPECT_EQ(l.snapshots[3].task, "t2");
  EXPECT_EQ(l.snapshots[3].metadata_key, "lw/prod/web/t2/app/20261203T180000Z-manual.json");

  auto only = group_fleet(objects, FleetFilter{"prod", "", "t2", "app"});
  ASSERT_EQ(only.snapshots.size(), 1u);
  EXPECT_EQ(only.snapshots[0].task, "t2");
  // Without a prefix the layout is read from the right all the same.
  auto bare = group_fleet({obj("c/f/t/app/20261203T180000Z-x.heapsnapshot")});
  ASSERT_EQ(bare.snapshots.size(), 1u);
  EXPECT_EQ(bare.snapshots[0].cluster, "c");
  EXPECT_EQ(group_fleet({obj("f/t/app/20261203T180000Z-x.heapsnapshot")}).snapshots.size(), 0u);
}

TEST(ListPage, ParsesContentsTokenAndTruncation) {
  auto p = parse_list_page(
      R"(<?xml version="1.0" encoding="UTF-8"?>)"
      R"(<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>)"
      R"(<Contents><Key>a/b&amp;c.json</Key><Size>42</Size><LastModified>2026-12-03T18:00:00Z)"
      R"(</LastModified><ETag>"e"</ETag></Contents><Contents><Key>x</Key><Size>-1</Size></Contents>)"
      R"(<IsTruncated>true</IsTruncated><NextContinuationToken>tok/=</NextContinuationToken>)"
      R"(</ListBucketResult>)");
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  ASSERT_EQ(p->objects.size(), 2u);
  EXPECT_EQ(p->objects[0].key, "a/b&c.json");
  EXPECT_EQ(p->objects[0].size, 42u);
  EXPECT_EQ(p->objects[1].size, 0u);  // not a number: 0, no exception
  EXPECT_TRUE(p->truncated);
  EXPECT_EQ(p->next_token, "tok/=");
}

TEST(ListPage, HostileBodiesAreErrorsNotCrashes) {
  // Nesting deep enough to exhaust the stack of a recursive parser.
  std::string deep = "<ListBucketResult>";
  for (int i = 0; i < 200000; ++i)
    deep += "<a>";
  EXPECT_EQ(parse_list_page(deep).error().code, leakwatch::core::Errc::protocol);
  // Closing tags hidden in comments, CDATA or attribute values do not hide the depth.
  // Well-formed, 17 deep; a scan fooled by the six hidden closes would count 11.
  std::string hidden = "<ListBucketResult><!-- </x></x></x> --><![CDATA[</y></y>]]><z q='</z>'>";
  for (int i = 0; i < 15; ++i)
    hidden += "<a>";
  for (int i = 0; i < 15; ++i)
    hidden += "</a>";
  hidden += "</z></ListBucketResult>";
  EXPECT_FALSE(parse_list_page(hidden).ok());
  EXPECT_TRUE(parse_list_page("<ListBucketResult><z><a><a></a></a></z></ListBucketResult>").ok());
  // Entity declarations are refused outright.
  EXPECT_FALSE(parse_list_page("<!DOCTYPE x [<!ENTITY a \"aaaa\">]><ListBucketResult>&a;"
                               "</ListBucketResult>")
                   .ok());
  EXPECT_FALSE(parse_list_page("").ok());
  EXPECT_FALSE(parse_list_page("not xml at all \xff\xfe").ok());
  EXPECT_FALSE(parse_list_page("<Other/>").ok());
  EXPECT_FALSE(parse_list_page("</a></a><ListBucketResult>").ok());
  // A key longer than S3 allows is dropped, the rest of the page kept.
  auto p =
      parse_list_page("<ListBucketResult><Contents><Key>" + std::string(5000, 'k') +
                      "</Key></Contents><Contents><Key>ok</Key></Contents></ListBucketResult>");
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->objects.size(), 1u);
  EXPECT_EQ(p->objects[0].key, "ok");
  EXPECT_EQ(p->entries, 2u);
}

}  // namespace

// ---- snapshot ids for `snapshots show|export` -----------------------------------------------

TEST(SnapshotRef, EveryIdFormTheListingPrintsNamesTheSameSnapshot) {
  const std::string dir = "fleet/prod/web-api/0123abcd/web";
  const std::string stem = "20261203T180000Z-leak-series-1of3";
  for (const std::string& id : std::vector<std::string>{
           "s3://b-1/" + dir + "/" + stem + ".heapsnapshot",
           "s3://b-1/" + dir + "/" + stem + ".heapsnapshot.zst",
           "s3://b-1/" + dir + "/" + stem + ".json", "s3://b-1/" + dir + "/" + stem}) {
    auto r = leakwatch::s3::snapshot_ref(id);
    ASSERT_TRUE(r.ok()) << id << ": " << r.error().to_string();
    EXPECT_EQ(r->bucket, "b-1");
    EXPECT_EQ(r->dir, dir);
    EXPECT_EQ(r->stem, stem);
    EXPECT_EQ(r->metadata_key(), dir + "/" + stem + ".json");
  }
  auto rel = leakwatch::s3::snapshot_ref("prod/web-api/0123abcd/web/" + stem, "s3://b-1/fleet/");
  ASSERT_TRUE(rel.ok()) << rel.error().to_string();
  EXPECT_EQ(rel->dir, dir);
  EXPECT_EQ(rel->url_of(stem + ".heapsnapshot"), "s3://b-1/" + dir + "/" + stem + ".heapsnapshot");
  auto root = leakwatch::s3::snapshot_ref("web/" + stem, "s3://b-1");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->dir, "web");
}

TEST(SnapshotRef, HostileIdsAreRefused) {
  for (const std::string& id : std::vector<std::string>{
           "s3://b-1/a/../x.json", "s3://b-1/a//x", "s3://b-1/./x", "s3://b-1/", "s3://B/x",
           "s3://b-1/a\nb", "s3://b-1/" + std::string(2000, 'k')}) {
    auto r = leakwatch::s3::snapshot_ref(id);
    EXPECT_FALSE(r.ok()) << id;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, leakwatch::core::Errc::invalid_id) << id;
    }
  }
  EXPECT_FALSE(leakwatch::s3::snapshot_ref("web/x").ok());  // no archive to be under
  EXPECT_FALSE(leakwatch::s3::snapshot_ref("/web/x", "s3://b-1/p").ok());
  EXPECT_FALSE(leakwatch::s3::snapshot_ref("../x", "s3://b-1/p").ok());
}
