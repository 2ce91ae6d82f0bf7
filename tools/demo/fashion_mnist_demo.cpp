// kiln-demo: classifies the Fashion-MNIST test set with the committed CNN
// (models/fashion_mnist/model.onnx) on Kiln's CPU interpreter, and checks the accuracy against
// the one PyTorch measured when training (models/fashion_mnist/metrics.json).
// Exit code 0: accuracy within 0.1 points of the recorded one; 1: error or mismatch.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "backends/cpu/interpreter.h"
#include "io/idx.h"
#include "onnx/importer.h"

namespace {

using namespace kiln;

constexpr int64_t kSide = 28;
constexpr int64_t kClasses = 10;
constexpr double kTolerancePoints = 0.1;

struct Options {
  std::string model = KILN_SOURCE_DIR "/models/fashion_mnist/model.onnx";
  std::string metrics = KILN_SOURCE_DIR "/models/fashion_mnist/metrics.json";
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  int64_t limit = 10000;
  int64_t batch = 100;
};

struct TestSet {
  Tensor images;  // uint8 [n, 28, 28]
  Tensor labels;  // uint8 [n]
};

Result<TestSet> load_test_set(const std::string& dir) {
  KILN_ASSIGN_OR_RETURN(Tensor images, io::read_idx(dir + "/t10k-images-idx3-ubyte.gz"));
  KILN_ASSIGN_OR_RETURN(Tensor labels, io::read_idx(dir + "/t10k-labels-idx1-ubyte.gz"));
  if (images.rank() != 3 || images.dim(1) != kSide || images.dim(2) != kSide)
    return invalid_argument("the test images have dims " + dims_to_string(images.dims()) + ", expected [n,28,28]");
  if (labels.rank() != 1 || labels.dim(0) != images.dim(0))
    return invalid_argument("the test labels have dims " + dims_to_string(labels.dims()) + " for " +
                            std::to_string(images.dim(0)) + " images");
  for (int64_t i = 0; i < labels.numel(); ++i)
    if (labels.data<uint8_t>()[i] >= kClasses)
      return invalid_argument("test label " + std::to_string(i) + " is " +
                              std::to_string(labels.data<uint8_t>()[i]) + ", not a class 0-9");
  return TestSet{std::move(images), std::move(labels)};
}

// The preprocessing of train.py: float32 NCHW [count,1,28,28], pixel / 255.
Tensor make_batch(const Tensor& images, int64_t start, int64_t count) {
  Tensor batch(DataType::kFloat32, {count, 1, kSide, kSide});
  const uint8_t* src = images.data<uint8_t>() + start * kSide * kSide;
  float* dst = batch.data<float>();
  for (int64_t i = 0; i < batch.numel(); ++i) dst[i] = static_cast<float>(src[i]) / 255.0f;
  return batch;
}

Result<int64_t> count_correct(const Tensor& logits, const Tensor& labels, int64_t start, int64_t count) {
  if (logits.dtype() != DataType::kFloat32 || logits.dims() != std::vector<int64_t>{count, kClasses})
    return invalid_argument("the model returned " + logits.describe() + ", expected float32[" +
                            std::to_string(count) + ",10]");
  int64_t correct = 0;
  for (int64_t i = 0; i < count; ++i) {
    const float* row = logits.data<float>() + i * kClasses;
    int64_t best = 0;
    for (int64_t c = 1; c < kClasses; ++c)
      if (row[c] > row[best]) best = c;
    correct += best == labels.data<uint8_t>()[start + i];
  }
  return correct;
}

struct Evaluation {
  int64_t images = 0;
  int64_t correct = 0;
  double seconds = 0;
  double accuracy() const { return images ? 100.0 * static_cast<double>(correct) / static_cast<double>(images) : 0; }
};

Result<Evaluation> evaluate(const cpu::Interpreter& interp, const TestSet& test, int64_t limit, int64_t batch) {
  Evaluation ev;
  ev.images = std::min(limit, test.images.dim(0));
  auto start_time = std::chrono::steady_clock::now();
  int64_t next_report = 0;
  for (int64_t start = 0; start < ev.images; start += batch) {
    const int64_t count = std::min(batch, ev.images - start);
    auto outputs = interp.run(std::vector<RuntimeValue>{make_batch(test.images, start, count)});
    if (!outputs.is_ok()) return outputs.status().with_context("images " + std::to_string(start) + "..");
    if (outputs->size() != 1 || !(*outputs)[0].is_tensor()) return invalid_argument("the model must have one tensor output");
    KILN_ASSIGN_OR_RETURN(int64_t correct, count_correct((*outputs)[0].tensor(), test.labels, start, count));
    ev.correct += correct;
    if (start + count >= next_report || start + count == ev.images) {
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
      std::printf("  %6lld / %lld images  accuracy so far %6.2f%%  %7.0f images/s\n",
                  static_cast<long long>(start + count), static_cast<long long>(ev.images),
                  100.0 * static_cast<double>(ev.correct) / static_cast<double>(start + count),
                  static_cast<double>(start + count) / std::max(s, 1e-9));
      std::fflush(stdout);
      next_report = start + count + std::max<int64_t>(ev.images / 10, batch);
    }
  }
  ev.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
  return ev;
}

// The accuracy train.py recorded for the first `images` test images, if it recorded one.
Result<std::optional<double>> recorded_accuracy(const std::string& path, int64_t images) {
  std::ifstream in(path);
  if (!in) return io_error("cannot open '" + path + "'");
  auto json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return invalid_argument("'" + path + "' is not valid JSON");
  const char* key = images == 10000 ? "test_accuracy_percent"
                    : images == 1000 ? "first_1000_accuracy_percent"
                                     : nullptr;
  if (!key) return std::optional<double>();
  if (!json.contains(key) || !json[key].is_number()) return invalid_argument("'" + path + "' has no number '" + key + "'");
  return std::optional<double>(json[key].get<double>());
}

int fail(const Status& st) {
  std::fprintf(stderr, "kiln-demo: error: %s\n", st.message().c_str());
  return 1;
}

int run_demo(const Options& o) {
  std::printf("Kiln Fashion-MNIST demo\n  model  %s\n  data   %s\n", o.model.c_str(), o.data_dir.c_str());
  auto test = load_test_set(o.data_dir);
  if (!test.is_ok()) return fail(test.status());
  auto model = importer::import_model_file(o.model);
  if (!model.is_ok()) return fail(model.status());
  auto interp = cpu::Interpreter::create(model->graph);
  if (!interp.is_ok()) return fail(interp.status());
  std::printf("running %lld test images on the CPU interpreter in batches of %lld\n",
              static_cast<long long>(std::min(o.limit, test->images.dim(0))), static_cast<long long>(o.batch));
  auto ev = evaluate(**interp, *test, o.limit, o.batch);
  if (!ev.is_ok()) return fail(ev.status());
  std::printf("accuracy   %.2f%% (%lld / %lld)\n", ev->accuracy(), static_cast<long long>(ev->correct),
              static_cast<long long>(ev->images));
  std::printf("throughput %.0f images/s (%.2f s)\n", static_cast<double>(ev->images) / std::max(ev->seconds, 1e-9),
              ev->seconds);
  auto recorded = recorded_accuracy(o.metrics, ev->images);
  if (!recorded.is_ok()) return fail(recorded.status());
  if (!*recorded) {
    std::printf("metrics.json records no accuracy for %lld images: not compared\n", static_cast<long long>(ev->images));
    return 0;
  }
  const double diff = std::fabs(ev->accuracy() - **recorded);
  std::printf("PyTorch    %.2f%% (metrics.json)  difference %.2f points\n", **recorded, diff);
  if (diff > kTolerancePoints + 1e-9) {
    std::fprintf(stderr, "kiln-demo: error: accuracy differs from PyTorch's by %.2f points (more than %.1f)\n", diff,
                 kTolerancePoints);
    return 1;
  }
  std::printf("OK: matches PyTorch within %.1f points\n", kTolerancePoints);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Kiln demo: Fashion-MNIST classification on the CPU interpreter"};
  Options o;
  app.add_option("--model", o.model, "model.onnx");
  app.add_option("--metrics", o.metrics, "metrics.json written by train.py");
  app.add_option("--data-dir", o.data_dir, "folder with t10k-{images-idx3,labels-idx1}-ubyte.gz");
  app.add_option("--limit", o.limit, "evaluate the first N test images")->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  app.add_option("--batch", o.batch, "images per run")->check(CLI::Range(1, 10000));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }
  try {
    return run_demo(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln-demo: error: %s\n", e.what());
    return 1;
  }
}
