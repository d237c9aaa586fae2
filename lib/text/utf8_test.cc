#include "lib/text/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace replex::text {
namespace {

// Errors quote inputs; what reaches a client is valid UTF-8 whatever they
// held.
TEST(ValidUtf8Test, KeepsValidTextAndReplacesEachInvalidByte) {
  EXPECT_EQ(ValidUtf8("plain"), "plain");
  EXPECT_EQ(ValidUtf8("300 \xE2\x84\xAB K \xF0\x9F\x98\x80"),
            "300 \xE2\x84\xAB K \xF0\x9F\x98\x80");
  EXPECT_EQ(ValidUtf8("a\xFF"
                      "b"),
            "a?b");
  EXPECT_EQ(ValidUtf8("\xC0\xAF"), "??");            // overlong '/'
  EXPECT_EQ(ValidUtf8("\xED\xA0\x80"), "???");       // a surrogate
  EXPECT_EQ(ValidUtf8("end\xE2\x84"), "end??");      // truncated
  EXPECT_EQ(ValidUtf8("\xF4\x90\x80\x80"), "????");  // past U+10FFFF
  EXPECT_TRUE(IsValidUtf8("300 \xE2\x84\xAB"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));
}

TEST(ShownTest, QuotesAtMost40PrintableBytes) {
  EXPECT_EQ(Shown("a b"), "\"a b\"");
  EXPECT_EQ(Shown("a\nb\xff"), "\"a?b?\"");
  EXPECT_EQ(Shown(std::string(41, 'x')), "\"" + std::string(40, 'x') + "...\"");
}

}  // namespace
}  // namespace replex::text
