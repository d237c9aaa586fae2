#include "lib/xml/xml.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace replex::xml {
namespace {

using ::testing::HasSubstr;

// Shaped like OpenMM's XmlSerializer output.
const char kSystem[] = R"(<?xml version="1.0" ?>
<System openmmVersion="7.7" type="System" version="1">
	<PeriodicBoxVectors>
		<A x="2" y="0" z="0"/>
	</PeriodicBoxVectors>
	<!-- a comment -->
	<Particles>
		<Particle mass='12.01'/>
		<Particle mass = "1.008" />
	</Particles>
</System>
)";

std::string MessageOf(const absl::StatusOr<Root>& root) {
  return std::string(root.status().message());
}

TEST(XmlTest, AcceptsSerializerOutputAndReturnsTheRoot) {
  absl::StatusOr<Root> root = CheckDocument(kSystem);
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->name, "System");
  EXPECT_EQ(root->attributes.at("type"), "System");
  EXPECT_EQ(root->attributes.at("openmmVersion"), "7.7");
}

TEST(XmlTest, EveryTruncationIsRefusedWithALine) {
  const std::string document = kSystem;
  // Every prefix that cuts into the root element (the last byte is '\n').
  const size_t root_end = document.rfind('>');
  for (size_t n = 0; n <= root_end; ++n) {
    absl::StatusOr<Root> root = CheckDocument(document.substr(0, n));
    EXPECT_EQ(root.status().code(), absl::StatusCode::kInvalidArgument)
        << "prefix of " << n << " bytes";
  }
  EXPECT_THAT(MessageOf(CheckDocument(
                  document.substr(0, document.find("<Particles>")))),
              HasSubstr("the document ends inside <System> opened on line 2"));
}

TEST(XmlTest, NamesWhatIsMalformed) {
  struct Case {
    const char* document;
    const char* message;
  };
  for (const Case& c : {
           Case{"<A b>", "line 1: <A> has a malformed attribute"},
           Case{"<A b=c/>", "attribute b of <A> has no quoted value"},
           Case{"<A>\n<B></A>",
                "line 2: </A> does not close <B> opened on "
                "line 2"},
           Case{"<A/></A>", "</A> closes nothing"},
           Case{"<A/><B/>", "<B> follows the root element"},
           Case{"<!DOCTYPE x><A/>", "DOCTYPE and CDATA"},
           Case{"<!-- a < b --><A/>", "a comment holds '<' or '>'"},
           Case{"<A b=\"<\"/>", "holds '<'; write &lt;"},
           Case{"< A/>", "'<' is not followed by an element name"},
           Case{"just text", "there is no root element"},
           Case{"", "there is no root element"},
       }) {
    absl::StatusOr<Root> root = CheckDocument(c.document);
    EXPECT_EQ(root.status().code(), absl::StatusCode::kInvalidArgument)
        << c.document;
    EXPECT_THAT(MessageOf(root), HasSubstr(c.message)) << c.document;
  }
}

// Deep nesting would overflow OpenMM's recursive reader in a worker: refused
// one level past kMaxDepth, accepted at it.
TEST(XmlTest, NestingDeeperThanTheLimitIsRefused) {
  auto nested = [](int depth) {
    std::string document;
    for (int i = 0; i < depth; ++i) document += "<A>";
    for (int i = 0; i < depth; ++i) document += "</A>";
    return document;
  };
  EXPECT_TRUE(CheckDocument(nested(kMaxDepth)).ok());
  absl::StatusOr<Root> deep = CheckDocument(nested(kMaxDepth + 1));
  EXPECT_EQ(deep.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(deep.status().message(), HasSubstr("nested more than 64 deep"));
  // A million levels (a hostile job) costs the check no recursion.
  EXPECT_FALSE(CheckDocument(nested(1000000)).ok());
}

}  // namespace
}  // namespace replex::xml
