// attnlab/core/timer.hpp — wall-clock timing for result envelopes and benchmarks.
//
// Usage:
//   Timer t;  ...;  double s = t.seconds();
//   Timings timings;  { auto scope = timings.scope("forward"); ... }  // adds elapsed seconds
#pragma once

#include <chrono>
#include <map>
#include <string>

namespace attnlab {

class Timer {
 public:
  Timer() : start_(std::chrono::steady_clock::now()) {}
  void reset() { start_ = std::chrono::steady_clock::now(); }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// Named wall-clock totals in seconds (accumulated when a name is timed twice).
class Timings {
 public:
  class Scope {
   public:
    Scope(Timings& owner, std::string name) : owner_(owner), name_(std::move(name)) {}
    ~Scope() { owner_.add(name_, timer_.seconds()); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Timings& owner_;
    std::string name_;
    Timer timer_;
  };

  Scope scope(std::string name) { return Scope(*this, std::move(name)); }
  void add(const std::string& name, double seconds) { totals_[name] += seconds; }
  const std::map<std::string, double>& totals() const { return totals_; }

 private:
  std::map<std::string, double> totals_;
};

}  // namespace attnlab
