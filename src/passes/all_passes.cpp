// The passes in the order the manager runs them each round.
#include "passes/pass.h"

namespace kiln::passes {

std::unique_ptr<Pass> make_constant_folding();
std::unique_ptr<Pass> make_identity_elimination();
std::unique_ptr<Pass> make_neutral_element_elimination();
std::unique_ptr<Pass> make_dead_node_elimination();
std::unique_ptr<Pass> make_batchnorm_folding();
std::unique_ptr<Pass> make_patch_conv();
std::unique_ptr<Pass> make_conv_add_merge();
std::unique_ptr<Pass> make_gelu_fusion();
std::unique_ptr<Pass> make_layernorm_fusion();
std::unique_ptr<Pass> make_unbind_pushdown();
std::unique_ptr<Pass> make_movement_collapse();
std::unique_ptr<Pass> make_transpose_motion();
std::unique_ptr<Pass> make_attention_fusion();
std::unique_ptr<Pass> make_bias_fusion();
std::unique_ptr<Pass> make_residual_fusion();
std::unique_ptr<Pass> make_activation_fusion();
std::unique_ptr<Pass> make_gather_hoisting();
std::unique_ptr<Pass> make_elementwise_chain_fusion();

std::vector<std::unique_ptr<Pass>> make_all_passes() {
  std::vector<std::unique_ptr<Pass>> p;
  p.push_back(make_constant_folding());
  p.push_back(make_identity_elimination());
  // After folding (HF BERT's all-zero mask becomes a constant there), before attention-fusion.
  p.push_back(make_neutral_element_elimination());
  p.push_back(make_dead_node_elimination());
  p.push_back(make_batchnorm_folding());
  // After BatchNorm folding, so a folded patch convolution still becomes a product.
  p.push_back(make_patch_conv());
  // After BatchNorm folding (the projection block's convolutions then carry their bias), before
  // residual fusion would take the Add as a residual.
  p.push_back(make_conv_add_merge());
  // Multi-node patterns before the epilogue fusions, so kiln::Gelu can join a MatMul.
  p.push_back(make_gelu_fusion());
  p.push_back(make_layernorm_fusion());
  // ViT's qkv Transpose -> Split/Squeeze (or Gather): per-slice Gathers whose head-split
  // Transposes attention-fusion then absorbs.
  p.push_back(make_unbind_pushdown());
  // Transposes that keep the last axis move across row-wise products to where they vanish.
  p.push_back(make_transpose_motion());
  // Chains of reshapes, transposes and gathers -> the fewest copies (torch 2.11's ViT qkv split).
  p.push_back(make_movement_collapse());
  // Attention before bias/residual/elementwise-chain: it needs no static shapes, so it claims
  // the scores' Div/Mul and Add(mask) in the first round, before the chain fusion can.
  p.push_back(make_attention_fusion());
  p.push_back(make_bias_fusion());
  p.push_back(make_residual_fusion());
  p.push_back(make_activation_fusion());
  // After the fusions (a Gather it moves would split their patterns); each round moves a Gather
  // one node further up, since the values it creates get their shapes between rounds.
  p.push_back(make_gather_hoisting());
  // Last: only what no pattern above claimed.
  p.push_back(make_elementwise_chain_fusion());
  return p;
}

}  // namespace kiln::passes
