// fedsyn-agent evaluate: the membership-inference and utility experiment on the site's own
// records (aggregates only; site_agent/evaluate.h).
#include <cstdio>
#include <string>
#include <vector>

#include "common/base/exit_codes.h"
#include "common/base/progress.h"
#include "common/data/table_io.h"
#include "site_agent/cli/agent_command.h"
#include "site_agent/evaluate.h"

namespace fedsyn::site::cli {
namespace {

class EvaluateCommand : public AgentCommand {
 public:
  void Define(CLI::App& cmd) override {
    EvaluateRequest& e = request_;
    cmd.add_option("--input", e.input_csvs, "CSV file(s) of records, pooled (tables)")
        ->check(CLI::ExistingFile);
    cmd.add_option("--schema", e.schema_path, "schema of the CSV files (its label is the target)")
        ->check(CLI::ExistingFile);
    cmd.add_option("--images", e.images_idx, "IDX images (28x28)")->check(CLI::ExistingFile);
    cmd.add_option("--labels", e.labels_idx, "IDX labels of the images")->check(CLI::ExistingFile);
    cmd.add_option("--max-images", e.max_images, "use only the first N images (0: all)")
        ->check(CLI::NonNegativeNumber);
    cmd.add_option("--name", e.name, "data set name for the report");
    cmd.add_option("--out", out_, "JSON report")->required();
    cmd.add_option("--members", e.members, "members (= non-members; attacker pool: twice)")
        ->check(CLI::PositiveNumber);
    cmd.add_option("--test", e.test, "test records")->check(CLI::PositiveNumber);
    cmd.add_option("--seeds", e.seeds, "seeds (splits, initialisation)")->delimiter(',');
    cmd.add_option("--epsilons", e.epsilons, "total epsilons")->delimiter(',');
    // Names only (CLI11's enum transformers would also take the enumerators' numbers).
    cmd.add_option("--methods", methods_, "real, dpsgd, paper, e2e")
        ->delimiter(',')
        ->check(CLI::IsMember({EvaluationMethodName(EvaluationMethod::kReal),
                               EvaluationMethodName(EvaluationMethod::kDpSgd),
                               EvaluationMethodName(EvaluationMethod::kPaper),
                               EvaluationMethodName(EvaluationMethod::kE2e)}));
    cmd.add_option("--delta", e.delta, "delta (default min(1e-6, 1/(10 members)))")
        ->check(CLI::PositiveNumber);
    cmd.add_option("--target", target_, "target model: logistic, mlp or cnn")
        ->check(CLI::IsMember({"logistic", "mlp", "cnn"}));
    cmd.add_option("--target-hidden", e.target_hidden, "hidden widths of the target")
        ->delimiter(',');
    cmd.add_option("--target-epochs", e.classifier.epochs, "epochs of target and shadow models")
        ->check(CLI::PositiveNumber);
    cmd.add_option("--shadow-models", e.shadow_models, "shadow / reference models")
        ->check(CLI::Range(2, 256));
    cmd.add_option("--dp-clip", e.dp_clip, "DP-SGD clipping norm")->check(CLI::PositiveNumber);
    cmd.add_option("--dp-batch-size", e.dp_batch, "DP-SGD expected batch size")
        ->check(CLI::PositiveNumber);
    cmd.add_option("--dp-epochs", e.dp_epochs, "DP-SGD epochs")->check(CLI::PositiveNumber);
    cmd.add_option("--dp-learning-rate", e.dp_learning_rate, "Adam step size under DP-SGD")
        ->check(CLI::PositiveNumber);
    cmd.add_option("--latent-dim", e.vae.latent_dim, "VAE latent dimension")
        ->check(CLI::Range(1, 4096));
    cmd.add_option("--hidden", e.vae.hidden, "VAE hidden widths")->delimiter(',');
    cmd.add_option("--vae-epochs", e.vae_epochs, "VAE epochs (in the clear; max)")
        ->check(CLI::PositiveNumber);
    cmd.add_option("--clip-radius", e.clip_radius, "clip radius R of latent codes")
        ->check(CLI::PositiveNumber);
    cmd.add_option("--bootstrap", e.bootstrap, "bootstrap resamples for confidence intervals")
        ->check(CLI::Range(0, 100000));
    cmd.add_option("--threads", e.classifier.threads, "compute threads (0 = all cores)")
        ->check(CLI::NonNegativeNumber);
  }

  int Run(CLI::App& app, AgentContext& context) override {
    if (app.count("--methods") > 0) {
      request_.methods.clear();
      for (const std::string& name : methods_)  // CLI11 has checked the names
        request_.methods.push_back(*ParseEvaluationMethod(name));
    }
    request_.target = target_ == "logistic" ? model::ClassifierArchitecture::kLinear
                      : target_ == "cnn"    ? model::ClassifierArchitecture::kCnn28
                                            : model::ClassifierArchitecture::kMlp;
    base::ConsoleProgress progress("evaluate", stderr);
    auto report = RunEvaluation(request_, context.secure, progress);
    if (!report.ok()) return Fail(report.status());
    if (absl::Status st = data::WriteFileAtomically(out_, report->ToJson().dump(1) + "\n");
        !st.ok()) {
      return Fail(st);
    }
    std::printf("%-7s %-5s  %-15s  %-22s  %-15s  %s\n", "METHOD", "EPS", "TEST ACCURACY",
                "STRONGEST ATTACK", "ATTACK AUC", "BALANCED ACC");
    for (const MethodSummary& m : report->summary) {
      if (m.strongest_attack.empty()) continue;  // no attack ran
      const AttackSummary& a = m.attacks.at(m.strongest_attack);
      std::printf("%-7s %-5s  %.3f +- %.3f    %-22s  %.3f +- %.3f    %.3f\n",
                  EvaluationMethodName(m.method),
                  m.epsilon ? nlohmann::json(*m.epsilon).dump().c_str() : "-", m.accuracy.mean,
                  m.accuracy.sd, m.strongest_attack.c_str(), a.auc.mean, a.auc.sd,
                  a.balanced_accuracy.mean);
    }
    std::printf("report: %s\n", out_.c_str());
    return base::kExitOk;
  }

 private:
  EvaluateRequest request_;
  std::vector<std::string> methods_;
  std::string target_ = "mlp", out_;
};

}  // namespace

std::unique_ptr<AgentCommand> MakeEvaluateCommand() { return std::make_unique<EvaluateCommand>(); }

}  // namespace fedsyn::site::cli
