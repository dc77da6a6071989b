#include "tests/e2e/gateway/overseas_column.hpp"

#include <gtest/gtest.h>

#include <iostream>

namespace cordon::test::e2e {

std::map<std::string, std::vector<ReceivedFrame>> expectOverseasColumn(const GatewayRun& run,
                                                                      const OverseasExpectations& expected) {
  OverseasVerdict verdict =
      judgeOverseasColumn({run.captured(BrokerRole::Overseas), run.clientIds(BrokerRole::Overseas)}, expected);
  for (const std::string& failure : verdict.failures) ADD_FAILURE() << failure;
  for (const std::string& note : verdict.notes) std::cout << "[ overseas ] " << note << "\n";
  return std::move(verdict.frames);
}

}  // namespace cordon::test::e2e
